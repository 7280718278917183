#!/usr/bin/env bash
# The transport is transparent: api_transcript runs one scenario over the
# public API on a file:// registry, then on a fresh registry served by a real
# ecrd (authentication on: SigV4 for the ECR API, "AWS:<token>" for /v2/)
# through http://, and the two transcripts must be identical.
#   transparency.sh API_TRANSCRIPT ECRD
set -uo pipefail
TRANSCRIPT=${1:?usage: transparency.sh API_TRANSCRIPT ECRD}
ECRD=${2:?usage: transparency.sh API_TRANSCRIPT ECRD}
# shellcheck source=common.sh
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

WORK=$(mktemp -d /tmp/ecr-transparency.XXXXXX)
ECRD_PID=
cleanup() { integ_stop "$ECRD_PID"; rm -rf "$WORK"; }
trap cleanup EXIT
export HOME=$WORK/home AWS_CONFIG_FILE=$WORK/aws-config AWS_DEFAULT_REGION=us-east-1
mkdir -p "$HOME"
: >"$AWS_CONFIG_FILE"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL

pass=0 fail=0
"$TRANSCRIPT" "file://$WORK/local" >"$WORK/local.txt" 2>"$WORK/local.err" || true
if ! ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$WORK/served" "$WORK/ecrd.log"; then
	echo "not ok - ecrd did not start"
	echo "0 passed, 1 failed"
	exit 1
fi
export AWS_SHARED_CREDENTIALS_FILE=$WORK/served/credentials
TRANSCRIPT_VERBOSE=1 "$TRANSCRIPT" "http://127.0.0.1:$ECRD_PORT" >"$WORK/remote.txt" 2>"$WORK/remote.err" || true

lines=$(wc -l <"$WORK/local.txt")
if [ "$(tail -n 1 "$WORK/local.txt")" = end ] && [ "$lines" -gt 100 ]; then
	echo "ok - the scenario ran to its end on file:// ($lines lines)"
	pass=$((pass + 1))
else
	echo "not ok - the scenario did not finish on file://"
	tail -n 5 "$WORK/local.txt" "$WORK/local.err"
	fail=$((fail + 1))
fi
if diff -u "$WORK/local.txt" "$WORK/remote.txt" >"$WORK/diff.txt"; then
	echo "ok - identical transcripts on file:// and through ecrd over http://"
	pass=$((pass + 1))
else
	echo "not ok - the transcripts differ (file:// vs http://):"
	sed 's/^/    /' "$WORK/diff.txt" | head -n 80
	echo "    remote errors:"
	sed 's/^/    /' "$WORK/remote.err" | head -n 40
	fail=$((fail + 1))
fi
if grep -q 'ERROR: \(Address\|Leak\|Undefined\)Sanitizer\|runtime error:' "$WORK/ecrd.log" "$WORK/local.err" "$WORK/remote.err"; then
	echo "not ok - sanitizer report"
	grep -h -A5 'Sanitizer\|runtime error' "$WORK/ecrd.log" "$WORK/local.err" "$WORK/remote.err" | head -n 30
	fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
