# Shared helpers of the integration tests (sourced, not run).
#
# integ_need_packages PKG...   install missing Debian packages with apt-get
# integ_start_ecrd ECRD DATA LOG   start ecrd on 127.0.0.1:0; sets ECRD_PID, ECRD_PORT
#                                  (--no-auth unless ECRD_AUTH=1)
# integ_proxy_start NAME PORT [FLAGS...]   tests/transport/faultproxy.py in front of 127.0.0.1:PORT;
#                              sets PROXY_PID, PROXY_PORT (its stats in $WORK/NAME.stats)
# integ_stop PID               SIGTERM, wait up to 10 s, then SIGKILL; returns its exit status
# integ_tap_numbered           defines ok DESC, notok DESC [DETAIL...] ("ok N - DESC", counted in
#                              PASS and FAIL) and finish ("N passed, M failed", then exits)
# integ_tap_plain              defines ok DESC, notok DESC ("ok - DESC", counted in pass and fail),
#                              check DESC EXPR (ok when EXPR evaluates true) and now_ms
# integ_need_tools TOOL...     each on PATH, or "TOOL is missing" and "0 passed, 1 failed"; returns 1
# integ_make_layout KIND DIR TAG SIZE...   an OCI layout in DIR, one image tagged TAG whose layers
#                              are, per SIZE, random bytes (KIND raw-mib: SIZE MiB) or a tar of one
#                              file of random bytes (KIND tar-kib: SIZE KiB); prints the manifest digest
# integ_check_sanitizer LOG... when INTEG_SANITIZE is set (not none): ok or notok "no sanitizer report"
# integ_cleanup_work           an EXIT trap: integ_stop each live pid of the array PIDS, then remove
#                              $WORK (kept, and said so, with KEEP=1)
#
# Callers keep the pids they start and stop them from their own EXIT trap.

INTEG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

integ_need_packages() {
	local p status missing=()
	for p in "$@"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$status" = installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages: ${missing[*]} (run as root to let the test install them)" >&2
		return 1
	fi
	echo "installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

integ_start_ecrd() {
	local ecrd=$1 data=$2 log=$3 line=
	shift 3
	ECRD_PID= ECRD_PORT=
	# No credentials: the shared client check runs without them (--no-auth
	# where this ecrd has authentication, i.e. knows the option).
	local -a noauth=()
	[ "${ECRD_AUTH:-0}" = 1 ] || noauth=(--no-auth)
	# Emptied here, before the fork: the child's own truncation (the redirection below) can come after our
	# first grep, which then reads the "listening" line of the ecrd that ran before on the same LOG (a restart)
	# and returns its dead port (survival/crash, a few restarts in a thousand on a loaded machine: the restarted
	# ecrd listens, unused, while every request goes to the killed one's port and is refused).
	: >"$log.out"
	: >"$log"
	"$ecrd" --listen 127.0.0.1:0 ${noauth[@]+"${noauth[@]}"} --data "$data" "$@" >"$log.out" 2>"$log" &
	ECRD_PID=$!
	for _ in $(seq 200); do
		line=$(grep -m1 '^ecrd: listening on ' "$log.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		kill -0 "$ECRD_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [[ "$line" =~ ^ecrd:\ listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]]; then
		ECRD_PORT=${BASH_REMATCH[1]}
		return 0
	fi
	echo "ecrd did not start: stdout '$(cat "$log.out")', stderr: $(tail -n 20 "$log")" >&2
	return 1
}

# integ_proxy_start NAME TARGET_PORT [FLAGS...]: tests/transport/faultproxy.py in front of 127.0.0.1:TARGET_PORT;
# sets PROXY_PID, PROXY_PORT and adds the pid to PIDS. The stats are in $WORK/NAME.stats, its log in
# $WORK/logs/proxy-NAME.log. PROXY_LISTEN=HOST:PORT listens there.
integ_proxy_start() {
	local name=$1 target=$2
	shift 2
	rm -f "$WORK/$name.port"
	python3 "$INTEG_DIR/../transport/faultproxy.py" --listen "${PROXY_LISTEN:-127.0.0.1:0}" --target "127.0.0.1:$target" \
		--port-file "$WORK/$name.port" --stats-file "$WORK/$name.stats" "$@" \
		>/dev/null 2>"$WORK/logs/proxy-$name.log" &
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	PROXY_PORT=
	for _ in $(seq 200); do
		[ -s "$WORK/$name.port" ] && break
		kill -0 "$PROXY_PID" 2>/dev/null || break
		sleep 0.05
	done
	PROXY_PORT=$(cat "$WORK/$name.port" 2>/dev/null)
	[ -n "$PROXY_PORT" ] || { echo "# faultproxy $name did not start: $(cat "$WORK/logs/proxy-$name.log")"; return 1; }
}
integ_stop() { # returns the exit status of PID, or 137 when it had to be killed
	local pid=$1 rc
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 137
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	return "$rc"
}

# shellcheck disable=SC2317 # (the functions it defines are called by the sourcing script)
integ_tap_numbered() {
	PASS=0
	FAIL=0
	ok() { PASS=$((PASS + 1)); echo "ok $((PASS + FAIL)) - $1"; }
	notok() {
		FAIL=$((FAIL + 1))
		echo "not ok $((PASS + FAIL)) - $1"
		shift
		[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /' | head -n 20
	}
	finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }
}

# shellcheck disable=SC2317 # (the functions it defines are called by the sourcing script)
integ_tap_plain() {
	pass=0
	fail=0
	ok() { echo "ok - $*"; pass=$((pass + 1)); }
	notok() { echo "not ok - $*"; fail=$((fail + 1)); }
	check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }
	now_ms() { date +%s%3N; }
}

integ_need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing"; echo "0 passed, 1 failed"; return 1; }
	done
}

integ_make_layout() {
	python3 - "$@" <<'EOF'
import hashlib, io, json, os, sys, tarfile
kind, d, tag, sizes = sys.argv[1], sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4:]]
def layer(i, n):
    if kind == "raw-mib":
        return os.urandom(n << 20)
    assert kind == "tar-kib", kind
    buf = io.BytesIO()  # a tar of one file of n KiB of random bytes (so that podman can apply it)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("data%d" % i)
        info.size = n << 10
        info.mtime = 0
        t.addfile(info, io.BytesIO(os.urandom(n << 10)))
    return buf.getvalue()
os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
def put(b):
    h = hashlib.sha256(b).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(b)
    return {"digest": "sha256:" + h, "size": len(b)}
layers = [dict(put(layer(i, n)), mediaType="application/vnd.oci.image.layer.v1.tar") for i, n in enumerate(sizes)]
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": dict(put(cfg), mediaType="application/vnd.oci.image.config.v1+json"),
                "layers": layers}).encode()
entry = dict(put(m), mediaType="application/vnd.oci.image.manifest.v1+json",
             annotations={"org.opencontainers.image.ref.name": tag})
with open(os.path.join(d, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [entry]}, f)
with open(os.path.join(d, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
print(entry["digest"])
EOF
}

integ_check_sanitizer() {
	[ "${INTEG_SANITIZE:-none}" != none ] || return 0
	if grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$@" >/dev/null 2>&1; then
		notok "no sanitizer report" "$(grep -h -E -A5 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$@" | head -n 20)"
	else
		ok "no sanitizer report"
	fi
}

integ_cleanup_work() {
	local p
	for p in ${PIDS[@]+"${PIDS[@]}"}; do
		kill -0 "$p" 2>/dev/null && integ_stop "$p"
	done
	if [ "${KEEP:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
