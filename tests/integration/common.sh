# Shared helpers of the integration tests (sourced, not run).
#
# integ_need_packages PKG...   install missing Debian packages with apt-get
# integ_start_ecrd ECRD DATA LOG   start ecrd on 127.0.0.1:0; sets ECRD_PID, ECRD_PORT
#                                  (--no-auth unless ECRD_AUTH=1)
# integ_stop PID               SIGTERM, wait up to 10 s, then SIGKILL; returns its exit status
#
# Callers keep the pids they start and stop them from their own EXIT trap.

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
	[ "${ECRD_AUTH:-0}" = 1 ] || { "$ecrd" --help 2>&1 | grep -q -- '--no-auth' && noauth=(--no-auth); }
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
