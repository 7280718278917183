#!/usr/bin/env bash
# End-to-end test of the ECR Public API (issue 9) with the real AWS CLI's
# `aws ecr-public` commands against ecrd (auth on, the credentials file it
# writes on first start, --endpoint-url): create-repository with
# --catalog-data, describe-repositories, put/get-repository-catalog-data with a
# logo file (fileb://), put/get-registry-catalog-data, describe-registries,
# get-login-password (then skopeo login with it), a push through the layer
# API, describe-images, describe-image-tags, batch-delete-image,
# set/get/delete-repository-policy, tag/untag/list-tags-for-resource,
# delete-repository --force; each with one of its documented errors.
#
# Usage: test_ecr_public_cli.sh /path/to/ecrd   (or ECRD=...)
# Output: one "ok N - name" / "not ok N - name" line per check, the last line
# "N passed, M failed"; exit status 1 when anything failed.
set -u

. "$(cd "$(dirname "$0")" && pwd)/common.sh"

ecr_api_init "${ECRD:-${1:-}}" jq python3 sha256sum base64
ecr_api_workdir ecr-public-cli
ecr_api_aws_env
printf "[default]\nparameter_validation = false\n" >"$AWS_CONFIG_FILE" # ecrd checks the limits
start_ecrd
HOST=127.0.0.1:$PORT

pub() {
	RES=$("$AWS" --endpoint-url "$ENDPOINT" --output json ecr-public "$@" 2>"$WORK/err")
	RC=$?
	ERR=$(cat "$WORK/err")
}

# registries
pub describe-registries
expect "describe-registries: one registry with its alias" \
	'(.registries | length) == 1 and .registries[0].verified == false and
	 .registries[0].aliases[0].status == "ACTIVE" and .registries[0].aliases[0].primaryRegistryAlias and
	 .registries[0].registryUri == "'"$HOST"'/" + .registries[0].aliases[0].name'
ALIAS=$(printf '%s' "$RES" | jq -r '.registries[0].aliases[0].name')
pub describe-registries --max-results 0
expect_error "describe-registries --max-results 0" InvalidParameterException

pub put-registry-catalog-data --display-name "Team Rocket"
expect "put-registry-catalog-data" '.registryCatalogData.displayName == "Team Rocket"'
pub get-registry-catalog-data
expect "get-registry-catalog-data" '.registryCatalogData.displayName == "Team Rocket"'
pub put-registry-catalog-data --display-name "$(printf 'x%.0s' $(seq 101))"
expect_error "put-registry-catalog-data: a display name of 101 characters" InvalidParameterException

# repositories
REPO=cli/app
pub create-repository --repository-name "$REPO" \
	--catalog-data '{"description":"the app","architectures":["x86-64"],"operatingSystems":["Linux"],"aboutText":"# About","usageText":"docker run it"}' \
	--tags Key=team,Value=core
expect "create-repository --catalog-data" \
	'.repository.repositoryUri == "'"$HOST/$ALIAS/$REPO"'" and
	 .repository.repositoryArn == "arn:aws:ecr-public::123456789012:repository/'"$REPO"'" and
	 .catalogData.description == "the app" and .catalogData.architectures == ["x86-64"]'
ARN=$(printf '%s' "$RES" | jq -r .repository.repositoryArn)
pub create-repository --repository-name "$REPO"
expect_error "create-repository: it exists" RepositoryAlreadyExistsException
pub describe-repositories
expect "describe-repositories" '[.repositories[].repositoryName] == ["cli/app"]'
pub describe-repositories --repository-names nothere
expect_error "describe-repositories: no such repository" RepositoryNotFoundException

# catalog data with a logo
printf 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==' |
	base64 -d >"$WORK/logo.png"
# the CLI reads fileb:// for top-level parameters only: the logo goes in a catalog file (file://) as base64
printf '{"description":"with a logo","logoImageBlob":"%s"}' "$(base64 -w0 "$WORK/logo.png")" >"$WORK/catalog.json"
pub put-repository-catalog-data --repository-name "$REPO" --catalog-data "file://$WORK/catalog.json"
expect "put-repository-catalog-data with a logo file" \
	'.catalogData.description == "with a logo" and .catalogData.logoUrl == "http://'"$HOST/gallery/logo/$ALIAS/$REPO"'"'
pub get-repository-catalog-data --repository-name "$REPO"
expect "get-repository-catalog-data" '.catalogData.description == "with a logo" and (.catalogData.logoUrl | length) > 0'
pub create-repository --repository-name cli/bare
pub get-repository-catalog-data --repository-name cli/bare
expect_error "get-repository-catalog-data: never set" RepositoryCatalogDataNotFoundException

# authorization token
pub get-login-password
PW=$RES
if [ "$RC" -eq 0 ] && [ "${#PW}" -gt 20 ]; then ok "get-login-password"; else notok "get-login-password" "$ERR"; fi
if command -v skopeo >/dev/null 2>&1; then
	if skopeo login --tls-verify=false --authfile "$WORK/auth.json" -u AWS -p "$PW" "$HOST" >"$WORK/skopeo.out" 2>&1; then
		ok "skopeo login with the ecr-public password"
	else
		notok "skopeo login with the ecr-public password" "$(cat "$WORK/skopeo.out")"
	fi
	if skopeo login --tls-verify=false --authfile "$WORK/auth2.json" -u AWS -p "wrong$PW" "$HOST" >/dev/null 2>&1; then
		notok "skopeo login with a wrong password fails"
	else
		ok "skopeo login with a wrong password fails"
	fi
fi

# a push through the layer API
upload_pub() {
	local file=$1 digest upload_id size
	digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
	size=$(stat -c %s "$file")
	pub initiate-layer-upload --repository-name "$REPO"
	upload_id=$(printf '%s' "$RES" | jq -r .uploadId)
	pub upload-layer-part --repository-name "$REPO" --upload-id "$upload_id" --part-first-byte 0 \
		--part-last-byte $((size - 1)) --layer-part-blob "fileb://$file"
	pub complete-layer-upload --repository-name "$REPO" --upload-id "$upload_id" --layer-digests "$digest"
	expect "layer upload of $(basename "$file")" ".layerDigest == \"$digest\""
}
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config.json"
head -c 3000 /dev/urandom >"$WORK/layer.bin"
upload_pub "$WORK/config.json"
upload_pub "$WORK/layer.bin"
CD=sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)
LD=sha256:$(sha256sum "$WORK/layer.bin" | cut -d' ' -f1)
MANIFEST='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'$CD'","size":'$(stat -c %s "$WORK/config.json")'},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"'$LD'","size":3000}]}'
MD=sha256:$(printf '%s' "$MANIFEST" | sha256sum | cut -d' ' -f1)
pub put-image --repository-name "$REPO" --image-tag v1 --image-manifest "$MANIFEST"
expect "put-image" '.image.imageId.imageDigest == "'"$MD"'"'
pub put-image --repository-name "$REPO" --image-tag v2 \
	--image-manifest '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$(printf '1%.0s' $(seq 64))"'","size":3},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'"$(printf '2%.0s' $(seq 64))"'","size":5}]}'
expect_error "put-image: missing layers" LayersNotFoundException
pub describe-images --repository-name "$REPO"
expect "describe-images" '(.imageDetails | length) == 1 and .imageDetails[0].imageDigest == "'"$MD"'" and .imageDetails[0].imageTags == ["v1"]'
pub describe-images --repository-name "$REPO" --image-ids imageTag=nope
expect_error "describe-images: no such image" ImageNotFoundException
pub describe-image-tags --repository-name "$REPO"
expect "describe-image-tags" '[.imageTagDetails[].imageTag] == ["v1"] and .imageTagDetails[0].imageDetail.imageDigest == "'"$MD"'"'
pub describe-image-tags --repository-name nothere
expect_error "describe-image-tags: no such repository" RepositoryNotFoundException
pub delete-repository --repository-name "$REPO"
expect_error "delete-repository: not empty" RepositoryNotEmptyException

# policies
POLICY='{"Version":"2012-10-17","Statement":[{"Sid":"s","Effect":"Allow","Principal":"*","Action":["ecr-public:BatchCheckLayerAvailability"]}]}'
pub get-repository-policy --repository-name "$REPO"
expect_error "get-repository-policy: none" RepositoryPolicyNotFoundException
pub set-repository-policy --repository-name "$REPO" --policy-text "$POLICY"
expect "set-repository-policy" '.repositoryName == "cli/app" and (.policyText | fromjson | .Statement[0].Sid) == "s"'
pub get-repository-policy --repository-name "$REPO"
expect "get-repository-policy" '(.policyText | fromjson | .Statement[0].Sid) == "s"'
pub delete-repository-policy --repository-name "$REPO"
expect "delete-repository-policy" '.repositoryName == "cli/app"'
pub delete-repository-policy --repository-name "$REPO"
expect_error "delete-repository-policy: none left" RepositoryPolicyNotFoundException

# resource tags
pub tag-resource --resource-arn "$ARN" --tags Key=env,Value=prod
expect "tag-resource" 'true'
pub list-tags-for-resource --resource-arn "$ARN"
expect "list-tags-for-resource" '[.tags[] | .Key + "=" + .Value] | sort == ["env=prod", "team=core"]'
pub untag-resource --resource-arn "$ARN" --tag-keys team
pub list-tags-for-resource --resource-arn "$ARN"
expect "untag-resource" '[.tags[].Key] == ["env"]'
pub tag-resource --resource-arn "$ARN" --tags Key=aws:x,Value=1
expect_error "tag-resource: a reserved key" InvalidTagParameterException

# delete
pub batch-delete-image --repository-name "$REPO" --image-ids imageTag=v1 imageTag=zz
expect "batch-delete-image" '(.imageIds | length) == 1 and .failures[0].failureCode == "ImageNotFound"'
pub batch-delete-image --repository-name nothere --image-ids imageTag=v1
expect_error "batch-delete-image: no such repository" RepositoryNotFoundException
pub put-image --repository-name "$REPO" --image-tag v1 --image-manifest "$MANIFEST"
pub delete-repository --repository-name "$REPO" --force
expect "delete-repository --force" '.repository.repositoryName == "cli/app"'
pub delete-repository --repository-name "$REPO" --force
expect_error "delete-repository: no longer exists" RepositoryNotFoundException

ecr_api_check_sanitizers
ecr_api_done
