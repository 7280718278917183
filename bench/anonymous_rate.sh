#!/usr/bin/env bash
# The anonymous pull rate limit, measured: an ecrd with authentication on, a
# public registry (alias "bench") with one small image pushed with
# credentials, then anonymous manifest GETs (an anonymous token from /token,
# one keep-alive connection, one client address) as fast as possible.
# Prints the requests sent, the 200s and 429s, the elapsed time, the
# achieved rate of 200s and what the token bucket allows (burst + rate x
# elapsed).
#
#   bench/anonymous_rate.sh path/to/ecrd [--rate R] [--burst B] [--requests N] [--seconds S]
#
# --rate and --burst are ecrd's --anonymous-pull-rate/--anonymous-pull-burst
# (default 1 and 10); --requests N sends N requests (default 1000); with
# --seconds S it sends for S seconds instead. Needs skopeo, the AWS CLI,
# curl, jq and python3. The last line is machine-readable:
#   figures: sent=N ok=N limited=N other=N elapsed_s=X ok_rate=X allowed=X rate=R burst=B
set -uo pipefail

ECRD=${1:?usage: anonymous_rate.sh path/to/ecrd [--rate R] [--burst B] [--requests N] [--seconds S]}
shift
RATE=1 BURST=10 REQUESTS=1000 SECONDS_=0
while [ $# -gt 0 ]; do
	case $1 in
	--rate) RATE=$2; shift 2 ;;
	--burst) BURST=$2; shift 2 ;;
	--requests) REQUESTS=$2; shift 2 ;;
	--seconds) SECONDS_=$2; shift 2 ;;
	*) echo "unknown argument '$1'" >&2; exit 2 ;;
	esac
done
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/common.sh
. "$HERE/../tests/integration/common.sh"
integ_need_tools skopeo aws curl jq python3 >&2 || exit 1

ACCOUNT=123456789012
WORK=$(mktemp -d /tmp/bench-anon.XXXXXX)
PIDS=()
trap integ_cleanup_work EXIT
trap 'exit 1' INT TERM
mkdir -p "$WORK/data"
ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$WORK/data" "$WORK/ecrd.log" --account "$ACCOUNT" \
	--public-alias "$ACCOUNT=bench" --anonymous-pull-rate "$RATE" --anonymous-pull-burst "$BURST" \
	--log-level warn || exit 1
PIDS+=("$ECRD_PID")
REG=127.0.0.1:$ECRD_PORT
export AWS_SHARED_CREDENTIALS_FILE=$WORK/data/credentials AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1
export REGISTRY_AUTH_FILE=$WORK/auth.json
echo '{}' >"$REGISTRY_AUTH_FILE"
aws ecr-public create-repository --repository-name app --endpoint-url "http://$REG" >"$WORK/create.out" 2>&1 ||
	{ echo "create-repository failed: $(cat "$WORK/create.out")" >&2; exit 1; }
PASS=$(aws ecr get-login-password --endpoint-url "http://$REG" 2>"$WORK/aws.err") ||
	{ echo "get-login-password failed: $(cat "$WORK/aws.err")" >&2; exit 1; }
integ_make_layout tar-kib "$WORK/layout" latest 4 >/dev/null
skopeo copy -q --dest-tls-verify=false --dest-creds "AWS:$PASS" "oci:$WORK/layout:latest" \
	"docker://$REG/bench/app:latest" >"$WORK/push.out" 2>&1 ||
	{ echo "push failed: $(cat "$WORK/push.out")" >&2; exit 1; }
TOKEN=$(curl -sf "http://$REG/token" | jq -r .token)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { echo "no anonymous token" >&2; exit 1; }

echo "ecrd --anonymous-pull-rate $RATE --anonymous-pull-burst $BURST; anonymous GET /v2/bench/app/manifests/latest from 127.0.0.1"
python3 - "$ECRD_PORT" "$TOKEN" "$REQUESTS" "$SECONDS_" "$RATE" "$BURST" <<'PY'
import http.client, sys, time
port, token, n, secs, rate, burst = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), \
    float(sys.argv[5]), int(sys.argv[6])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
hdrs = {"Authorization": "Bearer " + token,
        "Accept": "application/vnd.oci.image.manifest.v1+json"}
counts = {}
retry_after = set()
sent = 0
start = time.monotonic()
while True:
    elapsed = time.monotonic() - start
    if secs > 0:
        if elapsed >= secs:
            break
    elif sent >= n:
        break
    conn.request("GET", "/v2/bench/app/manifests/latest", headers=hdrs)
    r = conn.getresponse()
    r.read()
    counts[r.status] = counts.get(r.status, 0) + 1
    if r.status == 429:
        retry_after.add(r.getheader("Retry-After"))
    sent += 1
elapsed = time.monotonic() - start
ok, limited = counts.get(200, 0), counts.get(429, 0)
other = sent - ok - limited
allowed = burst + rate * elapsed if rate > 0 else float(sent)
print("requests sent:   %d" % sent)
print("200 OK:          %d" % ok)
print("429 limited:     %d (Retry-After: %s)" % (limited, ",".join(sorted(x or "-" for x in retry_after)) or "-"))
print("other statuses:  %d %s" % (other, {k: v for k, v in counts.items() if k not in (200, 429)} or ""))
print("elapsed:         %.3f s (%.0f requests/s)" % (elapsed, sent / elapsed if elapsed else 0))
print("achieved 200s/s: %.2f (the bucket allows %d + %g/s x %.3f s = %.1f)" % (ok / elapsed if elapsed else 0,
      burst, rate, elapsed, allowed))
print("figures: sent=%d ok=%d limited=%d other=%d elapsed_s=%.3f ok_rate=%.3f allowed=%.1f rate=%g burst=%d" % (
      sent, ok, limited, other, elapsed, ok / elapsed if elapsed else 0, allowed, rate, burst))
PY
