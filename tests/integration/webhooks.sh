#!/usr/bin/env bash
# ecrd --webhook: a skopeo push arrives as a signed "ECR Image Action" PUSH event at a
# real HTTP receiver (python3 http.server) that answers 500 to its first request (so the
# delivery is retried), a manifest DELETE arrives as a DELETE event, and a second webhook
# whose receiver never answers does not slow the push down.
#
#   webhooks.sh path/to/ecrd
set -uo pipefail

ECRD=${1:?usage: webhooks.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
integ_tap_plain

integ_need_packages curl skopeo python3 || exit 1
integ_need_tools curl skopeo python3 || exit 1

WORK=$(mktemp -d /tmp/integ-webhooks.XXXXXX)
PIDS=()
ECRD_PID=
cleanup() {
	integ_stop "$ECRD_PID" >/dev/null
	for p in "${PIDS[@]}"; do integ_stop "$p" >/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The receiver: every POST saved as N.json with its signature in N.sig; the first answered 500.
mkdir -p "$WORK/got"
python3 - "$WORK/got" "$WORK/port" <<'EOF' >"$WORK/receiver.log" 2>&1 &
import http.server, os, sys
d, portfile = sys.argv[1], sys.argv[2]
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        n[0] += 1
        if n[0] == 1:
            self.send_response(500); self.end_headers(); return
        i = len(os.listdir(d)) // 2
        open(os.path.join(d, "%d.sig" % i), "w").write(self.headers.get("X-Ecr-Signature", ""))
        open(os.path.join(d, "%d.json" % i), "wb").write(body)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1])); os.rename(portfile + ".tmp", portfile)
s.serve_forever()
EOF
PIDS+=($!)
# The stalled receiver: accepts connections, never answers.
python3 - "$WORK/stallport" <<'EOF' >/dev/null 2>&1 &
import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept(); held.append(c)
EOF
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/port" ] && [ -s "$WORK/stallport" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/port")
STALLPORT=$(cat "$WORK/stallport")
printf 'webhook-secret-%s\n' "$$" >"$WORK/secret"

mkdir -p "$WORK/data"
integ_start_ecrd "$ECRD" "$WORK/data" "$WORK/ecrd.log" --webhook "http://127.0.0.1:$PORT/hook" \
	--webhook "http://127.0.0.1:$STALLPORT/stalled" --webhook-secret-file "$WORK/secret" || exit 1
BASE=127.0.0.1:$ECRD_PORT

DIGEST=$(integ_make_layout tar-kib "$WORK/layout" v1 64 16)
t0=$(now_ms)
if skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:v1" "docker://$BASE/hooked/app:v1" >"$WORK/skopeo.log" 2>&1
then ok "skopeo push"; else notok "skopeo push: $(tail -n 3 "$WORK/skopeo.log")"; fi
t1=$(now_ms)
echo "# push took $((t1 - t0)) ms with one webhook receiver stalled (webhook timeout 10000 ms)"
check "the stalled receiver did not slow the push (< 5 s)" "[ $((t1 - t0)) -lt 5000 ]"

# 100 manifest PUTs (a new tag each: each raises a PUSH event) while one receiver holds every request:
# no request waits for the webhook (whose timeout is 10 s).
python3 - "$BASE" "$WORK/lat" <<'PYEOF'
import hashlib, http.client, json, sys, time
host, port = sys.argv[1].split(":")
c = http.client.HTTPConnection(host, int(port), timeout=30)
def req(method, path, body=b"", headers={}):
    c.request(method, path, body=body, headers=headers); r = c.getresponse(); r.read(); return r
cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
d = "sha256:" + hashlib.sha256(cfg).hexdigest()
layer = b"webhook latency layer"
ld = "sha256:" + hashlib.sha256(layer).hexdigest()
for digest, data in ((d, cfg), (ld, layer)):
    r = req("POST", "/v2/hooked/lat/blobs/uploads/?digest=" + digest, data, {"Content-Type": "application/octet-stream"})
    assert r.status == 201, r.status
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d, "size": len(cfg)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
lat = []
for i in range(100):
    t = time.monotonic()
    r = req("PUT", "/v2/hooked/lat/manifests/t%d" % i, m, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    lat.append((time.monotonic() - t) * 1000)
    assert r.status == 201, r.status
lat.sort()
open(sys.argv[2], "w").write("%.1f %.1f %.1f\n" % (lat[49], lat[98], lat[99]))
PYEOF
[ -s "$WORK/lat" ] || echo "# latency run failed"
read -r p50 p99 pmax <"$WORK/lat" 2>/dev/null || { p50=- p99=- pmax=99999; }
echo "# manifest PUT latency with one webhook receiver stalled: p50 $p50 ms, p99 $p99 ms, max $pmax ms"
check "no manifest PUT waited for the stalled receiver (max $pmax ms < 2000)" "awk 'BEGIN { exit !($pmax < 2000) }'"

PUSHED=$(curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$BASE/v2/hooked/app/manifests/v1" |
	tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }')
echo "# layout manifest $DIGEST, pushed as $PUSHED"
DIGEST=$PUSHED
code=$(curl -s -o "$WORK/delete.out" -w "%{http_code}" -X DELETE "http://$BASE/v2/hooked/app/manifests/$DIGEST")
check "manifest DELETE answered 202 (got $code)" "[ $code = 202 ]"

# Wait for both events (the first POST got a 500: the PUSH is a retry, after a backoff, and retries do not hold
# back later deliveries, so the DELETE may come first): the check is repeated for up to 30 s.
cat >"$WORK/verify.py" <<'EOF'
import hashlib, hmac, json, os, sys
d, secret, digest = sys.argv[1], open(sys.argv[2]).read().strip(), sys.argv[3]
events = {}
for f in sorted(os.listdir(d)):
    if not f.endswith(".json"): continue
    body = open(os.path.join(d, f), "rb").read()
    sig = open(os.path.join(d, f[:-5] + ".sig")).read()
    want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert sig == want, "bad signature %s != %s" % (sig, want)
    e = json.loads(body)
    assert e["version"] == "0" and e["source"] == "aws.ecr" and e["detail-type"] == "ECR Image Action", e
    assert e["resources"] == ["arn:aws:ecr:%s:%s:repository/%s" % (e["region"], e["account"],
                                                                 e["detail"]["repository-name"])], e
    assert e["time"].endswith("Z") and len(e["id"]) == 36, e
    if e["detail"]["repository-name"] == "hooked/app":
        events[e["detail"]["action-type"]] = e["detail"]
push, delete = events["PUSH"], events["DELETE"]
assert push == {"result": "SUCCESS", "repository-name": "hooked/app", "image-digest": digest,
                "action-type": "PUSH", "image-tag": "v1"}, push
assert delete["image-digest"] == digest and delete["result"] == "SUCCESS", delete
print("events ok:", sorted(events), "of", len([f for f in os.listdir(d) if f.endswith(".json")]))
EOF
for _ in $(seq 300); do
	python3 "$WORK/verify.py" "$WORK/got" "$WORK/secret" "$DIGEST" >"$WORK/verify.log" 2>&1 && break
	sleep 0.1
done
python3 "$WORK/verify.py" "$WORK/got" "$WORK/secret" "$DIGEST" >"$WORK/verify.log" 2>&1
if [ $? -eq 0 ]; then ok "signed PUSH (after a retry) and DELETE events received with ECR's fields"
else notok "events: $(tail -n 5 "$WORK/verify.log")"; fi

# ecrd appends the webhook counters to /metrics when both are built in (ecr_server_add_metrics_cb)
if curl -sf "http://$BASE/metrics" >"$WORK/metrics" 2>/dev/null && grep -q '^# TYPE ecr_webhook_' "$WORK/metrics"; then
	check "/metrics counts the retry" "grep -q '^ecr_webhook_retries_total [1-9]' '$WORK/metrics'"
else
	echo "# /metrics without webhook counters here: not checked"
fi
integ_stop "$ECRD_PID"
st=$?
ECRD_PID=
check "ecrd stopped cleanly with a receiver stalled (status $st)" "[ $st -eq 0 ]"
integ_check_sanitizer "$WORK/ecrd.log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
