#!/usr/bin/env bash
# End-to-end test of lifecycle policies and the archive storage class (issue 5)
# with the real AWS CLI (/usr/bin/aws) against ecrd.
#
# Usage: test_lifecycle_cli.sh /path/to/ecrd   (or ECRD=...)
# Starts ecrd with a temporary --data and --lifecycle-interval 0 (auth on, the
# credentials file it writes on first start), pushes five images through the
# layer API and put-image, puts a lifecycle policy, previews it
# (start-lifecycle-policy-preview, `aws ecr wait lifecycle-policy-preview-complete`,
# get-lifecycle-policy-preview), then applies it the way ecrd does: a restart
# with --lifecycle-interval 1, and checks that describe-images shows exactly the
# images the preview kept. Then update-image-storage-class to ARCHIVE and back,
# describe-images --filter imageStatus=ARCHIVED. The Debian CLI predates
# UpdateImageStorageClass and the imageStatus filter: those calls use the
# reference model (ecr-service-2.json) through AWS_DATA_PATH.
# Output: one "ok N - name" / "not ok N - name" line per check, the last line
# "N passed, M failed"; exit status 1 when anything failed.
set -u

ECRD=${ECRD:-${1:-}}
AWS=/usr/bin/aws
MODEL=${ECR_SERVICE_MODEL:-/work/shared/reference/ecr-service-2.json}
PASS=0
FAIL=0
N=0
ECRD_PID=

if [ -z "$ECRD" ] || [ ! -x "$ECRD" ]; then
	echo "usage: $0 /path/to/ecrd" >&2
	exit 2
fi
for tool in "$AWS" jq sha256sum; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$tool is missing (scripts/deps.sh installs it)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done
if [ ! -r "$MODEL" ]; then
	echo "the reference model $MODEL is missing (set ECR_SERVICE_MODEL)"
	echo "0 passed, 1 failed"
	exit 1
fi

WORK=$(mktemp -d /tmp/ecr-lifecycle-cli.XXXXXX)
DATA=$WORK/data
LOG=$WORK/ecrd.log
OUT=$WORK/ecrd.out

stop_ecrd() {
	if [ -n "$ECRD_PID" ] && kill -0 "$ECRD_PID" 2>/dev/null; then
		kill -TERM "$ECRD_PID" 2>/dev/null
		wait "$ECRD_PID" 2>/dev/null
	fi
	ECRD_PID=
}
cleanup() {
	stop_ecrd
	rm -rf "$WORK"
}
trap cleanup EXIT

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

# start_ecrd ARGS...: ecrd on 127.0.0.1, a free port, in $PORT.
start_ecrd() {
	: >"$OUT"
	"$ECRD" --listen 127.0.0.1:0 --data "$DATA" "$@" >"$OUT" 2>>"$LOG" </dev/null &
	ECRD_PID=$!
	for _ in $(seq 1 150); do
		PORT=$(sed -n 's/^ecrd: listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$OUT")
		[ -n "$PORT" ] && ENDPOINT=http://127.0.0.1:$PORT && return 0
		if ! kill -0 "$ECRD_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "ecrd did not start; stdout:"
	cat "$OUT"
	tail -n 30 "$LOG"
	echo "$PASS passed, $((FAIL + 1)) failed"
	exit 1
}

export HOME=$WORK/home
mkdir -p "$HOME" "$WORK/models/ecr/2015-09-21"
cp "$MODEL" "$WORK/models/ecr/2015-09-21/service-2.json"
export AWS_SHARED_CREDENTIALS_FILE=$DATA/credentials
export AWS_CONFIG_FILE=$WORK/aws-config
: >"$AWS_CONFIG_FILE"
export AWS_DEFAULT_REGION=us-east-1
export AWS_PAGER=""
export AWS_MAX_ATTEMPTS=1
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_DATA_PATH

"$ECRD" --listen 127.0.0.1:0 --data "$WORK/unused" --lifecycle-interval soon >/dev/null 2>"$WORK/usage.err" </dev/null
RC=$?
if [ "$RC" -eq 2 ] && grep -q -- "--lifecycle-interval 'soon'" "$WORK/usage.err"; then
	ok "ecrd --lifecycle-interval with a bad value: exit status 2"
else
	notok "ecrd --lifecycle-interval with a bad value: exit status 2" "exit $RC" "$(cat "$WORK/usage.err")"
fi

start_ecrd --lifecycle-interval 0
if grep -q "lifecycle policies are not applied" "$LOG"; then
	ok "ecrd --lifecycle-interval 0 says it will not apply policies"
else
	notok "ecrd --lifecycle-interval 0 says it will not apply policies" "$(tail -n 5 "$LOG")"
fi

REPO=lc-$$-app
OTHER=lc-$$-other

# ecr ARGS...: run the CLI against ecrd; stdout in $RES, stderr in $ERR, status in $RC.
ecr() {
	RES=$("$AWS" --endpoint-url "$ENDPOINT" --output json ecr "$@" 2>"$WORK/err")
	RC=$?
	ERR=$(cat "$WORK/err")
}
# ecr_ref ARGS...: the same with the reference model.
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
# The digests describe-images lists (sorted, space separated), with extra arguments.
digests() {
	printf '%s' "$RES" | jq -r '[.imageDetails[].imageDigest] | sort | join(" ")'
}

ecr create-repository --repository-name "$REPO"
expect "create-repository" ".repository.repositoryName == \"$REPO\""
ecr create-repository --repository-name "$OTHER"
expect "create-repository (a second one)" ".repository.repositoryName == \"$OTHER\""

# Five images sharing a config and a layer (uploaded through the layer API),
# told apart by an annotation: release-1 first (the oldest), then v1..v4.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config.json"
printf 'layer bytes of the lifecycle test\n' >"$WORK/layer.bin"
for file in config.json layer.bin; do
	digest=sha256:$(sha256sum "$WORK/$file" | cut -d' ' -f1)
	size=$(stat -c %s "$WORK/$file")
	ecr initiate-layer-upload --repository-name "$REPO"
	upload_id=$(printf '%s' "$RES" | jq -r .uploadId)
	ecr upload-layer-part --repository-name "$REPO" --upload-id "$upload_id" --part-first-byte 0 \
		--part-last-byte $((size - 1)) --layer-part-blob "fileb://$WORK/$file"
	ecr complete-layer-upload --repository-name "$REPO" --upload-id "$upload_id" --layer-digests "$digest"
	expect "upload $file through the layer API" ".layerDigest == \"$digest\""
done
CFG_D=sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)
LAY_D=sha256:$(sha256sum "$WORK/layer.bin" | cut -d' ' -f1)
declare -A D
for tag in release-1 v1 v2 v3 v4; do
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}],"annotations":{"tag":"%s"}}' \
		"$CFG_D" "$(stat -c %s "$WORK/config.json")" "$LAY_D" "$(stat -c %s "$WORK/layer.bin")" "$tag" \
		>"$WORK/$tag.json"
	D[$tag]=sha256:$(sha256sum "$WORK/$tag.json" | cut -d' ' -f1)
	ecr put-image --repository-name "$REPO" --image-tag "$tag" --image-manifest "file://$WORK/$tag.json"
	expect "put-image $tag" ".image.imageId.imageDigest == \"${D[$tag]}\""
	sleep 0.05
done

# Rule 1 claims release-* images (none is expired: fewer than 5); rule 2 keeps
# the two newest of everything else: v1 and v2 expire, release-1 (older still)
# is protected by rule 1.
cat >"$WORK/policy.json" <<'EOF'
{"rules": [
  {"rulePriority": 1, "description": "keep releases",
   "selection": {"tagStatus": "tagged", "tagPrefixList": ["release"], "countType": "imageCountMoreThan", "countNumber": 5},
   "action": {"type": "expire"}},
  {"rulePriority": 2, "description": "keep the two newest images",
   "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 2},
   "action": {"type": "expire"}}
]}
EOF
POLICY=$(jq -c . "$WORK/policy.json")

ecr get-lifecycle-policy --repository-name "$REPO"
expect_error "get-lifecycle-policy before any: LifecyclePolicyNotFoundException" LifecyclePolicyNotFoundException
ecr put-lifecycle-policy --repository-name "$REPO" --lifecycle-policy-text \
	'{"rules":[{"rulePriority":0,"description":"priority zero is not allowed","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}'
expect_error "put-lifecycle-policy with an invalid policy: InvalidParameterException" InvalidParameterException
ecr put-lifecycle-policy --repository-name "$REPO" --lifecycle-policy-text "$POLICY"
expect "put-lifecycle-policy" ".repositoryName == \"$REPO\" and .lifecyclePolicyText == $(jq -n --arg p "$POLICY" '$p') and (.registryId | length == 12)"
ecr get-lifecycle-policy --repository-name "$REPO"
expect "get-lifecycle-policy" ".repositoryName == \"$REPO\" and (.lifecyclePolicyText | fromjson | .rules | length) == 2 and (has(\"lastEvaluatedAt\") | not)"

ecr get-lifecycle-policy-preview --repository-name "$REPO"
expect_error "get-lifecycle-policy-preview before a start: LifecyclePolicyPreviewNotFoundException" LifecyclePolicyPreviewNotFoundException
ecr start-lifecycle-policy-preview --repository-name "$OTHER"
expect_error "start-lifecycle-policy-preview without a policy: LifecyclePolicyNotFoundException" LifecyclePolicyNotFoundException
ecr start-lifecycle-policy-preview --repository-name "$REPO"
expect "start-lifecycle-policy-preview" ".status == \"IN_PROGRESS\" and .repositoryName == \"$REPO\" and (.lifecyclePolicyText | fromjson | .rules | length) == 2"
ecr start-lifecycle-policy-preview --repository-name "$REPO"
expect_error "start-lifecycle-policy-preview again: LifecyclePolicyPreviewInProgressException" LifecyclePolicyPreviewInProgressException
"$AWS" --endpoint-url "$ENDPOINT" ecr wait lifecycle-policy-preview-complete --repository-name "$REPO" 2>"$WORK/err"
RC=$?
if [ "$RC" -eq 0 ]; then
	ok "wait lifecycle-policy-preview-complete"
else
	notok "wait lifecycle-policy-preview-complete" "exit $RC" "$(cat "$WORK/err")"
fi
# (the reference model: Debian's predates storageClass and drops it)
ecr_ref get-lifecycle-policy-preview --repository-name "$REPO"
expect "get-lifecycle-policy-preview: v1 and v2 expire by rule 2" "
	.status == \"COMPLETE\" and
	([.previewResults[].imageDigest] | sort) == ([\"${D[v1]}\", \"${D[v2]}\"] | sort) and
	all(.previewResults[]; .action.type == \"EXPIRE\" and .appliedRulePriority == 2 and .storageClass == \"STANDARD\") and
	([.previewResults[].imageTags[]] | sort) == [\"v1\", \"v2\"] and
	.summary.expiringImageTotalCount == 2 and (.summary | has(\"transitioningImageTotalCounts\") | not)"
KEPT=$(printf '%s\n' "${D[release-1]}" "${D[v3]}" "${D[v4]}" | sort | tr '\n' ' ' | sed 's/ $//')
ecr get-lifecycle-policy-preview --repository-name "$REPO" --max-items 1
expect "get-lifecycle-policy-preview --max-items 1" ".previewResults | length == 1"
ecr get-lifecycle-policy-preview --repository-name "$REPO" --image-ids imageTag=v2 imageTag=v4
expect "get-lifecycle-policy-preview --image-ids" "[.previewResults[].imageDigest] == [\"${D[v2]}\"]"
ecr get-lifecycle-policy-preview --repository-name "$OTHER"
expect_error "get-lifecycle-policy-preview of a repository never previewed: LifecyclePolicyPreviewNotFoundException" LifecyclePolicyPreviewNotFoundException
ecr describe-images --repository-name "$REPO"
expect "the preview changed nothing" ".imageDetails | length == 5"

# Apply: ecrd applies every policy on its schedule; restart it with a 1-second one.
stop_ecrd
start_ecrd --lifecycle-interval 1
after=
for _ in $(seq 1 50); do
	ecr describe-images --repository-name "$REPO"
	after=$(digests)
	[ "$RC" -eq 0 ] && [ "$(printf '%s' "$RES" | jq '.imageDetails | length')" = 3 ] && break
	sleep 0.2
done
if [ "$after" = "$KEPT" ]; then
	ok "after ecrd applied the policy, describe-images shows exactly the images the preview kept"
else
	notok "after ecrd applied the policy, describe-images shows exactly the images the preview kept" \
		"expected: $KEPT" "got:      $after" "$(tail -n 10 "$LOG")"
fi
ecr get-lifecycle-policy --repository-name "$REPO"
expect "get-lifecycle-policy after the application has lastEvaluatedAt" "has(\"lastEvaluatedAt\")"
if grep -q "lifecycle: .*2 images expired" "$LOG"; then
	ok "ecrd logs a lifecycle summary line"
else
	notok "ecrd logs a lifecycle summary line" "$(grep lifecycle "$LOG" | tail -n 5)"
fi
t0=$(date +%s%N)
stop_ecrd
t1=$(date +%s%N)
if [ $(((t1 - t0) / 1000000)) -lt 5000 ]; then
	ok "ecrd with the lifecycle thread stops promptly on SIGTERM"
else
	notok "ecrd with the lifecycle thread stops promptly on SIGTERM" "$(((t1 - t0) / 1000000)) ms"
fi
start_ecrd --lifecycle-interval 0

# Archive and restore.
ecr_ref update-image-storage-class --repository-name "$REPO" --image-id imageTag=v3 --target-storage-class ARCHIVE
expect "update-image-storage-class ARCHIVE" ".imageStatus == \"ARCHIVED\" and .imageId.imageDigest == \"${D[v3]}\""
ecr describe-images --repository-name "$REPO"
expect "describe-images lists active images only by default" "([.imageDetails[].imageDigest] | sort) == ([\"${D[release-1]}\", \"${D[v4]}\"] | sort)"
ecr_ref describe-images --repository-name "$REPO" --filter imageStatus=ARCHIVED
expect "describe-images --filter imageStatus=ARCHIVED" "[.imageDetails[].imageDigest] == [\"${D[v3]}\"] and .imageDetails[0].imageStatus == \"ARCHIVED\" and (.imageDetails[0] | has(\"lastArchivedAt\"))"
ecr_ref list-images --repository-name "$REPO" --filter imageStatus=ANY
expect "list-images --filter imageStatus=ANY" ".imageIds | length == 3"
ecr batch-get-image --repository-name "$REPO" --image-ids imageTag=v3
expect "batch-get-image of an archived image fails the item" ".images == [] and .failures[0].failureCode == \"ImageNotFound\""
ecr_ref update-image-storage-class --repository-name "$REPO" --image-id imageTag=nope --target-storage-class ARCHIVE
expect_error "update-image-storage-class of a missing image: ImageNotFoundException" ImageNotFoundException
ecr_ref update-image-storage-class --repository-name "$REPO" --image-id imageDigest="${D[v3]}" --target-storage-class STANDARD
expect "update-image-storage-class STANDARD" ".imageStatus == \"ACTIVATING\" or .imageStatus == \"ACTIVE\""
for _ in $(seq 1 50); do
	ecr describe-images --repository-name "$REPO"
	[ "$(digests)" = "$KEPT" ] && break
	sleep 0.2
done
ecr_ref describe-images --repository-name "$REPO" --image-ids imageTag=v3
expect "the restored image is ACTIVE again" ".imageDetails[0].imageStatus == \"ACTIVE\" and (.imageDetails[0] | has(\"lastActivatedAt\"))"
ecr batch-get-image --repository-name "$REPO" --image-ids imageTag=v3
expect "batch-get-image of the restored image" ".images | length == 1"

ecr delete-lifecycle-policy --repository-name "$REPO"
expect "delete-lifecycle-policy" ".repositoryName == \"$REPO\" and (.lifecyclePolicyText | fromjson | .rules | length) == 2"
ecr delete-lifecycle-policy --repository-name "$REPO"
expect_error "delete-lifecycle-policy again: LifecyclePolicyNotFoundException" LifecyclePolicyNotFoundException

stop_ecrd
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer" "$LOG"; then
	notok "no sanitizer report in the ecrd log" "$(grep -m1 -A20 -E "Sanitizer|runtime error:" "$LOG")"
else
	ok "no sanitizer report in the ecrd log"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
