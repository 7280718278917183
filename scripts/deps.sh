#!/usr/bin/env bash
# Install (with apt-get) exactly what building and testing libecr needs, on
# Debian 12. Idempotent and quiet: when every package is already installed it
# only checks (dpkg-query) and returns.
set -euo pipefail

PACKAGES=(
	build-essential meson ninja-build pkg-config
	clang libclang-rt-14-dev
	libcurl4-openssl-dev libyajl-dev libmbedtls-dev zlib1g-dev libsqlite3-dev libssl-dev libmicrohttpd-dev
	libarchive-dev
	libcmocka-dev
	# tests/scan: rpmdbs built with Debian's rpm
	rpm
	python3 python3-pycparser openssl curl
	# tests/integration: real OCI clients and a private containerd against ecrd
	skopeo podman buildah umoci jq containerd
	# tests/ecr_api: the real AWS CLI and boto3 against ecrd's ECR API
	awscli python3-boto3
	# tests/transport: Debian's docker-registry (htpasswd Basic auth, TLS) as a remote registry
	docker-registry apache2-utils
	# tests/transport/tokenserver.py: the token server of docker-registry's Bearer auth (ES256 JWTs)
	python3-cryptography
	# bindings (Go via cgo) and the ABI gate (abidw/abidiff)
	golang-go abigail-tools
	# the gallery: Markdown of catalog data (md4c); its browser tests run Debian's Chromium
	# through playwright-core from npm (nodejs; npm below), with a font to render text
	libmd4c-dev chromium fonts-dejavu-core nodejs
	# the PostgreSQL metadata store (libpq) and its tests (a throwaway server: ../shared/services/postgres-test-server.sh)
	libpq-dev postgresql-15
	# tests/storage/test_blob_s3: the S3 blob store against a throwaway Ceph radosgw (../shared/services/s3-test-server.sh)
	radosgw ceph-mon ceph-osd
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$p")
	fi
done

# npm: Debian's nodejs ships it as a separate package; a nodejs from elsewhere bundles
# it (and conflicts with Debian's npm), so only ask for it when there is none
if ! command -v npm >/dev/null 2>&1; then
	missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	echo "deps.sh: missing packages: ${missing[*]}; run as root or install sudo" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
