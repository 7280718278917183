#!/usr/bin/env bash
# Disk full under ecrd: its data folder on a small tmpfs (64 MiB for ecrd). Images are
# pushed until the space runs out; every failing request must be a clean error
# (4xx/5xx with an OCI or ECR error body), nothing of a failed push may become
# visible, and reads (manifest and blob GETs, catalog, tags list, ECR
# DescribeRepositories/DescribeImages) keep working while the disk is full.
# Then space returns (the tmpfs remounted at 256 MiB where allowed, and a 32 MiB
# reserve file deleted): pushes work again, every
# acknowledged push pulls back with its exact digests, ecrd stops cleanly, the
# data folder passes `ecrd fsck` (when this ecrd has it) and, restarted, ecrd
# still serves every acknowledged image.
#
#   diskfull.sh path/to/ecrd
#
# Needs root (mount -t tmpfs) or unprivileged user namespaces (unshare -Urm):
# without either it skips (exit 77) and says why.
# Env: KEEP=1 keeps the work folder; INTEG_SANITIZE: the build's b_sanitize.
set -uo pipefail

ECRD=${1:?usage: diskfull.sh path/to/ecrd}
ECRD=$(readlink -f "$ECRD")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

# Not root: run ourselves again inside a user + mount namespace, where we may mount a tmpfs.
if [ "$(id -u)" -ne 0 ] && [ -z "${SURVIVE_IN_NS:-}" ]; then
	if unshare -Urm true 2>/dev/null; then
		SURVIVE_IN_NS=1 exec unshare -Urm bash "$SELF" "$@"
	fi
	echo "SKIP: not root and no user namespaces (unshare -Urm failed): cannot mount a tmpfs"
	exit 77
fi

# shellcheck source=../integration/common.sh
. "$HERE/../integration/common.sh"
integ_tap_numbered
CLIENT="$HERE/regclient.py"

WORK=$(mktemp -d /tmp/survive-diskfull.XXXXXX)
MNT="$WORK/mnt"
PIDS=()
MOUNTED=0
cleanup() {
	local p
	for p in ${PIDS[@]+"${PIDS[@]}"}; do
		kill -0 "$p" 2>/dev/null && integ_stop "$p"
	done
	[ "$MOUNTED" = 1 ] && [ "${KEEP:-0}" != 1 ] && umount "$MNT" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$MNT"
if ! mount -t tmpfs -o size=96m,mode=0755 survive-tmpfs "$MNT"; then
	echo "SKIP: mount -t tmpfs failed"
	exit 77
fi
MOUNTED=1
DATA="$MNT/data"
# A 32 MiB reserve file leaves ecrd 64 MiB; deleting it is how space returns when the tmpfs cannot be
# remounted larger (inside a user namespace).
if dd if=/dev/zero of="$MNT/reserve" bs=1M count=32 status=none; then ok "a 96 MiB tmpfs with a 32 MiB reserve file"
else notok "the reserve file"; finish; fi

alive() { kill -0 "$ECRD_PID" 2>/dev/null; }
free_kib() { df -k --output=avail "$MNT" | tail -n 1 | tr -d ' '; }
run_client() { # DESC ARGS...: ok when the client exits 0; its summary goes to the log
	local desc=$1 out
	shift
	if out=$(python3 "$CLIENT" "$@" 2>&1); then
		ok "$desc"
		echo "# $(printf '%s' "$out" | tail -n 1)"
	else
		notok "$desc" "$out"
	fi
}

start() { # LOGNAME
	integ_start_ecrd "$ECRD" "$DATA" "$WORK/$1" --log-level warn || { notok "ecrd starts"; finish; }
	PIDS+=("$ECRD_PID")
	BASE=http://127.0.0.1:$ECRD_PORT
}
start ecrd1.log
ok "ecrd serves on the tmpfs ($BASE)"

# --- before: a baseline that must all succeed -----------------------------------------
run_client "baseline pushes succeed" push "$BASE" --state "$WORK/acked" --count 6 --layer-kib 128,16 --expect ok \
	--tag-prefix base

# --- fill the disk -------------------------------------------------------------------------
# 1 MiB + 256 KiB layers, monolithic then chunked, until 6 pushes in a row fail.
out=$(python3 "$CLIENT" push "$BASE" --state "$WORK/acked" --until-fail 6 --layer-kib 1024,256 --tag-prefix fill \
	--max-seconds 300 2>&1)
rc=$?
summary=$(printf '%s\n' "$out" | grep '^{' | tail -n 1)
echo "# fill: $summary; $(free_kib) KiB free"
if [ $rc -eq 0 ]; then ok "filling: every failed request is a clean error and leaves nothing visible"; else
	notok "filling: every failed request is a clean error and leaves nothing visible" "$out"; fi
nfail=$(printf '%s' "$summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed"])' 2>/dev/null || echo 0)
check_fail() { [ "${nfail:-0}" -ge 6 ]; }
if check_fail; then ok "the disk filled up: pushes failed ($nfail)"; else notok "the disk filled up" "$summary"; fi
alive && ok "ecrd still runs with the disk full" || notok "ecrd still runs with the disk full" "$(tail -n 20 "$WORK/ecrd1.log")"

# a failed monolithic push (POST ?digest=) leaves no staged bytes behind: its client never learnt the session
staged=$(find "$DATA/uploads" -type f 2>/dev/null | wc -l)
if [ "$staged" -eq 0 ]; then ok "failed monolithic pushes leave no staged upload data"; else
	notok "failed monolithic pushes leave no staged upload data" "$staged files in uploads/: $(du -sh "$DATA/uploads")"; fi

# chunked uploads and small pushes while full: clean errors too (some small ones may fit)
run_client "chunked pushes while full: clean errors, nothing partial visible" push "$BASE" --state "$WORK/acked" \
	--count 4 --layer-kib 2048,300 --chunked --tag-prefix fullchunk
run_client "small pushes while full: clean errors, nothing partial visible" push "$BASE" --state "$WORK/acked" \
	--count 4 --layer-kib 4 --tag-prefix fullsmall

# an ECR API write while full: 200 or a clean ECR error, never a hang or a dropped connection
code=$(curl -sS -m 30 -o "$WORK/cr.body" -w '%{http_code}' -X POST \
	-H 'X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.CreateRepository' \
	-H 'Content-Type: application/x-amz-json-1.1' -d '{"repositoryName":"sv/created-while-full"}' "$BASE/")
if [ "$code" = 200 ] || { [ "${code:-0}" -ge 400 ] && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); \
	sys.exit(0 if "__type" in j or "message" in j else 1)' "$WORK/cr.body" 2>/dev/null; }; then
	ok "CreateRepository while full: HTTP $code"
else
	notok "CreateRepository while full: HTTP $code" "$(head -c 300 "$WORK/cr.body")"
fi

# --- reads while full ------------------------------------------------------------------------
run_client "reads while full: manifests, blobs, catalog, tags, DescribeRepositories/Images" reads "$BASE" \
	--state "$WORK/acked" --sample 30
run_client "every acknowledged push pulls back while full" verify "$BASE" --state "$WORK/acked" --tags
alive && ok "ecrd still runs after the reads" || notok "ecrd still runs after the reads"

# --- not one byte left: metadata-only writes -------------------------------------------------
# A filler file takes every free block, then existing images are tagged again (a manifest PUT whose blobs
# are all there writes only metadata) and one image is deleted: each succeeds or fails cleanly.
dd if=/dev/zero of="$MNT/filler" bs=64k status=none 2>/dev/null
echo "# filler: $(du -k "$MNT/filler" | cut -f1) KiB; $(free_kib) KiB free"
run_client "tagging with no byte free: metadata writes succeed or fail cleanly, failed tags invisible" retag "$BASE" \
	--state "$WORK/acked" --count 40 --tag-prefix full
victim=$(head -n 1 "$WORK/acked")
vrepo=$(printf '%s' "$victim" | python3 -c 'import json,sys; print(json.load(sys.stdin)["repo"])')
vdig=$(printf '%s' "$victim" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
code=$(curl -sS -m 30 -o "$WORK/del.body" -w '%{http_code}' -X DELETE "$BASE/v2/$vrepo/manifests/$vdig")
if [ "$code" = 202 ]; then
	ok "DELETE with no byte free: 202"
	grep -v -F "\"$vdig\"" "$WORK/acked" >"$WORK/acked.new"; mv "$WORK/acked.new" "$WORK/acked"
elif [ "${code:-0}" -ge 500 ] && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["errors"][0]["code"] else 1)' \
	"$WORK/del.body" 2>/dev/null; then
	ok "DELETE with no byte free: a clean $code"
else
	notok "DELETE with no byte free: HTTP $code" "$(head -c 300 "$WORK/del.body")"
fi
run_client "reads with no byte free" reads "$BASE" --state "$WORK/acked" --sample 10
alive && ok "ecrd still runs with no byte free" || notok "ecrd still runs with no byte free"
rm -f "$MNT/filler"
run_client "tagging works again once the filler is deleted" retag "$BASE" --state "$WORK/acked" --count 3 \
	--tag-prefix freed --expect ok

# --- space returns --------------------------------------------------------------------------
how="the reserve file deleted"
mount -o remount,size=256m "$MNT" 2>/dev/null && how="tmpfs remounted at 256 MiB, the reserve file deleted"
rm -f "$MNT/reserve"
if [ "$(free_kib)" -gt 30000 ]; then ok "space returns ($how: $(free_kib) KiB free)"; else
	notok "space returns ($how)" "$(free_kib) KiB free"; fi
run_client "pushes succeed again once space returns" push "$BASE" --state "$WORK/acked" --count 8 --layer-kib 1024,64 \
	--expect ok --tag-prefix after
run_client "chunked pushes succeed again" push "$BASE" --state "$WORK/acked" --count 3 --layer-kib 700 --chunked \
	--expect ok --tag-prefix afterchunk
run_client "every acknowledged push pulls back with its digests" verify "$BASE" --state "$WORK/acked" --tags
echo "# acknowledged images: $(wc -l <"$WORK/acked")"

# --- clean stop, fsck, restart ---------------------------------------------------------------
integ_stop "$ECRD_PID"
rc=$?
if [ $rc -eq 0 ]; then ok "ecrd stops cleanly (exit 0)"; else notok "ecrd stops cleanly" "exit $rc"; fi
if "$ECRD" fsck --help >/dev/null 2>&1; then
	if out=$("$ECRD" fsck --data "$DATA" 2>&1); then ok "ecrd fsck finds no problem"; echo "# $(printf '%s' "$out" | tail -n 1)"
	else notok "ecrd fsck finds no problem" "$out"; fi
else
	echo "# ecrd fsck is not available in this build: skipped"
fi
start ecrd2.log
run_client "after a restart every acknowledged push pulls back" verify "$BASE" --state "$WORK/acked" --tags
leftover=$(find "$DATA/uploads" -type f 2>/dev/null | wc -l)
echo "# upload staging files left after restart: $leftover"

integ_stop "$ECRD_PID"
integ_check_sanitizer "$WORK/ecrd1.log" "$WORK/ecrd2.log"
finish
