# shellcheck shell=bash
# Shared helpers of the AWS CLI tests of tests/ecr_api (sourced, not run).
# Starting and stopping ecrd comes from tests/integration/common.sh.
#
# ecr_api_init ECRD TOOL...    usage check (exit 2), missing tools (exit 1); sets ECRD, AWS
#                              (/usr/bin/aws), MODEL (the reference model), the counters
# ecr_api_need_model           exit 1 when $MODEL is not readable
# ecr_api_workdir PREFIX       WORK=$(mktemp -d /tmp/PREFIX.XXXXXX), DATA; EXIT trap cleanup
# ecr_api_aws_env              HOME, AWS_SHARED_CREDENTIALS_FILE (the file ecrd writes in
#                              $DATA), an empty AWS_CONFIG_FILE, region; no other AWS_* variable
# ecr_api_models               $WORK/models: the reference model for AWS_DATA_PATH (ecr_ref)
# start_ecrd ARGS...           ecrd with auth on a free port of 127.0.0.1: ECRD_PID, PORT,
#                              ENDPOINT; stderr in $LOG, stdout in $OUT (new files each start)
# stop_ecrd                    SIGTERM (SIGKILL after 10 s); returns ecrd's exit status
# ok NAME / notok NAME [DETAIL...]   one "ok N - NAME" / "not ok N - NAME" line
# ecr ARGS... / ecr_ref ARGS...      the CLI against ecrd (ecr_ref: with the reference model);
#                                    stdout in $RES, stderr in $ERR, status in $RC
# expect NAME JQ-FILTER / expect_error NAME CODE   checks of the last ecr call
# upload_layer REPOSITORY FILE NAME  FILE through the layer API, checked as NAME
# ecr_api_check_sanitizers     a check: no sanitizer report in the logs of every ecrd started
# ecr_api_done                 the "N passed, M failed" line; fails when anything failed

# shellcheck source=../integration/common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/common.sh"

ecr_api_init() {
	ECRD=$1
	shift
	AWS=/usr/bin/aws
	MODEL=${ECR_SERVICE_MODEL:-/work/shared/reference/ecr-service-2.json}
	PASS=0
	FAIL=0
	N=0
	ECRD_PID=
	ECRD_RUNS=0
	WORK=
	if [ -z "$ECRD" ] || [ ! -x "$ECRD" ]; then
		echo "usage: $0 /path/to/ecrd" >&2
		exit 2
	fi
	local tool
	for tool in "$AWS" "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "$tool is missing (scripts/deps.sh installs it)"
			echo "0 passed, 1 failed"
			exit 1
		fi
	done
}

ecr_api_need_model() {
	if [ ! -r "$MODEL" ]; then
		echo "the reference model $MODEL is missing (set ECR_SERVICE_MODEL)"
		echo "0 passed, 1 failed"
		exit 1
	fi
}

ecr_api_workdir() {
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	DATA=$WORK/data
	trap ecr_api_cleanup EXIT
}

ecr_api_cleanup() {
	stop_ecrd
	[ -n "$WORK" ] && rm -rf "$WORK"
}

ecr_api_aws_env() {
	export HOME=$WORK/home
	mkdir -p "$HOME"
	export AWS_SHARED_CREDENTIALS_FILE=$DATA/credentials
	export AWS_CONFIG_FILE=$WORK/aws-config
	: >"$AWS_CONFIG_FILE"
	export AWS_DEFAULT_REGION=us-east-1
	export AWS_PAGER=""
	export AWS_MAX_ATTEMPTS=1
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_DATA_PATH
}

ecr_api_models() {
	mkdir -p "$WORK/models/ecr/2015-09-21"
	cp "$MODEL" "$WORK/models/ecr/2015-09-21/service-2.json"
}

ok() {
	N=$((N + 1))
	PASS=$((PASS + 1))
	echo "ok $N - $1"
}
notok() {
	N=$((N + 1))
	FAIL=$((FAIL + 1))
	echo "not ok $N - $1"
	shift
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /' | head -n 30
}

# Each start logs to a new $WORK/ecrd.K.log (integ_start_ecrd truncates its log),
# so that ecr_api_check_sanitizers sees every run.
start_ecrd() {
	ECRD_RUNS=$((ECRD_RUNS + 1))
	LOG=$WORK/ecrd.$ECRD_RUNS.log
	OUT=$LOG.out
	if ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$DATA" "$LOG" "$@" </dev/null 2>/dev/null; then
		PORT=$ECRD_PORT
		ENDPOINT=http://127.0.0.1:$PORT
		return 0
	fi
	echo "ecrd did not start; stdout:"
	cat "$OUT"
	tail -n 30 "$LOG"
	echo "$PASS passed, $((FAIL + 1)) failed"
	exit 1
}

stop_ecrd() {
	local rc
	integ_stop "$ECRD_PID"
	rc=$?
	ECRD_PID=
	return "$rc"
}

ecr() {
	RES=$("$AWS" --endpoint-url "$ENDPOINT" --output json ecr "$@" 2>"$WORK/err")
	RC=$?
	ERR=$(cat "$WORK/err")
}
ecr_ref() {
	RES=$(AWS_DATA_PATH=$WORK/models "$AWS" --endpoint-url "$ENDPOINT" --output json ecr "$@" 2>"$WORK/err")
	RC=$?
	ERR=$(cat "$WORK/err")
}
# expect NAME JQ-FILTER: the last ecr call succeeded and the filter is true on its output.
expect() {
	local name=$1 filter=$2
	if [ "$RC" -eq 0 ] && printf '%s' "${RES:-{\}}" | jq -e "$filter" >/dev/null 2>&1; then
		ok "$name"
	else
		notok "$name" "exit $RC" "filter: $filter" "stdout: $RES" "stderr: $ERR"
	fi
}
# expect_error NAME CODE: the last ecr call failed with that error code.
expect_error() {
	local name=$1 code=$2
	if [ "$RC" -ne 0 ] && printf '%s' "$ERR" | grep -q "($code)"; then
		ok "$name"
	else
		notok "$name" "exit $RC, expected ($code)" "stdout: $RES" "stderr: $ERR"
	fi
}

upload_layer() {
	local repo=$1 file=$2 name=$3 digest upload_id size
	digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
	size=$(stat -c %s "$file")
	ecr initiate-layer-upload --repository-name "$repo"
	upload_id=$(printf '%s' "$RES" | jq -r .uploadId)
	ecr upload-layer-part --repository-name "$repo" --upload-id "$upload_id" --part-first-byte 0 \
		--part-last-byte $((size - 1)) --layer-part-blob "fileb://$file"
	ecr complete-layer-upload --repository-name "$repo" --upload-id "$upload_id" --layer-digests "$digest"
	expect "$name" ".layerDigest == \"$digest\""
}

ecr_api_check_sanitizers() {
	local logs=("$WORK"/ecrd.*.log)
	if cat "${logs[@]}" | grep -qE "AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer"; then
		notok "no sanitizer report in the ecrd log" "$(cat "${logs[@]}" | grep -m1 -A20 -E "Sanitizer|runtime error:")"
	else
		ok "no sanitizer report in the ecrd log"
	fi
}

ecr_api_done() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
