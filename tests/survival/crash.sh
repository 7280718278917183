#!/bin/bash
# survival/crash: ecrd killed with SIGKILL at random moments while clients push, move tags, delete and pull,
# with GC (--gc-interval 1) and lifecycle (--lifecycle-interval 1, crash/expire keeps 3 images) running inside it.
# After each kill: `ecrd fsck` on the data folder finds no error, and once ecrd is restarted on the same folder
# every acknowledged push (201) that we did not delete pulls back with its exact digests (crash/expire: exactly,
# or expired by lifecycle).
#
#   crash.sh ECRD [--long]         CRASH_ITERATIONS (default 25; --long: 200), CRASH_SEED (default: time),
#                                  CRASH_THREADS (default 3), KEEP=1 keeps the work folder
# TAP output; the last line says how many iterations ran and how many acknowledged pushes were checked.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/common.sh"
ECRD=${1:?usage: crash.sh ECRD [--long]}
ITER=${CRASH_ITERATIONS:-25}
[ "${2:-}" = --long ] && ITER=${CRASH_ITERATIONS:-200}
SEED=${CRASH_SEED:-$(date +%s)}
THREADS=${CRASH_THREADS:-3}
CLIENT="python3 $here/crash_client.py"
integ_tap_numbered
integ_need_tools python3 curl || exit 1

WORK=$(mktemp -d /tmp/ecr-crash.XXXXXX)
DATA=$WORK/data
STATE=$WORK/state.jsonl
PIDS=()
trap integ_cleanup_work EXIT
RANDOM=$((SEED % 32768))
echo "# seed $SEED, $ITER iterations, $THREADS client threads, work folder $WORK"

start() { # start ecrd on DATA; sets ECRD_PID, ECRD_PORT, BASE; what GC and lifecycle did goes to bg.log
	[ -f "$WORK/ecrd.log" ] && grep -E '^(INFO|WARN|ERROR) (gc|lifecycle):' "$WORK/ecrd.log" >>"$WORK/bg.log"
	grep -h -E -A5 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/ecrd.log" "$WORK/fsck.out" \
		>>"$WORK/sanitizer.log" 2>/dev/null
	integ_start_ecrd "$ECRD" "$DATA" "$WORK/ecrd.log" --gc-interval 1 --gc-grace 2 --lifecycle-interval 1 \
		--log-level info || return 1
	PIDS=("$ECRD_PID")
	BASE=http://127.0.0.1:$ECRD_PORT
}

fsck_failures=0
verify_failures=0
died=0
kills=0
t0=$(date +%s)
if ! start; then
	notok "ecrd starts" "$(tail -n 20 "$WORK/ecrd.log")"
	finish
fi
if ! $CLIENT setup "$BASE" 2>"$WORK/setup.err"; then
	notok "repositories and lifecycle policy created" "$(cat "$WORK/setup.err")"
	finish
fi
for i in $(seq 1 "$ITER"); do
	$CLIENT round "$STATE"
	# clients work until ecrd goes away (or 60 s: a kill that did not come)
	$CLIENT run "$BASE" --state "$STATE" --threads "$THREADS" --seed $((SEED + i)) --seconds 60 \
		--started "$WORK/client.started" \
		2>"$WORK/client.err" &
	cpid=$!
	# the delay counts from the clients' first request (python starts slowly on a loaded machine), or, one
	# iteration in two, from this round's first acknowledged push (so that each round has some to check)
	before=$(grep -c '"op":"push"' "$STATE")
	for _ in $(seq 600); do
		if [ $((i % 2)) = 0 ]; then
			[ "$(grep -c '"op":"push"' "$STATE")" -gt "$before" ] && break
		else
			[ -e "$WORK/client.started" ] && break
		fi
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$WORK/client.started"
	delay=$((50 + RANDOM % 1451))
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -KILL "$ECRD_PID" 2>/dev/null && kills=$((kills + 1))
	wait "$ECRD_PID" 2>/dev/null
	status=$?
	if [ "$status" != 137 ]; then # not our SIGKILL: it crashed or exited by itself since its start
		died=$((died + 1))
		cp "$WORK/ecrd.log" "$WORK/ecrd-died-$i.log"
		notok "iteration $i: ecrd was still running when killed (it ended with status $status before)" \
			"$(grep -v '^INFO [A-Z]* /' "$WORK/ecrd.log" | tail -n 12)"
		KEEP=1
	fi
	PIDS=()
	wait "$cpid"
	# the consistency check, on the folder ecrd left
	if ! "$ECRD" fsck --data "$DATA" --quiet >"$WORK/fsck.out" 2>&1; then
		fsck_failures=$((fsck_failures + 1))
		notok "iteration $i (killed after $delay ms): ecrd fsck finds nothing wrong" "$(tail -n 20 "$WORK/fsck.out")"
		cp -a "$DATA" "$WORK/data-fsck-failed-$i" 2>/dev/null
		KEEP=1
	fi
	if ! start; then
		notok "iteration $i: ecrd restarts on the same data" "$(tail -n 20 "$WORK/ecrd.log")"
		break
	fi
	# every acknowledged push of this round (entirely) and 20 older ones (entirely; the rest by HEAD)
	if ! out=$($CLIENT verify "$BASE" --state "$STATE" --sample 20 2>&1); then
		verify_failures=$((verify_failures + 1))
		alive=yes
		if ! kill -0 "$ECRD_PID" 2>/dev/null || [ "$(ps -o stat= -p "$ECRD_PID" 2>/dev/null | cut -c1)" = Z ]; then
			alive="NO (it ended by itself)"
		fi
		diag="ecrd $ECRD_PID at $BASE alive: $alive; $(grep -E '^(State|Threads):' "/proc/$ECRD_PID/status" 2>/dev/null |
			tr '\n' ' '); listening: $(ss -Hltn "sport = :$ECRD_PORT" 2>/dev/null | wc -l) socket(s);"
		diag+=" it printed: $(head -n 1 "$WORK/ecrd.log.out");"
		diag+=" last requests: $(grep '^INFO [A-Z]* /' "$WORK/ecrd.log" | tail -n 3 | tr '\n' '|')"
		cp "$WORK/ecrd.log" "$WORK/ecrd-verify-failed-$i.log"
		{ ls -l "/proc/$ECRD_PID/fd"; cat "/proc/$ECRD_PID/net/tcp"; } >"$WORK/ecrd-verify-failed-$i.fds" 2>&1
		command -v gdb >/dev/null && timeout 60 gdb -p "$ECRD_PID" -batch -ex 'thread apply all bt 12' \
			>"$WORK/ecrd-verify-failed-$i.stacks" 2>&1
		notok "iteration $i (killed after $delay ms): no acknowledged push lost" "$diag" \
			"$(printf '%s\n' "$out" | tail -n 4)" "ecrd's log:" "$(grep -v '^INFO [A-Z]* /' "$WORK/ecrd.log" | tail -n 8)"
		KEEP=1
	else
		ok "iteration $i (killed after $delay ms): fsck clean, acknowledged pushes intact: $(tail -n 1 "$WORK/fsck.out" | sed 's/^fsck: //')"
	fi
done
# at the end: everything acknowledged, entirely
if out=$($CLIENT verify "$BASE" --state "$STATE" 2>&1); then
	ok "final: every acknowledged push not deleted pulls back exactly: $out"
else
	notok "final: every acknowledged push not deleted pulls back exactly" "$out"
fi
integ_stop "$ECRD_PID"
PIDS=()
if "$ECRD" fsck --data "$DATA" >"$WORK/fsck.out" 2>&1; then
	ok "final fsck: $(tail -n 1 "$WORK/fsck.out")"
else
	notok "final fsck" "$(tail -n 20 "$WORK/fsck.out")"
fi
# fsck itself: a damaged blob is found (exit 1, one error line naming it), a bad option is a usage error (2)
victim=$(find "$DATA/blobs" -type f -size +0 | head -n 1)
if [ -n "$victim" ]; then
	# a byte other than the one there (random layers start with 'X' once in 256)
	if [ "$(head -c 1 "$victim" 2>/dev/null)" = X ]; then byte=Y; else byte=X; fi
	printf '%s' "$byte" | dd of="$victim" bs=1 count=1 conv=notrunc status=none
	"$ECRD" fsck --data "$DATA" --quiet >"$WORK/fsck.out" 2>&1
	rc=$?
	name=$(basename "$victim")
	if [ "$rc" = 1 ] && [ "$(grep -c '^error: ' "$WORK/fsck.out")" = 1 ] &&
		grep -q "^error: blob-corrupt.*sha256:$name" "$WORK/fsck.out"; then
		ok "fsck finds a blob damaged by hand (exit 1, one error)"
	else
		notok "fsck finds a blob damaged by hand (exit $rc)" "$(cat "$WORK/fsck.out")"
	fi
fi
"$ECRD" fsck --data "$DATA" --bogus >/dev/null 2>&1
rc=$?
if [ "$rc" = 2 ]; then ok "fsck: a bad option exits 2"; else notok "fsck: a bad option exits 2 (got $rc)"; fi
grep -E '^(INFO|WARN|ERROR) (gc|lifecycle):' "$WORK/ecrd.log" >>"$WORK/bg.log"
gc_removed=$(sed -n 's/.*gc: .* \([0-9]*\) blobs removed.*/\1/p' "$WORK/bg.log" | awk '{s += $1} END {print s + 0}')
expired=$(grep -c 'lifecycle: expired ' "$WORK/bg.log" || true)
bg_errors=$(grep -c '^ERROR' "$WORK/bg.log" || true)
echo "# background work while crashing: GC removed $gc_removed blobs, lifecycle expired $expired images," \
	"$bg_errors errors logged by them"
if [ "$ITER" -ge 10 ]; then
	if [ "$gc_removed" -gt 0 ] && [ "$expired" -gt 0 ]; then
		ok "GC and lifecycle did work between the kills ($gc_removed blobs removed, $expired images expired)"
	else
		notok "GC and lifecycle did work between the kills ($gc_removed blobs removed, $expired images expired)"
	fi
fi
integ_check_sanitizer "$WORK/sanitizer.log" "$WORK/ecrd.log" "$WORK/fsck.out"
acked=$(grep -c '"op":"push"' "$STATE" || true)
deleted=$(grep -c '"op":"del"' "$STATE" || true)
echo "# $ITER iterations, $kills kills with SIGKILL in $(($(date +%s) - t0)) s: $acked acknowledged pushes" \
	"($deleted deletes sent), fsck failures $fsck_failures, verify failures $verify_failures," \
	"ecrd ended by itself $died times (seed $SEED)"
finish
