#!/usr/bin/env bash
# A 1 GiB blob through ecrd, streamed: a monolithic POST ?digest= push, a
# chunked push (PATCH with Content-Range, 64 MiB chunks, then PUT ?digest=),
# each pulled back with curl and compared by sha256; ecrd's peak RSS (VmHWM)
# must stay under 200 MiB the whole time.
#
#   big_blob.sh path/to/ecrd
#
# Env: BIG_MB (default 1024) blob size in MiB; RSS_LIMIT_MB (default 200);
# INTEG_SANITIZE: the build's b_sanitize; when it is not "none" the RSS figure
# is reported but not enforced (the sanitizer's shadow memory and quarantine
# are counted in RSS).
set -uo pipefail

ECRD=${1:?usage: big_blob.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

BIG_MB=${BIG_MB:-1024}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-200}
SANITIZE=${INTEG_SANITIZE:-none}
CHUNK=$((64 * 1024 * 1024))

integ_need_packages curl || exit 1

WORK=$(mktemp -d /tmp/integ-big.XXXXXX)
ECRD_PID=
cleanup() {
	integ_stop "$ECRD_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=()
fail() { failures+=("$*"); echo "FAIL: $*"; }
hwm_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$ECRD_PID/status" 2>/dev/null; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$ECRD_PID/status" 2>/dev/null; }
sha() { printf 'sha256:%s' "$(sha256sum "$1" | cut -d' ' -f1)"; }

mkdir -p "$WORK/data"
integ_start_ecrd "$ECRD" "$WORK/data" "$WORK/ecrd.log" || exit 1
BASE=http://127.0.0.1:$ECRD_PORT
echo "ecrd pid $ECRD_PID on $BASE; idle RSS $(rss_kb) kB"

# Two blobs: random bytes, and the same with a different tail (so that the
# chunked push is a new digest, not a blob the store already has).
echo "generating a $BIG_MB MiB random blob"
head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$WORK/blob1" || exit 1
cp "$WORK/blob1" "$WORK/blob2" && head -c 32 /dev/urandom | dd of="$WORK/blob2" bs=32 seek=$((BIG_MB * 32768 - 1)) \
	conv=notrunc status=none || exit 1
SIZE=$(stat -c %s "$WORK/blob1")
D1=$(sha "$WORK/blob1")
D2=$(sha "$WORK/blob2")
[ "$SIZE" -eq "$(stat -c %s "$WORK/blob2")" ] && [ "$D1" != "$D2" ] || { echo "FAIL: test blobs" >&2; exit 1; }

# absolute URL of a Location header
absolute() { case $1 in http://*) printf '%s' "$1" ;; *) printf '%s%s' "$BASE" "$1" ;; esac; }
location() { tr -d '\r' <"$1" | awk 'tolower($1) == "location:" { print $2 }' | tail -n 1; }

# --- monolithic: POST ?digest= with the whole body ---------------------------------
# The body is streamed from stdin with an explicit Content-Length: curl 7.88
# loads a --data-binary @file whole and refuses 1 GiB ("out of memory"), and
# -T FILE would append the file name to a URL path ending in '/'.
t0=$(date +%s.%N)
code=$(curl -sS -o "$WORK/mono.body" -D "$WORK/mono.h" -w '%{http_code}' -X POST \
	-H 'Content-Type: application/octet-stream' -H "Content-Length: $SIZE" -H 'Transfer-Encoding:' -T - \
	"$BASE/v2/big/mono/blobs/uploads/?digest=$D1" <"$WORK/blob1")
t1=$(date +%s.%N)
if [ "$code" = 201 ]; then
	echo "monolithic push: 201 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; ecrd VmHWM $(hwm_kb) kB"
else
	fail "monolithic POST ?digest=: HTTP $code $(head -c 300 "$WORK/mono.body" 2>/dev/null)"
fi

# --- chunked: POST, PATCH x N with Content-Range, PUT ?digest= -------------------------
chunked() {
	local code url off=0 end n=0
	code=$(curl -sS -o "$WORK/c.body" -D "$WORK/c.h" -w '%{http_code}' -X POST "$BASE/v2/big/chunked/blobs/uploads/")
	[ "$code" = 202 ] || { fail "chunked: POST answered $code $(head -c 300 "$WORK/c.body")"; return; }
	url=$(absolute "$(location "$WORK/c.h")")
	while [ "$off" -lt "$SIZE" ]; do
		end=$((off + CHUNK))
		[ "$end" -le "$SIZE" ] || end=$SIZE
		tail -c +$((off + 1)) "$WORK/blob2" | head -c $((end - off)) >"$WORK/chunk"
		code=$(curl -sS -o "$WORK/c.body" -D "$WORK/c.h" -w '%{http_code}' -X PATCH \
			-H 'Content-Type: application/octet-stream' -H "Content-Range: $off-$((end - 1))" \
			--data-binary @"$WORK/chunk" "$url")
		[ "$code" = 202 ] || { fail "chunked: PATCH $off-$((end - 1)) answered $code $(head -c 300 "$WORK/c.body")"; return; }
		url=$(absolute "$(location "$WORK/c.h")")
		off=$end
		n=$((n + 1))
	done
	case $url in *\?*) url="$url&digest=$D2" ;; *) url="$url?digest=$D2" ;; esac
	code=$(curl -sS -o "$WORK/c.body" -w '%{http_code}' -X PUT "$url")
	[ "$code" = 201 ] || { fail "chunked: final PUT answered $code $(head -c 300 "$WORK/c.body")"; return; }
	echo "chunked push: $n PATCHes of 64 MiB, 201; ecrd VmHWM $(hwm_kb) kB"
}
t0=$(date +%s.%N)
chunked
rm -f "$WORK/chunk"
echo "chunked push took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

# --- pull both back ----------------------------------------------------------------------
pull() { # REPO DIGEST
	local code got
	rm -f "$WORK/out"
	code=$(curl -sS -o "$WORK/out" -w '%{http_code}' "$BASE/v2/$1/blobs/$2")
	[ "$code" = 200 ] || { fail "GET $1 blob: HTTP $code"; return; }
	got=$(sha "$WORK/out")
	[ "$got" = "$2" ] || { fail "GET $1 blob: sha256 $got, pushed $2"; return; }
	echo "pull $1: $(stat -c %s "$WORK/out") bytes, sha256 matches; ecrd VmHWM $(hwm_kb) kB"
}
pull big/mono "$D1"
pull big/chunked "$D2"
rm -f "$WORK/out" "$WORK/blob1" "$WORK/blob2"

HWM=$(hwm_kb)
echo "ecrd peak RSS (VmHWM): $((HWM / 1024)) MiB ($HWM kB); limit $RSS_LIMIT_MB MiB"
if [ -z "$HWM" ]; then
	fail "could not read /proc/$ECRD_PID/status (ecrd died?)"
elif [ "$HWM" -ge $((RSS_LIMIT_MB * 1024)) ]; then
	if [ "$SANITIZE" = none ]; then
		fail "ecrd peak RSS $((HWM / 1024)) MiB >= $RSS_LIMIT_MB MiB"
	else
		echo "(sanitizer build, b_sanitize=$SANITIZE: the RSS limit is not enforced)"
	fi
fi

integ_stop "$ECRD_PID"
rc=$?
ECRD_PID=
[ "$rc" -eq 0 ] || fail "ecrd exit status $rc after SIGTERM"
if grep -Eq 'AddressSanitizer|runtime error:|LeakSanitizer' "$WORK/ecrd.log"; then
	fail "sanitizer report in ecrd's log"
	grep -E -A 30 'AddressSanitizer|runtime error:|LeakSanitizer' "$WORK/ecrd.log" | head -n 60
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "${#failures[@]} problem(s):"
	printf '  %s\n' "${failures[@]}"
	echo "ecrd log (last 20 lines):"
	tail -n 20 "$WORK/ecrd.log"
	exit 1
fi
echo "all passed"
exit 0
