#!/usr/bin/env bash
# I/O errors under a real ecrd: ecrd runs with tests/survival/eio_preload.so
# (LD_PRELOAD), which makes write/pwrite/writev/fsync/fdatasync/rename on files
# of its data folder fail with EIO or ENOSPC while a control file exists. Faults
# are turned on and off at run time: every failing request must be a clean
# error (4xx/5xx with an error body), nothing of a failed push may be visible,
# ecrd neither crashes nor hangs, it keeps serving reads, and once the faults
# stop it pushes again; every acknowledged push pulls back with its exact
# digests, before and after a restart (and `ecrd fsck` passes when it exists).
#
#   eio.sh path/to/ecrd path/to/eio_preload.so
#
# Env: KEEP=1 keeps the work folder; INTEG_SANITIZE: the build's b_sanitize.
set -uo pipefail

ECRD=${1:?usage: eio.sh path/to/ecrd path/to/eio_preload.so}
SHIM=${2:?usage: eio.sh path/to/ecrd path/to/eio_preload.so}
ECRD=$(readlink -f "$ECRD")
SHIM=$(readlink -f "$SHIM")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/common.sh
. "$HERE/../integration/common.sh"
integ_tap_numbered
CLIENT="$HERE/regclient.py"

WORK=$(mktemp -d /tmp/survive-eio.XXXXXX)
DATA="$WORK/data"
CONTROL="$WORK/faults.on"
FLOG="$WORK/faults.log"
PIDS=()
trap integ_cleanup_work EXIT
trap 'exit 1' INT TERM

alive() { kill -0 "$ECRD_PID" 2>/dev/null; }
faults() { # "off" or the control file's words (errno=... rate=... ops=...)
	if [ "$1" = off ]; then rm -f "$CONTROL"; else printf '%s\n' "$1" >"$CONTROL.tmp" && mv "$CONTROL.tmp" "$CONTROL"; fi
}
nfaults() { [ -f "$FLOG" ] && wc -l <"$FLOG" || echo 0; }
run_client() { # DESC ARGS...: ok when the client exits 0 within 300 s
	local desc=$1 out
	shift
	if out=$(timeout 300 python3 "$CLIENT" "$@" 2>&1); then
		ok "$desc"
		echo "# $(printf '%s' "$out" | tail -n 1)"
	else
		notok "$desc" "$out"
	fi
}
still_alive() {
	if alive; then ok "ecrd still runs ($1)"; else notok "ecrd still runs ($1)" "$(tail -n 20 "$WORK/ecrd1.log")"; fi
}

# The sanitizer runtime must come first in the process; the shim is loaded before it.
asan_opts=${ASAN_OPTIONS:-}
[ "${INTEG_SANITIZE:-none}" != none ] && asan_opts="${asan_opts:+$asan_opts:}verify_asan_link_order=0"

mkdir -p "$DATA"
LD_PRELOAD="$SHIM" EIO_DIR="$DATA" EIO_CONTROL="$CONTROL" EIO_LOG="$FLOG" ASAN_OPTIONS="$asan_opts" \
	integ_start_ecrd "$ECRD" "$DATA" "$WORK/ecrd1.log" --log-level warn || { notok "ecrd starts with the shim"; finish; }
PIDS+=("$ECRD_PID")
BASE=http://127.0.0.1:$ECRD_PORT
ok "ecrd starts with the I/O fault shim ($BASE)"

run_client "baseline pushes succeed (faults off)" push "$BASE" --state "$WORK/acked" --count 6 --layer-kib 200,20 \
	--expect ok --tag-prefix base
[ "$(nfaults)" -eq 0 ] && ok "no fault while the control file is absent" || notok "no fault while off" "$(head "$FLOG")"

# --- every write fails with EIO ---------------------------------------------------------
faults "errno=EIO rate=100 ops=all"
run_client "EIO on every write: each push fails cleanly, nothing visible" push "$BASE" --state "$WORK/acked" \
	--count 6 --layer-kib 200,20 --expect fail --tag-prefix eio
run_client "EIO on every write: chunked pushes fail cleanly" push "$BASE" --state "$WORK/acked" --count 3 \
	--layer-kib 300 --chunked --expect fail --tag-prefix eiochunk
echo "# faults injected so far: $(nfaults)"
[ "$(nfaults)" -gt 0 ] && ok "the shim injected faults" || notok "the shim injected faults (none logged)"
still_alive "after EIO on every write"
run_client "reads work while every write fails" reads "$BASE" --state "$WORK/acked" --sample 6
run_client "acknowledged pushes pull back while every write fails" verify "$BASE" --state "$WORK/acked" --tags

# --- only fsync/fdatasync fail (ENOSPC), then only renames (EIO) --------------------------
faults "errno=ENOSPC rate=100 ops=fsync,fdatasync"
run_client "ENOSPC on fsync: pushes fail cleanly, nothing visible" push "$BASE" --state "$WORK/acked" --count 4 \
	--layer-kib 100 --expect fail --tag-prefix fsync
faults "errno=EIO rate=100 ops=rename"
run_client "EIO on rename: blob pushes fail cleanly, nothing visible" push "$BASE" --state "$WORK/acked" --count 4 \
	--layer-kib 100 --expect fail --tag-prefix rename
still_alive "after fsync and rename faults"

# --- intermittent faults: some requests fail, none dirty -----------------------------------
faults "errno=EIO rate=5 ops=all"
run_client "intermittent EIO (5% of writes): every failure clean, nothing partial visible" push "$BASE" \
	--state "$WORK/acked" --count 30 --layer-kib 64,8 --tag-prefix flaky
faults "errno=ENOSPC rate=10 ops=write,pwrite,writev"
run_client "intermittent ENOSPC on writes (10%): every failure clean" push "$BASE" --state "$WORK/acked" --count 20 \
	--layer-kib 150 --chunked --tag-prefix flakyspc
still_alive "after intermittent faults"
run_client "reads work under intermittent faults" reads "$BASE" --state "$WORK/acked" --sample 20
echo "# faults injected: $(nfaults); by operation: $(awk '{ print $1 }' "$FLOG" | sort | uniq -c | tr '\n' ' ')"

# --- faults stop: recovery ------------------------------------------------------------------
faults off
run_client "pushes succeed once the faults stop" push "$BASE" --state "$WORK/acked" --count 10 --layer-kib 300,30 \
	--expect ok --tag-prefix after
run_client "chunked pushes succeed once the faults stop" push "$BASE" --state "$WORK/acked" --count 3 \
	--layer-kib 500 --chunked --expect ok --tag-prefix afterchunk
run_client "every acknowledged push pulls back with its digests" verify "$BASE" --state "$WORK/acked" --tags
echo "# acknowledged images: $(wc -l <"$WORK/acked")"

integ_stop "$ECRD_PID"
rc=$?
[ $rc -eq 0 ] && ok "ecrd stops cleanly (exit 0)" || notok "ecrd stops cleanly" "exit $rc"
if "$ECRD" fsck --help >/dev/null 2>&1; then
	if out=$("$ECRD" fsck --data "$DATA" 2>&1); then ok "ecrd fsck finds no problem"; echo "# $(printf '%s' "$out" | tail -n 1)"
	else notok "ecrd fsck finds no problem" "$out"; fi
else
	echo "# ecrd fsck is not available in this build: skipped"
fi

# restarted without the shim: everything acknowledged is still there
integ_start_ecrd "$ECRD" "$DATA" "$WORK/ecrd2.log" --log-level warn || { notok "ecrd restarts"; finish; }
PIDS+=("$ECRD_PID")
BASE=http://127.0.0.1:$ECRD_PORT
run_client "after a restart every acknowledged push pulls back" verify "$BASE" --state "$WORK/acked" --tags
integ_stop "$ECRD_PID"
integ_check_sanitizer "$WORK/ecrd1.log" "$WORK/ecrd2.log"
finish
