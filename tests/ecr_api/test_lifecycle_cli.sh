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

. "$(cd "$(dirname "$0")" && pwd)/common.sh"

ecr_api_init "${ECRD:-${1:-}}" jq sha256sum
ecr_api_need_model
ecr_api_workdir ecr-lifecycle-cli
ecr_api_aws_env
ecr_api_models

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
	upload_layer "$REPO" "$WORK/$file" "upload $file through the layer API"
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
ecr_api_check_sanitizers
ecr_api_done
