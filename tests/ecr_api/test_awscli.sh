#!/usr/bin/env bash
# End-to-end test of ecrd's ECR API with the real AWS CLI (Debian awscli 2.9,
# /usr/bin/aws: not whatever 'aws' comes first in PATH), then docker-login
# style flows with skopeo and podman using `aws ecr get-login-password`.
#
# Usage: test_awscli.sh /path/to/ecrd   (or ECRD=...)
# Starts its own ecrd (--listen 127.0.0.1:0, a temporary --data, auth on),
# uses the credentials file it writes on first start through
# AWS_SHARED_CREDENTIALS_FILE and --endpoint-url. The Debian CLI has no
# get-account-setting/put-account-setting yet: for those two, AWS_DATA_PATH
# points the same CLI at the reference service model (ecr-service-2.json),
# the documented way to add a model to the CLI.
# Output: one "ok N - name" / "not ok N - name" line per check, the last line
# "N passed, M failed"; exit status 1 when anything failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/common.sh"

ecr_api_init "${ECRD:-${1:-}}" jq skopeo python3
ecr_api_workdir ecr-awscli-test
start_ecrd
REG=127.0.0.1:$PORT
ecr_api_aws_env

if grep -q "export AWS_SHARED_CREDENTIALS_FILE=$DATA/credentials AWS_ENDPOINT_URL=" "$OUT" ||
	grep -q "export AWS_SHARED_CREDENTIALS_FILE=" "$OUT"; then
	ok "first start prints the export line"
else
	notok "first start prints the export line" "$(cat "$OUT")"
fi
if [ -f "$AWS_SHARED_CREDENTIALS_FILE" ] && [ "$(stat -c %a "$AWS_SHARED_CREDENTIALS_FILE")" = 600 ]; then
	ok "credentials file written with mode 0600"
else
	notok "credentials file written with mode 0600"
fi

ACCT=123456789012
REPO=cli-$$-app
ARN=arn:aws:ecr:us-east-1:$ACCT:repository/$REPO

ecr create-repository --repository-name "$REPO" --tags Key=team,Value=cli
expect "create-repository" ".repository.repositoryName == \"$REPO\" and .repository.repositoryArn == \"$ARN\"
	and .repository.registryId == \"$ACCT\" and .repository.imageTagMutability == \"MUTABLE\"
	and .repository.createdAt != null
	and .repository.encryptionConfiguration.encryptionType == \"AES256\""
ecr create-repository --repository-name "$REPO"
expect_error "create-repository twice: RepositoryAlreadyExistsException" RepositoryAlreadyExistsException
ecr create-repository --repository-name "Bad_Name"
expect_error "create-repository with a bad name: InvalidParameterException" InvalidParameterException

ecr describe-repositories --repository-names "$REPO"
expect "describe-repositories" ".repositories | length == 1 and .[0].repositoryUri != null"
ecr describe-repositories --repository-names "cli-$$-missing"
expect_error "describe-repositories of a missing name: RepositoryNotFoundException" RepositoryNotFoundException
for i in 1 2 3 4 5; do ecr create-repository --repository-name "cli-$$-page-$i" >/dev/null; done
ecr describe-repositories --page-size 2
expect "describe-repositories --page-size 2 (the CLI follows nextToken)" \
	"[.repositories[].repositoryName | select(startswith(\"cli-$$-page-\"))] | length == 5"
ecr describe-repositories --max-items 2
expect "describe-repositories --max-items 2 returns a NextToken" ".repositories | length == 2"
TOKEN=$(printf '%s' "$RES" | jq -r '.NextToken // empty')
if [ -n "$TOKEN" ]; then
	ecr describe-repositories --max-items 100 --starting-token "$TOKEN"
	expect "describe-repositories --starting-token continues" ".repositories | length >= 4"
else
	notok "describe-repositories --max-items 2 gave no NextToken" "$RES"
fi

# Blobs through the layer API, then put-image.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config.json"
printf 'layer bytes of the cli test\n' >"$WORK/layer.bin"
upload_layer "$REPO" "$WORK/config.json" "layer API upload of config.json"
upload_layer "$REPO" "$WORK/layer.bin" "layer API upload of layer.bin"
CFG_D=sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)
LAY_D=sha256:$(sha256sum "$WORK/layer.bin" | cut -d' ' -f1)
manifest() {
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}],"annotations":{"v":"%s"}}' \
		"$CFG_D" "$(stat -c %s "$WORK/config.json")" "$LAY_D" "$(stat -c %s "$WORK/layer.bin")" "$1"
}
manifest one >"$WORK/m1.json"
manifest two >"$WORK/m2.json"
M1_D=sha256:$(sha256sum "$WORK/m1.json" | cut -d' ' -f1)
M2_D=sha256:$(sha256sum "$WORK/m2.json" | cut -d' ' -f1)
ecr put-image --repository-name "$REPO" --image-tag v1 --image-manifest "file://$WORK/m1.json"
expect "put-image" ".image.imageId.imageDigest == \"$M1_D\" and .image.imageId.imageTag == \"v1\""
ecr put-image --repository-name "$REPO" --image-tag v1 --image-manifest "file://$WORK/m1.json"
expect_error "put-image again: ImageAlreadyExistsException" ImageAlreadyExistsException
ecr put-image --repository-name "$REPO" --image-tag v2 --image-manifest "file://$WORK/m2.json"
expect "put-image v2" ".image.imageId.imageDigest == \"$M2_D\""
ecr put-image --repository-name "$REPO" --image-manifest "file://$WORK/m1.json" --image-tag v1-alias
expect "put-image retag" ".image.imageId.imageDigest == \"$M1_D\""

ecr list-images --repository-name "$REPO"
expect "list-images (one entry per tag)" ".imageIds | length == 3"
ecr list-images --repository-name "$REPO" --page-size 1
expect "list-images --page-size 1" ".imageIds | length == 3"
ecr describe-images --repository-name "$REPO"
expect "describe-images" "(.imageDetails | length == 2) and
	([.imageDetails[] | select(.imageDigest == \"$M1_D\") | .imageTags | sort] == [[\"v1\", \"v1-alias\"]])
	and ([.imageDetails[].imageSizeInBytes | type] | unique == [\"number\"])"
ecr describe-images --repository-name "$REPO" --image-ids imageTag=nope
expect_error "describe-images of a missing tag: ImageNotFoundException" ImageNotFoundException
ecr batch-get-image --repository-name "$REPO" --image-ids imageTag=v2
expect "batch-get-image" ".images[0].imageId.imageDigest == \"$M2_D\" and (.failures | length == 0)"
ecr get-download-url-for-layer --repository-name "$REPO" --layer-digest "$LAY_D"
URL=$(printf '%s' "$RES" | jq -r .downloadUrl)
if [ "$RC" -eq 0 ] && curl -fsS "$URL" -o "$WORK/dl.bin" && cmp -s "$WORK/dl.bin" "$WORK/layer.bin"; then
	ok "get-download-url-for-layer: the URL serves the layer"
else
	notok "get-download-url-for-layer: the URL serves the layer" "$RES" "$ERR"
fi

ecr batch-delete-image --repository-name "$REPO" --image-ids imageTag=v2
expect "batch-delete-image by tag" ".imageIds == [{\"imageDigest\": \"$M2_D\", \"imageTag\": \"v2\"}] and (.failures | length == 0)"
ecr batch-delete-image --repository-name "$REPO" --image-ids imageTag=v2
expect "batch-delete-image of a gone tag: a failure entry" ".failures[0].failureCode == \"ImageNotFound\""
ecr list-images --repository-name "$REPO"
expect "list-images after delete" ".imageIds | length == 2"

# Policies.
cat >"$WORK/policy.json" <<EOF
{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}
EOF
ecr get-repository-policy --repository-name "$REPO"
expect_error "get-repository-policy before any: RepositoryPolicyNotFoundException" RepositoryPolicyNotFoundException
ecr set-repository-policy --repository-name "$REPO" --policy-text "file://$WORK/policy.json"
expect "set-repository-policy" ".repositoryName == \"$REPO\" and (.policyText | fromjson | .Statement[0].Sid) == \"pull\""
ecr get-repository-policy --repository-name "$REPO"
expect "get-repository-policy" ".registryId == \"$ACCT\" and (.policyText | fromjson | .Statement[0].Effect) == \"Allow\""
ecr set-repository-policy --repository-name "$REPO" --policy-text '{"nope":'
expect_error "set-repository-policy with bad JSON: InvalidParameterException" InvalidParameterException

# Tags.
ecr tag-resource --resource-arn "$ARN" --tags Key=env,Value=test Key=owner,Value=me
expect "tag-resource" "true"
ecr list-tags-for-resource --resource-arn "$ARN"
expect "list-tags-for-resource" "[.tags[].Key] | sort == [\"env\", \"owner\", \"team\"]"
ecr untag-resource --resource-arn "$ARN" --tag-keys owner team
expect "untag-resource" "true"
ecr list-tags-for-resource --resource-arn "$ARN"
expect "list-tags-for-resource after untag" ".tags == [{\"Key\": \"env\", \"Value\": \"test\"}]"
ecr tag-resource --resource-arn "arn:aws:ecr:us-east-1:$ACCT:repository/cli-$$-missing" --tags Key=a,Value=b
expect_error "tag-resource of a missing repository: RepositoryNotFoundException" RepositoryNotFoundException

# Mutability.
ecr put-image-tag-mutability --repository-name "$REPO" --image-tag-mutability IMMUTABLE
expect "put-image-tag-mutability" ".imageTagMutability == \"IMMUTABLE\" and .repositoryName == \"$REPO\""
ecr put-image --repository-name "$REPO" --image-tag v1 --image-manifest "file://$WORK/m2.json"
expect_error "put-image over an immutable tag: ImageTagAlreadyExistsException" ImageTagAlreadyExistsException
ecr put-image-tag-mutability --repository-name "$REPO" --image-tag-mutability MUTABLE
expect "put-image-tag-mutability back to MUTABLE" ".imageTagMutability == \"MUTABLE\""

# Registry and account settings.
ecr describe-registry
expect "describe-registry" ".registryId == \"$ACCT\" and .replicationConfiguration.rules == []"
ecr_api_models
ecr_ref get-account-setting --name REGISTRY_POLICY_SCOPE
expect "get-account-setting (default)" ".name == \"REGISTRY_POLICY_SCOPE\" and .value == \"V2\""
ecr_ref put-account-setting --name BASIC_SCAN_TYPE_VERSION --value AWS_NATIVE
expect "put-account-setting" ".name == \"BASIC_SCAN_TYPE_VERSION\" and .value == \"AWS_NATIVE\""
ecr_ref get-account-setting --name BASIC_SCAN_TYPE_VERSION
expect "get-account-setting after put" ".value == \"AWS_NATIVE\""
ecr_ref put-account-setting --name NO_SUCH_SETTING --value x
if [ "$RC" -ne 0 ] && printf '%s' "$ERR" | grep -Eq '\((ValidationException|InvalidParameterException)\)'; then
	ok "put-account-setting of an unknown name fails"
else
	notok "put-account-setting of an unknown name fails" "$RES" "$ERR"
fi

# Login flows.
PASSWORD=$("$AWS" --endpoint-url "$ENDPOINT" ecr get-login-password 2>"$WORK/err")
if [ -n "$PASSWORD" ]; then
	ok "get-login-password prints a password"
else
	notok "get-login-password prints a password" "$(cat "$WORK/err")"
fi
AUTHFILE=$WORK/auth.json
if printf '%s' "$PASSWORD" | skopeo login --authfile "$AUTHFILE" --username AWS --password-stdin \
	--tls-verify=false "$REG" >"$WORK/login.out" 2>&1; then
	ok "skopeo login with the password from get-login-password"
else
	notok "skopeo login with the password from get-login-password" "$(cat "$WORK/login.out")"
fi
if printf 'wrong-%s' "$PASSWORD" | skopeo login --authfile "$WORK/bad-auth.json" --username AWS \
	--password-stdin --tls-verify=false "$REG" >"$WORK/login.out" 2>&1; then
	notok "skopeo login with a wrong password fails" "$(cat "$WORK/login.out")"
else
	ok "skopeo login with a wrong password fails"
fi

python3 "$ROOT/scripts/make-example-layout.py" "$WORK/layout" --tag v1 >/dev/null
if skopeo copy --authfile "$AUTHFILE" --dest-tls-verify=false "oci:$WORK/layout:v1" \
	"docker://$REG/$REPO-skopeo:v1" >"$WORK/copy.out" 2>&1; then
	ok "skopeo copy: push an OCI layout"
else
	notok "skopeo copy: push an OCI layout" "$(tail -n 20 "$WORK/copy.out")"
fi
ecr describe-images --repository-name "$REPO-skopeo" --image-ids imageTag=v1
expect "the pushed image is visible to describe-images" ".imageDetails[0].imageTags == [\"v1\"]"
if skopeo copy --authfile "$AUTHFILE" --src-tls-verify=false "docker://$REG/$REPO-skopeo:v1" \
	"oci:$WORK/pulled:v1" >"$WORK/copy.out" 2>&1 &&
	[ "$(jq -r '.manifests[0].digest' "$WORK/pulled/index.json")" = "$(jq -r '.manifests[0].digest' "$WORK/layout/index.json")" ]; then
	ok "skopeo copy: pull it back, same digest"
else
	notok "skopeo copy: pull it back, same digest" "$(tail -n 20 "$WORK/copy.out")"
fi
if skopeo copy --src-tls-verify=false --src-creds "AWS:wrong" "docker://$REG/$REPO-skopeo:v1" \
	"oci:$WORK/pulled2:v1" >"$WORK/copy.out" 2>&1; then
	notok "skopeo copy with a wrong password fails"
else
	ok "skopeo copy with a wrong password fails"
fi
if skopeo copy --dest-tls-verify=false "oci:$WORK/layout:v1" "docker://$REG/$REPO-anon:v1" \
	>"$WORK/copy.out" 2>&1; then
	notok "anonymous skopeo push is refused"
else
	ok "anonymous skopeo push is refused"
fi
ecr describe-repositories --repository-names "$REPO-anon"
expect_error "the refused anonymous push created nothing" RepositoryNotFoundException

if command -v podman >/dev/null 2>&1; then
	PODMAN=(podman --root "$WORK/podman-root" --runroot "/tmp/ecrp-$$" --storage-driver vfs)
	if printf '%s' "$PASSWORD" | "${PODMAN[@]}" login --authfile "$WORK/podman-auth.json" --username AWS \
		--password-stdin --tls-verify=false "$REG" >"$WORK/login.out" 2>&1; then
		ok "podman login with the password from get-login-password"
	else
		notok "podman login with the password from get-login-password" "$(cat "$WORK/login.out")"
	fi
	if printf 'x%s' "$PASSWORD" | "${PODMAN[@]}" login --authfile "$WORK/podman-bad.json" --username AWS \
		--password-stdin --tls-verify=false "$REG" >"$WORK/login.out" 2>&1; then
		notok "podman login with a wrong password fails" "$(cat "$WORK/login.out")"
	else
		ok "podman login with a wrong password fails"
	fi
	rm -rf "/tmp/ecrp-$$"
else
	notok "podman is missing (scripts/deps.sh installs it)"
fi

# Deleting.
ecr delete-repository --repository-name "$REPO"
expect_error "delete-repository of a non-empty repository: RepositoryNotEmptyException" RepositoryNotEmptyException
ecr delete-repository --repository-name "$REPO" --force
expect "delete-repository --force" ".repository.repositoryName == \"$REPO\""
ecr describe-repositories --repository-names "$REPO"
expect_error "describe-repositories after delete: RepositoryNotFoundException" RepositoryNotFoundException

# A wrong secret is refused by the CLI too.
sed 's/^\(aws_secret_access_key *= *\).*/\1wrongwrongwrongwrongwrongwrongwrongwrong/' "$DATA/credentials" >"$WORK/bad-creds"
RES=$(AWS_SHARED_CREDENTIALS_FILE=$WORK/bad-creds "$AWS" --endpoint-url "$ENDPOINT" ecr describe-registry 2>"$WORK/err")
RC=$?
ERR=$(cat "$WORK/err")
expect_error "a wrong secret: InvalidSignatureException" InvalidSignatureException

stop_ecrd
rc=$?
if [ "$rc" -eq 0 ]; then ok "ecrd exits 0 on SIGTERM"; else notok "ecrd exits 0 on SIGTERM" "exit $rc" "$(tail -n 20 "$LOG")"; fi

ecr_api_done
