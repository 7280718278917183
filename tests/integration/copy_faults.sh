#!/usr/bin/env bash
# Faults during whole copies: `ecr copy` between two ecrd (--no-auth, loopback)
# with tests/transport/faultproxy.py in front of the source or the destination
# (dropped connections mid-blob, 503s, 429 + Retry-After, delays), and a
# destination ecrd killed with SIGKILL in the middle of a chunked upload.
# A copy either finishes with the source's digest and byte-identical blobs, or
# fails (exit 1) with a clear message, in bounded time, and nothing is
# published on the destination (no tag, no manifest; any blob there is whole).
#   copy_faults.sh ECR ECRD
# KEEP=1 keeps the work folder.
# shellcheck disable=SC2016,SC2034 # check() evaluates its condition (single-quoted on purpose)
set -uo pipefail
ECR=${1:?usage: copy_faults.sh ECR ECRD}
ECRD=${2:?usage: copy_faults.sh ECR ECRD}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

WORK=$(mktemp -d /tmp/ecr-copy-faults.XXXXXX)
PIDS=()
trap integ_cleanup_work EXIT
# A clean client environment: no auth file, no AWS credentials.
export HOME=$WORK/home REGISTRY_AUTH_FILE=$WORK/auth.json AWS_CONFIG_FILE=$WORK/aws-config
export AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials AWS_DEFAULT_REGION=us-east-1
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECR
unset ECR_REGISTRY XDG_RUNTIME_DIR http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
mkdir -p "$HOME" "$WORK/logs"
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

integ_tap_plain
skip=0

if ! command -v python3 >/dev/null || ! command -v jq >/dev/null || ! command -v curl >/dev/null; then
	echo "ok - SKIP: python3, jq and curl are needed"
	exit 77
fi

# --- fixtures ----------------------------------------------------------------

# make_layout DIR TAG LAYER_MIB... : an OCI layout with random layers and a config.
make_layout() { integ_make_layout raw-mib "$@"; }

proxy_start() { integ_proxy_start "$@"; }
proxy_stop() { integ_stop "$1"; }
stat_of() { jq -r ".$2" "$WORK/$1.stats"; } # NAME FIELD

# run_copy NAME SRC DST [OPTIONS...]: ecr copy --json; sets RC, ELAPSED_MS, COPIED (the digest).
run_copy() {
	local name=$1 src=$2 dst=$3 t0
	shift 3
	t0=$(now_ms)
	"$ECR" copy --json "$@" "$src" "$dst" >"$WORK/$name.out" 2>"$WORK/logs/$name.err"
	RC=$?
	ELAPSED_MS=$(($(now_ms) - t0))
	COPIED=$(jq -r 'select(has("digest") and (has("event") | not)) | .digest' "$WORK/$name.out" 2>/dev/null | tail -n 1)
	echo "# $name: exit $RC in $ELAPSED_MS ms"
}
# blobs_moved NAME: how many blobs the copy stored (not skipped, not mounted).
blobs_moved() { jq -r 'select(.event == "blob_done") | .digest' "$WORK/$1.out" 2>/dev/null | sort -u | wc -l; }

# dst_digest REPO[:TAG|@DIGEST]: the manifest digest, straight from the destination ecrd.
dst_digest() {
	"$ECR" inspect --json --plain-http "docker://127.0.0.1:$DST_PORT/$1" 2>>"$WORK/logs/inspect.err" | jq -r .digest
}

# same_blobs LAYOUT BACK: every blob of LAYOUT is in BACK, byte for byte.
same_blobs() {
	local f n=0
	for f in "$1"/blobs/sha256/*; do
		cmp -s "$f" "$2/blobs/sha256/${f##*/}" || { echo "# blob ${f##*/} differs or is missing in $2"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

# verify_image NAME REPO DIGEST LAYOUT: the destination holds REPO:v1 = DIGEST, and
# copied back into an OCI layout, every blob equals LAYOUT's.
verify_image() {
	local name=$1 repo=$2 digest=$3 layout=$4 got
	got=$(dst_digest "$repo:v1")
	check "$name: the destination's $repo:v1 is $digest (got $got)" '[ "$got" = "$digest" ]'
	if "$ECR" copy --quiet --src-plain-http "docker://127.0.0.1:$DST_PORT/$repo:v1" "oci:$WORK/back-$name:v1" \
		>/dev/null 2>"$WORK/logs/back-$name.err" && same_blobs "$layout" "$WORK/back-$name"; then
		ok "$name: every blob read back from the destination is identical to the source's"
	else
		notok "$name: the blobs read back differ: $(tail -n 3 "$WORK/logs/back-$name.err")"
	fi
}

# nothing_published NAME REPO DIGEST: REPO has no tag and no DIGEST on the destination
# (asked directly, not through a proxy), and every layer it holds is whole.
nothing_published() {
	local name=$1 repo=$2 digest=$3 tags d code whole=1
	tags=$("$ECR" tags --json --plain-http "docker://127.0.0.1:$DST_PORT/$repo" 2>"$WORK/logs/$name-tags.err" |
		jq -r '.tags[].tag' 2>/dev/null)
	if [ -z "$tags" ]; then
		ok "$name: no tag in $repo on the destination ($(head -c 120 "$WORK/logs/$name-tags.err"))"
	else
		notok "$name: $repo has tags on the destination: $tags"
	fi
	if "$ECR" inspect --plain-http "docker://127.0.0.1:$DST_PORT/$repo@$digest" >/dev/null 2>&1; then
		notok "$name: the manifest $digest is on the destination"
	else
		ok "$name: no manifest $digest in $repo on the destination (inspect fails)"
	fi
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DST_PORT/v2/$repo/manifests/$digest")
	check "$name: GET /v2/$repo/manifests/<digest> answers 404 (got $code)" '[ "$code" = 404 ]'
	# blobs: absent, or whole
	for d in $(jq -r '.layers[].digest, .config.digest' "$LAYOUT/blobs/sha256/${SRC_DIGEST#sha256:}"); do
		code=$(curl -s -o "$WORK/blob.tmp" -w '%{http_code}' "http://127.0.0.1:$DST_PORT/v2/$repo/blobs/$d")
		if [ "$code" = 200 ]; then
			[ "sha256:$(sha256sum <"$WORK/blob.tmp" | cut -d' ' -f1)" = "$d" ] || { whole=0; echo "# $d is partial"; }
		elif [ "$code" != 404 ]; then
			whole=0
			echo "# GET blob $d: $code"
		fi
	done
	check "$name: every blob of the image found on the destination is whole" '[ "$whole" = 1 ]'
}

# --- setup ---------------------------------------------------------------------

LAYOUT=$WORK/layout
SRC_DIGEST=$(make_layout "$LAYOUT" v1 8 8 8)
start_ok=1
integ_start_ecrd "$ECRD" "$WORK/src" "$WORK/logs/ecrd-src.log" || start_ok=0
SRC_PID=$ECRD_PID SRC_PORT=$ECRD_PORT
[ -n "$SRC_PID" ] && PIDS+=("$SRC_PID")
integ_start_ecrd "$ECRD" "$WORK/dst" "$WORK/logs/ecrd-dst.log" || start_ok=0
DST_PID=$ECRD_PID DST_PORT=$ECRD_PORT
[ -n "$DST_PID" ] && PIDS+=("$DST_PID")
if [ "$start_ok" != 1 ]; then
	echo "not ok - ecrd did not start"
	echo "0 passed, 1 failed"
	exit 1
fi
SRC=docker://127.0.0.1:$SRC_PORT/app/img:v1
run_copy push "oci:$LAYOUT:v1" "$SRC" --dest-plain-http
if [ "$RC" = 0 ] && [ "$COPIED" = "$SRC_DIGEST" ]; then
	ok "the source image ($SRC_DIGEST, 3 x 8 MiB) is on the source ecrd"
else
	notok "pushing the source image: exit $RC, $(tail -n 3 "$WORK/logs/push.err")"
	echo "$pass passed, $fail failed"
	exit 1
fi

# --- 1. the source drops blob downloads after 3 MiB ---------------------------
# The first two connections carry the API probe and /v2/ (a few hundred bytes,
# closed before 3 MiB) and every blob stream has a connection of its own: the
# drops apply to the first 6 connections so that at least 2 blob downloads
# are cut; their resumes (Range) may be cut too, each after 3 MiB of progress.
proxy_start s1 "$SRC_PORT" --drop-after-bytes $((3 << 20)) --drop-connections 6
run_copy s1 "docker://127.0.0.1:$PROXY_PORT/app/img:v1" "docker://127.0.0.1:$DST_PORT/s1/img:v1" --plain-http
check "1 drops: the copy finishes (exit $RC, $ELAPSED_MS ms) with the source's digest" \
	'[ "$RC" = 0 ] && [ "$COPIED" = "$SRC_DIGEST" ]'
[ "$RC" = 0 ] || sed 's/^/#   /' "$WORK/logs/s1.err" | tail -n 5
check "1 drops: the 4 blobs were moved (not skipped)" '[ "$(blobs_moved s1)" = 4 ]'
check "1 drops: the proxy dropped connections mid-blob (dropped=$(stat_of s1 dropped), connections=$(stat_of s1 connections))" \
	'[ "$(stat_of s1 dropped)" -ge 2 ]'
# resumed from the next byte, not downloaded again: less than 2 MiB over the image's 24
S1_BYTES=$(jq '[.bytes[]] | add' "$WORK/s1.stats")
check "1 drops: the downloads resumed where they were cut ($S1_BYTES bytes through the proxy)" \
	'[ "$S1_BYTES" -lt $(((24 + 2) << 20)) ]'
proxy_stop "$PROXY_PID"
verify_image 1 s1/img "$SRC_DIGEST" "$LAYOUT"

# --- 2. the destination answers 503 to its first 3 requests --------------------
proxy_start s2 "$DST_PORT" --fail-first 3 --status 503
run_copy s2 "$SRC" "docker://127.0.0.1:$PROXY_PORT/s2/img:v1" --plain-http
check "2 503s: the copy finishes (exit $RC, $ELAPSED_MS ms) with the source's digest" \
	'[ "$RC" = 0 ] && [ "$COPIED" = "$SRC_DIGEST" ]'
[ "$RC" = 0 ] || sed 's/^/#   /' "$WORK/logs/s2.err" | tail -n 5
check "2 503s: the 4 blobs were moved" '[ "$(blobs_moved s2)" = 4 ]'
check "2 503s: the proxy injected 3 answers (injected=$(stat_of s2 injected))" '[ "$(stat_of s2 injected)" = 3 ]'
proxy_stop "$PROXY_PID"
verify_image 2 s2/img "$SRC_DIGEST" "$LAYOUT"

# --- 3. the source answers 429 with Retry-After: 1 to its first 2 requests -----
proxy_start s3 "$SRC_PORT" --fail-first 2 --status 429 --retry-after 1
run_copy s3 "docker://127.0.0.1:$PROXY_PORT/app/img:v1" "docker://127.0.0.1:$DST_PORT/s3/img:v1" --plain-http
check "3 429s: the copy finishes (exit $RC, $ELAPSED_MS ms) with the source's digest" \
	'[ "$RC" = 0 ] && [ "$COPIED" = "$SRC_DIGEST" ]'
[ "$RC" = 0 ] || sed 's/^/#   /' "$WORK/logs/s3.err" | tail -n 5
check "3 429s: the proxy injected 2 answers (injected=$(stat_of s3 injected))" '[ "$(stat_of s3 injected)" = 2 ]'
check "3 429s: Retry-After was honoured (the copy took >= 1 s: $ELAPSED_MS ms)" '[ "$ELAPSED_MS" -ge 1000 ]'
proxy_stop "$PROXY_PID"
verify_image 3 s3/img "$SRC_DIGEST" "$LAYOUT"

# --- 4a. the destination answers 503 to everything ---------------------------------
proxy_start s4 "$DST_PORT" --fail-first 100000 --status 503
run_copy s4 "$SRC" "docker://127.0.0.1:$PROXY_PORT/s4/img:v1" --plain-http
check "4a persistent 503: the copy fails with exit 1 (got $RC)" '[ "$RC" = 1 ]'
check "4a persistent 503: within 60 s ($ELAPSED_MS ms)" '[ "$ELAPSED_MS" -lt 60000 ]'
if grep -q -i '503\|unavailable\|retr' "$WORK/logs/s4.err"; then
	ok "4a persistent 503: stderr says why: $(head -n 1 "$WORK/logs/s4.err")"
else
	notok "4a persistent 503: stderr does not mention 503 or retries: $(head -n 3 "$WORK/logs/s4.err")"
fi
check "4a persistent 503: the proxy answered every request (injected=$(stat_of s4 injected), forwarded=$(stat_of s4 forwarded))" \
	'[ "$(stat_of s4 forwarded)" = 0 ] && [ "$(stat_of s4 injected)" -gt 1 ]'
proxy_stop "$PROXY_PID"
nothing_published 4a s4/img "$SRC_DIGEST"

# --- 4b. the destination turns to 503 in the middle of the copy --------------------
# faultproxy has no "fail after N requests": a slow proxy (--delay-ms) is
# replaced, on the same port, by one that answers 503 to everything once the
# destination has received the first blob upload.
proxy_start s4b "$DST_PORT" --delay-ms 150
P4B=$PROXY_PORT P4B_PID=$PROXY_PID
t0=$(now_ms)
"$ECR" copy --json --parallel 1 --plain-http "$SRC" "docker://127.0.0.1:$P4B/s4b/img:v1" \
	>"$WORK/s4b.out" 2>"$WORK/logs/s4b.err" &
COPY_PID=$!
PIDS+=("$COPY_PID")
for _ in $(seq 400); do
	grep -q '"event":"blob_done"' "$WORK/s4b.out" 2>/dev/null && break
	kill -0 "$COPY_PID" 2>/dev/null || break
	sleep 0.025
done
proxy_stop "$P4B_PID"
PROXY_LISTEN=127.0.0.1:$P4B proxy_start s4b-503 "$DST_PORT" --fail-first 100000 --status 503
wait "$COPY_PID"
RC=$?
ELAPSED_MS=$(($(now_ms) - t0))
echo "# s4b: exit $RC in $ELAPSED_MS ms, $(blobs_moved s4b) blob(s) stored before the 503s"
check "4b 503 mid-copy: the copy fails with exit 1 (got $RC) within 60 s ($ELAPSED_MS ms)" \
	'[ "$RC" = 1 ] && [ "$ELAPSED_MS" -lt 60000 ]'
check "4b 503 mid-copy: some blobs were stored before ($(blobs_moved s4b)) and the 503s were seen ($(stat_of s4b-503 injected))" \
	'[ "$(blobs_moved s4b)" -ge 1 ] && [ "$(blobs_moved s4b)" -lt 4 ] && [ "$(stat_of s4b-503 injected)" -ge 1 ]'
if grep -q -i '503\|unavailable\|retr' "$WORK/logs/s4b.err"; then
	ok "4b 503 mid-copy: stderr says why: $(head -n 1 "$WORK/logs/s4b.err")"
else
	notok "4b 503 mid-copy: stderr does not mention 503 or retries: $(head -n 3 "$WORK/logs/s4b.err")"
fi
proxy_stop "$PROXY_PID"
nothing_published 4b s4b/img "$SRC_DIGEST"

# --- 5. the source drops every connection after 256 KiB ----------------------------
# (less than the 1 MiB of progress that resets the stream's resume budget)
proxy_start s5 "$SRC_PORT" --drop-every $((256 << 10))
run_copy s5 "docker://127.0.0.1:$PROXY_PORT/app/img:v1" "docker://127.0.0.1:$DST_PORT/s5/img:v1" --plain-http
check "5 drop-every: the copy fails with exit 1 (got $RC) within 60 s ($ELAPSED_MS ms)" \
	'[ "$RC" = 1 ] && [ "$ELAPSED_MS" -lt 60000 ]'
if grep -q 'ECR_ENETWORK' "$WORK/logs/s5.err"; then
	ok "5 drop-every: stderr says why: $(head -n 1 "$WORK/logs/s5.err")"
else
	notok "5 drop-every: stderr has no ECR_ENETWORK: $(head -n 3 "$WORK/logs/s5.err")"
fi
check "5 drop-every: the proxy dropped connections (dropped=$(stat_of s5 dropped))" '[ "$(stat_of s5 dropped)" -ge 2 ]'
proxy_stop "$PROXY_PID"
nothing_published 5 s5/img "$SRC_DIGEST"

# --- 6. delays ------------------------------------------------------------------------
# The transport gives up after 60 s without progress (ecr has no timeout option),
# and retries that: a delay above it would take minutes. A slow source instead.
proxy_start s6 "$SRC_PORT" --delay-ms 2
run_copy s6 "docker://127.0.0.1:$PROXY_PORT/app/img:v1" "docker://127.0.0.1:$DST_PORT/s6/img:v1" --plain-http
check "6 delays: a slow source (2 ms per response chunk) copies (exit $RC, $ELAPSED_MS ms) with the source's digest" \
	'[ "$RC" = 0 ] && [ "$COPIED" = "$SRC_DIGEST" ]'
proxy_stop "$PROXY_PID"
verify_image 6 s6/img "$SRC_DIGEST" "$LAYOUT"
echo "ok - 6 # SKIP a delay above the 60 s no-progress timeout: ecr has no timeout option"
skip=$((skip + 1))

# --- 7. the destination ecrd is killed (SIGKILL) in the middle of a chunked upload -----
BIG=$WORK/big
BIG_DIGEST=$(make_layout "$BIG" v1 48)
proxy_start s7 "$DST_PORT" --delay-ms 150
t0=$(now_ms)
"$ECR" copy --json --plain-http "oci:$BIG:v1" "docker://127.0.0.1:$PROXY_PORT/s7/img:v1" \
	>"$WORK/s7.out" 2>"$WORK/logs/s7.err" &
COPY_PID=$!
PIDS+=("$COPY_PID")
killed=0
for _ in $(seq 400); do
	if [ "$(grep -c 'PATCH /v2/s7/img/blobs/uploads/' "$WORK/logs/ecrd-dst.log")" -ge 2 ]; then
		kill -KILL "$DST_PID" && killed=1
		break
	fi
	kill -0 "$COPY_PID" 2>/dev/null || break
	sleep 0.02
done
wait "$DST_PID" 2>/dev/null
wait "$COPY_PID" 2>/dev/null
RC=$?
ELAPSED_MS=$(($(now_ms) - t0))
echo "# s7: exit $RC in $ELAPSED_MS ms"
check "7 kill -9: ecrd was killed during the 48 MiB upload (after 2 chunks)" '[ "$killed" = 1 ]'
check "7 kill -9: the copy fails with exit 1 (got $RC) within 60 s ($ELAPSED_MS ms)" \
	'[ "$RC" = 1 ] && [ "$ELAPSED_MS" -lt 60000 ]'
echo "# s7 stderr: $(head -n 1 "$WORK/logs/s7.err")"
proxy_stop "$PROXY_PID"
if integ_start_ecrd "$ECRD" "$WORK/dst" "$WORK/logs/ecrd-dst2.log" --listen "127.0.0.1:$DST_PORT"; then
	DST_PID=$ECRD_PID
	PIDS+=("$DST_PID")
	ok "7 kill -9: ecrd restarts on the same data folder and port"
	SRC_DIGEST_SAVE=$SRC_DIGEST LAYOUT_SAVE=$LAYOUT
	SRC_DIGEST=$BIG_DIGEST LAYOUT=$BIG
	nothing_published 7 s7/img "$BIG_DIGEST"
	SRC_DIGEST=$SRC_DIGEST_SAVE LAYOUT=$LAYOUT_SAVE
	run_copy s7-again "oci:$BIG:v1" "docker://127.0.0.1:$DST_PORT/s7/img:v1" --dest-plain-http
	check "7 kill -9: the copy again finishes (exit $RC, $ELAPSED_MS ms) with the image's digest" \
		'[ "$RC" = 0 ] && [ "$COPIED" = "$BIG_DIGEST" ]'
	verify_image 7 s7/img "$BIG_DIGEST" "$BIG"
	# the images copied before the kill are intact
	verify_image 7-earlier s1/img "$SRC_DIGEST" "$LAYOUT"
else
	notok "7 kill -9: ecrd does not restart on its data folder: $(tail -n 5 "$WORK/logs/ecrd-dst2.log")"
fi

# --- shutdown, sanitizers -----------------------------------------------------------
# stopped here so that their leak reports are in the logs checked below
integ_stop "$SRC_PID"
src_rc=$?
integ_stop "$DST_PID"
dst_rc=$?
check "both ecrd stop cleanly on SIGTERM (exit $src_rc, $dst_rc)" '[ "$src_rc" = 0 ] && [ "$dst_rc" = 0 ]'
if grep -l 'ERROR: \(Address\|Leak\|Undefined\)Sanitizer\|runtime error:' "$WORK"/logs/* >/dev/null 2>&1; then
	notok "sanitizer report"
	grep -h -A5 'Sanitizer\|runtime error' "$WORK"/logs/* | head -n 40
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
