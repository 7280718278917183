#!/bin/bash
# End-to-end tests of the ecr command-line client (tools/ecr):
#   test_cli.sh /path/to/ecr /path/to/ecrd
# Builds OCI layouts by hand (one image, a two-platform index), copies them around every transport
# (oci:, ecr://, docker-archive:, docker:// to ecrd with authentication and to Debian's docker-registry),
# checks digests with jq and skopeo, and the commands' --json output, errors and exit codes.
# Prints one "ok/not ok" line per check and "N passed, M failed".
set -u

ECR=${1:-}
ECRD=${2:-}
if [ -z "$ECR" ] || [ ! -x "$ECR" ] || [ -z "$ECRD" ] || [ ! -x "$ECRD" ]; then
	echo "usage: $0 /path/to/ecr /path/to/ecrd" >&2
	exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/common.sh
. "$HERE/../integration/common.sh"

PASS=0
FAIL=0
N=0
ECRD_PID=
REG_PID=
WORK=$(mktemp -d /tmp/ecr-cli.XXXXXX)
cleanup() {
	integ_stop "$ECRD_PID"
	integ_stop "$REG_PID"
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

export HOME=$WORK/home
mkdir -p "$HOME"
export REGISTRY_AUTH_FILE=$WORK/auth.json
unset XDG_RUNTIME_DIR AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL \
	AWS_ENDPOINT_URL_ECR ECR_REGISTRY
export AWS_SHARED_CREDENTIALS_FILE=$WORK/no-credentials
export AWS_CONFIG_FILE=$WORK/no-config

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
# run ARGS...: the ecr program; stdout in $OUT, stderr in $ERR, status in $RC
run() {
	OUT=$("$ECR" "$@" 2>"$WORK/stderr")
	RC=$?
	ERR=$(cat "$WORK/stderr")
}
# expect NAME JQ-FILTER: the last run succeeded and the filter holds on its stdout
expect() {
	if [ "$RC" -eq 0 ] && printf '%s' "$OUT" | jq -e "$2" >/dev/null 2>&1; then
		ok "$1"
	else
		notok "$1" "exit $RC" "filter: $2" "stdout: $OUT" "stderr: $ERR"
	fi
}
# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "got:  $2" "want: $3" "exit $RC" "stderr: $ERR"; fi
}
# expect_fail NAME STATUS TEXT: the last run exited with STATUS and said TEXT on stderr
expect_fail() {
	if [ "$RC" -eq "$2" ] && printf '%s' "$ERR" | grep -qF -- "$3"; then
		ok "$1"
	else
		notok "$1" "exit $RC (want $2), stderr should contain: $3" "stderr: $ERR" "stdout: $OUT"
	fi
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# --- source images, by hand ---------------------------------------------------------------------------
SRC=$WORK/src
mkdir -p "$SRC/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$SRC/oci-layout"
blob() { # blob FILE -> its digest hex, stored in $SRC
	local d
	d=$(sha "$1")
	cp "$1" "$SRC/blobs/sha256/$d"
	echo "$d"
}
# image ARCH TEXT -> sets IMG_DIGEST IMG_SIZE IMG_LAYER
image() {
	local arch=$1 text=$2 dir=$WORK/rootfs-$1 layer cfg man diffid
	mkdir -p "$dir"
	printf '%s\n' "$text" >"$dir/hello.txt"
	tar -C "$dir" --owner=0 --group=0 --mtime=@0 -cf "$WORK/layer-$arch.tar" hello.txt
	diffid=$(sha "$WORK/layer-$arch.tar")
	gzip -n -c "$WORK/layer-$arch.tar" >"$WORK/layer-$arch.tar.gz"
	layer=$(blob "$WORK/layer-$arch.tar.gz")
	printf '{"architecture":"%s","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$arch" "$diffid" >"$WORK/config-$arch.json"
	cfg=$(blob "$WORK/config-$arch.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
		"$cfg" "$(size "$WORK/config-$arch.json")" "$layer" "$(size "$WORK/layer-$arch.tar.gz")" >"$WORK/manifest-$arch.json"
	man=$(blob "$WORK/manifest-$arch.json")
	IMG_DIGEST=sha256:$man
	IMG_SIZE=$(size "$WORK/manifest-$arch.json")
	IMG_LAYER=sha256:$layer
}
image amd64 "hello from amd64"
AMD=$IMG_DIGEST AMD_SIZE=$IMG_SIZE AMD_LAYER=$IMG_LAYER
image arm64 "hello from arm64"
ARM=$IMG_DIGEST ARM_SIZE=$IMG_SIZE
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}' \
	"$AMD" "$AMD_SIZE" "$ARM" "$ARM_SIZE" >"$WORK/index-multi.json"
MULTI=sha256:$(blob "$WORK/index-multi.json")
MULTI_SIZE=$(size "$WORK/index-multi.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}},{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}' \
	"$AMD" "$AMD_SIZE" "$MULTI" "$MULTI_SIZE" >"$SRC/index.json"

if skopeo inspect --raw "oci:$SRC:v1" >/dev/null 2>&1; then ok "skopeo reads the hand-made source layout"; else
	notok "skopeo reads the hand-made source layout" "$(skopeo inspect --raw "oci:$SRC:v1" 2>&1)"
fi

# --- usage errors: exit 2 ----------------------------------------------------------------------------
run copy "nowhere:foo" "oci:$WORK/x"
expect_fail "a bad location is a usage error (exit 2)" 2 "unknown location"
run copy "oci:$SRC:v1"
expect_fail "copy without DST is a usage error" 2 "expected SRC and DST"
run frobnicate
expect_fail "an unknown command is a usage error" 2 "unknown command"
run copy --parallel 99 "oci:$SRC:v1" "oci:$WORK/x"
expect_fail "--parallel out of range is a usage error" 2 "--parallel"
run inspect "ecr://relative//repo:tag"
expect_fail "ecr: needs an absolute folder and //" 2 "ecr:///ABSOLUTE"
run --help
if [ "$RC" -eq 0 ] && printf '%s' "$OUT" | grep -q "docker-archive:FILE"; then ok "--help documents the locations"; else
	notok "--help documents the locations" "$OUT"
fi

# --- oci: -> oci: ------------------------------------------------------------------------------------
run copy --quiet "oci:$SRC:v1" "oci:$WORK/oci1:v1"
expect_eq "oci -> oci: the digest printed is the source manifest's" "$OUT" "$AMD"
expect_eq "oci -> oci: index.json names v1" \
	"$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="v1") | .digest' "$WORK/oci1/index.json" 2>&1)" "$AMD"
expect_eq "oci -> oci: skopeo sees the same manifest digest" \
	"$(skopeo inspect --raw "oci:$WORK/oci1:v1" 2>/dev/null | sha256sum | cut -d' ' -f1)" "${AMD#sha256:}"
if [ -f "$WORK/oci1/blobs/sha256/${AMD_LAYER#sha256:}" ] && [ -f "$WORK/oci1/oci-layout" ]; then
	ok "oci -> oci: layer blob and oci-layout written"
else notok "oci -> oci: layer blob and oci-layout written" "$(find "$WORK/oci1" | head)"; fi
if ! ls -a "$WORK/oci1" | grep -q '^\.ecr-upload-'; then ok "oci -> oci: no upload file left"; else
	notok "oci -> oci: no upload file left" "$(ls -a "$WORK/oci1")"; fi

run copy --json "oci:$SRC:multi" "oci:$WORK/oci2:multi"
expect "copy --json: the last line is the index digest" "select(.digest != null and .event == null) | .digest == \"$MULTI\""
if [ "$RC" -eq 0 ] && printf '%s\n' "$OUT" | jq -se 'map(select(.event=="blob_done")) | length >= 4' >/dev/null 2>&1; then
	ok "copy --json: blob_done events for the 2 configs and 2 layers"
else notok "copy --json: blob_done events for the 2 configs and 2 layers" "$OUT" "$ERR"; fi
expect_eq "oci index: both children are in blobs/" \
	"$(ls "$WORK/oci2/blobs/sha256/${AMD#sha256:}" "$WORK/oci2/blobs/sha256/${ARM#sha256:}" 2>/dev/null | wc -l)" 2
expect_eq "oci index: index.json lists only the tagged index" \
	"$(jq -c '[.manifests[].digest]' "$WORK/oci2/index.json")" "[\"$MULTI\"]"

run copy -q --platform linux/arm64 "oci:$SRC:multi" "oci:$WORK/oci3:arm"
expect_eq "--platform linux/arm64 copies the arm64 manifest alone" "$OUT" "$ARM"

run copy -q "oci:$SRC@$AMD" "oci:$WORK/oci4"
expect_eq "oci by digest to an untagged oci: destination" "$OUT" "$AMD"
expect_eq "untagged destination: index.json has an unnamed entry" \
	"$(jq -c '[.manifests[] | [.digest, (.annotations // {} | has("org.opencontainers.image.ref.name"))]]' "$WORK/oci4/index.json")" \
	"[[\"$AMD\",false]]"

run copy "oci:$SRC:nope" "oci:$WORK/oci5:x"
expect_fail "copy of a missing tag: exit 1 and the library's code" 1 "(ECR_EIMAGE_NOT_FOUND)"
run copy "oci:$WORK/does-not-exist:v1" "oci:$WORK/oci5:x"
expect_fail "copy from a missing layout: exit 1" 1 "ecr: copy"

# --- ecr:// (a local data folder) ---------------------------------------------------------------------
DATA=$WORK/data
E="ecr://$DATA//team/app"
run copy -q "oci:$SRC:v1" "$E:v1"
expect_eq "oci -> ecr:// (repository created)" "$OUT" "$AMD"
run copy -q "oci:$SRC:multi" "$E:multi"
expect_eq "oci index -> ecr://" "$OUT" "$MULTI"
run tags --json "$E"
expect "tags --json on ecr://" ".name == \"team/app\" and ([.tags[].tag] | sort) == [\"multi\",\"v1\"] and (.tags[] | select(.tag==\"v1\") | .digest) == \"$AMD\""
run images --json "$E"
expect "images --json on ecr:// lists the index, its children" "[.[].digest] | contains([\"$AMD\",\"$ARM\",\"$MULTI\"])"
run ls --json --registry "file://$DATA"
expect "ls --json --registry file://" "[.[].name] == [\"team/app\"] and (.[0].uri | endswith(\"/team/app\")) and (.[0].createdAt | test(\"^20\"))"
ECR_REGISTRY=file://$DATA run tags --json team/app
expect "tags with a bare name and ECR_REGISTRY" "([.tags[].tag] | sort) == [\"multi\",\"v1\"]"
run inspect --json "$E:v1"
expect "inspect --json: digest, media type, os/architecture/created from the config" \
	".digest == \"$AMD\" and .mediaType == \"application/vnd.oci.image.manifest.v1+json\" and .os == \"linux\" and .architecture == \"amd64\" and .created == \"2024-01-02T03:04:05Z\" and (.tags | index(\"v1\")) != null and (.layers[0].digest == \"$AMD_LAYER\")"
run inspect --json "$E:multi"
expect "inspect --json of an index: its platforms" \
	"[.platforms[] | \"\(.os)/\(.architecture)\(if .variant then \"/\" + .variant else \"\" end)\"] == [\"linux/amd64\",\"linux/arm64/v8\"]"
run inspect --raw "$E:multi"
expect_eq "inspect --raw prints the manifest as stored" "$(printf '%s' "$OUT" | sha256sum | cut -d' ' -f1)" "${MULTI#sha256:}"
run inspect "$E:absent"
expect_fail "inspect of a missing tag: exit 1, ECR_EIMAGE_NOT_FOUND" 1 "(ECR_EIMAGE_NOT_FOUND)"
run inspect "ecr://$DATA//no/such:v1"
expect_fail "inspect of a missing repository: exit 1" 1 "(ECR_EREPOSITORY_NOT_FOUND)"

# ecr:// -> oci: and back
run copy -q "$E:multi" "oci:$WORK/oci6:m"
expect_eq "ecr:// -> oci: keeps the index digest" "$OUT" "$MULTI"

# --- docker-archive: ----------------------------------------------------------------------------------
run copy -q "$E:v1" "docker-archive:$WORK/app.tar:example.com/team/app:v1"
expect_eq "ecr:// -> docker-archive: the source digest" "$OUT" "$AMD"
# skopeo reads a docker archive's layers uncompressed: its layer digests are the config's diff_ids
SK=$(skopeo inspect "docker-archive:$WORK/app.tar" 2>&1)
if printf '%s' "$SK" | jq -e ".Architecture == \"amd64\" and .Layers == [\"sha256:$(sha "$WORK/layer-amd64.tar")\"]" >/dev/null 2>&1; then
	ok "skopeo inspect reads the docker archive written (architecture, layers)"
else notok "skopeo inspect reads the docker archive written (architecture, layers)" "$SK"; fi
expect_eq "docker archive: manifest.json RepoTags" \
	"$(tar -xOf "$WORK/app.tar" manifest.json | jq -c '.[0].RepoTags')" '["example.com/team/app:v1"]'

run copy -q "docker-archive:$WORK/app.tar" "oci:$WORK/oci7:back"
DA_DIGEST=$OUT
if [ "$RC" -eq 0 ] && [ -n "$DA_DIGEST" ]; then ok "docker-archive -> oci:"; else notok "docker-archive -> oci:" "$ERR"; fi
# (skopeo's oci: transport reads only OCI media types: check the layout with jq)
BACK=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="back") | .digest' "$WORK/oci7/index.json" 2>&1)
expect_eq "docker-archive -> oci: index.json names the digest printed" "$BACK" "$DA_DIGEST"
SK=$(cat "$WORK/oci7/blobs/sha256/${DA_DIGEST#sha256:}" 2>&1)
expect_eq "docker-archive source: the manifest stored has the digest printed" \
	"$(printf '%s' "$SK" | sha256sum | cut -d' ' -f1)" "${DA_DIGEST#sha256:}"
expect_eq "docker-archive source: Docker schema2, the gzip layer as it is" \
	"$(printf '%s' "$SK" | jq -r '[.mediaType, .config.mediaType, .layers[0].mediaType, .layers[0].digest] | join(" ")')" \
	"application/vnd.docker.distribution.manifest.v2+json application/vnd.docker.container.image.v1+json application/vnd.docker.image.rootfs.diff.tar.gzip $AMD_LAYER"
# a docker archive written by skopeo, with an uncompressed layer
skopeo copy -q "oci:$SRC:v1" "docker-archive:$WORK/sk.tar:skopeo/app:v2" >/dev/null 2>&1
run copy -q "docker-archive:$WORK/sk.tar:skopeo/app:v2" "$E:from-skopeo"
if [ "$RC" -eq 0 ]; then ok "a skopeo-written docker archive -> ecr:// (by NAME:TAG)"; else
	notok "a skopeo-written docker archive -> ecr:// (by NAME:TAG)" "$ERR"; fi
run inspect --raw "docker-archive:$WORK/sk.tar"
# (skopeo labels every docker-archive layer .tar.gzip, even an uncompressed one; ecr says .tar for those)
SKD=$(skopeo inspect --raw "docker-archive:$WORK/sk.tar" 2>/dev/null | jq -c '[.mediaType, .config.digest, .config.size, [.layers[] | [.digest, .size]]]')
expect_eq "docker-archive source: the manifest agrees with skopeo's (config, layer digests and sizes)" \
	"$(printf '%s' "$OUT" | jq -c '[.mediaType, .config.digest, .config.size, [.layers[] | [.digest, .size]]]')" "$SKD"
expect_eq "docker-archive source: an uncompressed member is ...diff.tar" \
	"$(printf '%s' "$OUT" | jq -r '.layers[0].mediaType')" "application/vnd.docker.image.rootfs.diff.tar"
run copy -q "docker-archive:$WORK/sk.tar:@0" "oci:$WORK/oci8:x"
if [ "$RC" -eq 0 ]; then ok "docker archive by index (:@0)"; else notok "docker archive by index (:@0)" "$ERR"; fi
run copy -q "docker-archive:$WORK/sk.tar:other/name:v9" "oci:$WORK/oci8:y"
expect_fail "docker archive: a missing NAME:TAG is ECR_EIMAGE_NOT_FOUND" 1 "(ECR_EIMAGE_NOT_FOUND)"
run copy -q "$E:multi" "docker-archive:$WORK/multi.tar:m/x:1" --platform linux/arm64
expect_eq "index -> docker-archive with --platform" "$OUT" "$ARM"
printf 'not a tar' >"$WORK/bad.tar"
run copy "docker-archive:$WORK/bad.tar" "oci:$WORK/oci9:x"
expect_fail "a broken docker archive: exit 1" 1 "ecr: copy"

# --- rm -----------------------------------------------------------------------------------------------
run rm --json "$E:from-skopeo"
expect "rm LOCATION:TAG untags" '.untagged == "from-skopeo" and (.digest | startswith("sha256:"))'
run tags --json "$E"
expect "the tag is gone" '[.tags[].tag] | index("from-skopeo") == null'
run rm "$E:from-skopeo"
expect_fail "rm of a missing tag: exit 1" 1 "(ECR_EIMAGE_NOT_FOUND)"
run copy -q "oci:$WORK/oci4" "$E:tmp"
run rm "$E@$AMD"
expect_fail "rm of an image an index lists: ECR_EIMAGE_REFERENCED" 1 "(ECR_EIMAGE_REFERENCED)"
run rm "oci:$WORK/oci1:v1"
if [ "$RC" -eq 0 ] && [ "$(jq '.manifests | length' "$WORK/oci1/index.json")" = 0 ]; then ok "rm on an oci: layout untags"; else
	notok "rm on an oci: layout untags" "$ERR" "$(cat "$WORK/oci1/index.json")"; fi

# --- lifecycle preview --------------------------------------------------------------------------------
cat >"$WORK/policy.json" <<'EOF'
{"rules":[{"rulePriority":1,"description":"expire untagged","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}
EOF
run lifecycle preview --json --policy "$WORK/policy.json" "$E"
expect "lifecycle preview --json: one decision per image, nothing tagged expires" \
	'length >= 3 and ([.[] | select((.imageTags | length) > 0 and .action == "EXPIRE")] | length) == 0'

# --- scan ---------------------------------------------------------------------------------------------
# a Debian-like image: os-release and a dpkg status with foo 0.9, an advisory fixed in foo 1.0
DEB=$WORK/deb-rootfs
mkdir -p "$DEB/etc" "$DEB/var/lib/dpkg"
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$DEB/etc/os-release"
printf 'Package: foo\nStatus: install ok installed\nVersion: 0.9\nArchitecture: amd64\n\n' >"$DEB/var/lib/dpkg/status"
tar -C "$DEB" --owner=0 --group=0 --mtime=@0 -cf "$WORK/deb.tar" etc var
umoci init --layout "$WORK/deb-layout" >/dev/null 2>&1 && umoci new --image "$WORK/deb-layout:deb" >/dev/null 2>&1 &&
	umoci raw add-layer --image "$WORK/deb-layout:deb" "$WORK/deb.tar" >/dev/null 2>&1
printf '%s\n' '{"id":"DSA-0000-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"foo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}' >"$WORK/osv.json"
run copy -q "oci:$WORK/deb-layout:deb" "$E:deb"
run scan --json --vuln-db "$WORK/osv.json" "$E:deb"
expect "scan --vuln-db (ecr://): the advisory matches foo 0.9" \
	'.status == "COMPLETE" and .packages == 1 and ([.findings[] | [.name, .package, .version, .fixedVersion]] == [["DSA-0000-1","foo","0.9","1.0"]])'
run scan --json --vuln-db "$WORK/osv.json" "oci:$WORK/deb-layout:deb"
expect "scan --vuln-db (oci:, ecr_scan_layout)" '[.findings[].name] == ["DSA-0000-1"]'
run scan --json "$E:deb"
expect "scan without --vuln-db: the registry's stored result (never scanned)" '.status == "NONE"'

# --- remote: ecrd with authentication -----------------------------------------------------------------
EDATA=$WORK/ecrd-data
if ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$EDATA" "$WORK/ecrd.log" </dev/null 2>/dev/null; then
	ok "ecrd started with authentication on port $ECRD_PORT"
	H=127.0.0.1:$ECRD_PORT
	export AWS_SHARED_CREDENTIALS_FILE=$EDATA/credentials
	export AWS_DEFAULT_REGION=us-east-1

	run copy -q --dest-plain-http "oci:$SRC:multi" "docker://$H/remote/app:multi"
	expect_eq "oci -> ecrd (AWS credentials from the shared file)" "$OUT" "$MULTI"
	run copy -q --dest-plain-http "oci:$SRC:v1" "docker://$H/remote/app:v1"
	expect_eq "oci -> ecrd, a single image" "$OUT" "$AMD"

	run login --plain-http "http://$H"
	if [ "$RC" -eq 0 ] && jq -e ".auths[\"$H\"].auth" "$REGISTRY_AUTH_FILE" >/dev/null 2>&1; then
		ok "login stores the token in the auth file"
	else notok "login stores the token in the auth file" "$OUT" "$ERR"; fi
	expect_eq "the auth file is mode 0600" "$(stat -c %a "$REGISTRY_AUTH_FILE" 2>&1)" 600
	expect_eq "the auth file's user is AWS" \
		"$(jq -r ".auths[\"$H\"].auth" "$REGISTRY_AUTH_FILE" | base64 -d | cut -d: -f1)" AWS
	SK=$(skopeo inspect --tls-verify=false --authfile "$REGISTRY_AUTH_FILE" --raw "docker://$H/remote/app:multi" 2>&1)
	expect_eq "skopeo (with the login's auth file) sees the index ecr pushed" \
		"$(printf '%s' "$SK" | sha256sum | cut -d' ' -f1)" "${MULTI#sha256:}"

	# no AWS credentials any more: the auth file alone
	export AWS_SHARED_CREDENTIALS_FILE=$WORK/no-credentials
	run copy -q --src-plain-http "docker://$H/remote/app:multi" "oci:$WORK/oci10:m"
	expect_eq "ecrd -> oci: with the auth file's token only" "$OUT" "$MULTI"
	run copy -q --src-plain-http --platform linux/amd64 "docker://$H/remote/app:multi" "docker-archive:$WORK/r.tar:r/a:1"
	expect_eq "ecrd -> docker-archive with --platform" "$OUT" "$AMD"
	run copy -q --dest-plain-http "docker-archive:$WORK/app.tar" "docker://$H/remote/fromarchive:v1"
	expect_eq "docker-archive -> ecrd" "$OUT" "$DA_DIGEST"
	run tags --json --plain-http "docker://$H/remote/app"
	expect "tags --json on ecrd" '([.tags[].tag] | sort) == ["multi","v1"]'
	run inspect --json --plain-http "docker://$H/remote/app:v1"
	expect "inspect --json on ecrd" ".digest == \"$AMD\" and .architecture == \"amd64\""
	run inspect --plain-http "docker://$H/remote/app:nope"
	expect_fail "inspect of a missing tag on ecrd: exit 1" 1 "(ECR_EIMAGE_NOT_FOUND)"
	run copy -q --src-plain-http --creds AWS:wrong "docker://$H/remote/app:v1" "oci:$WORK/oci11:x"
	expect_fail "wrong --src-creds: exit 1" 1 "ecr: copy"

	export AWS_SHARED_CREDENTIALS_FILE=$EDATA/credentials
	run ls --json --plain-http --registry "http://$H"
	expect "ls --json on ecrd (ECR API)" '[.[].name] | contains(["remote/app","remote/fromarchive"])'
	run images --json --plain-http "docker://$H/remote/app"
	expect "images --json on ecrd" "[.[].digest] | contains([\"$MULTI\",\"$AMD\"])"
	run rm --json --plain-http "docker://$H/remote/app:v1"
	expect "rm on ecrd untags" ".untagged == \"v1\" and .digest == \"$AMD\""
	run copy -q --src-plain-http --dest-plain-http "docker://$H/remote/app:multi" "docker://$H/copy/app:m"
	expect_eq "ecrd -> ecrd (same registry)" "$OUT" "$MULTI"

	run logout "http://$H"
	if [ "$RC" -eq 0 ] && ! jq -e ".auths[\"$H\"]" "$REGISTRY_AUTH_FILE" >/dev/null 2>&1; then ok "logout removes the entry"; else
		notok "logout removes the entry" "$ERR" "$(cat "$REGISTRY_AUTH_FILE")"; fi
	run logout "http://$H"
	expect_fail "logout twice: exit 1" 1 "not logged in"
	export AWS_SHARED_CREDENTIALS_FILE=$WORK/no-credentials
else
	notok "ecrd started with authentication" "$(tail -n 20 "$WORK/ecrd.log" 2>/dev/null)"
fi

# --- remote: Debian's docker-registry -----------------------------------------------------------------
RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/reg"
cat >"$WORK/reg.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/reg
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$RPORT
EOF
# (docker-registry takes REGISTRY_* variables as configuration: not REGISTRY_AUTH_FILE)
env -u REGISTRY_AUTH_FILE /usr/bin/docker-registry serve "$WORK/reg.yml" >"$WORK/reg.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$RPORT/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
R=127.0.0.1:$RPORT
run copy -q --dest-plain-http "oci:$SRC:multi" "docker://$R/lib/multi:m"
expect_eq "oci -> docker-registry" "$OUT" "$MULTI"
SK=$(skopeo inspect --tls-verify=false --raw "docker://$R/lib/multi:m" 2>&1)
expect_eq "skopeo sees the index in docker-registry" "$(printf '%s' "$SK" | sha256sum | cut -d' ' -f1)" "${MULTI#sha256:}"
run copy -q --src-plain-http "docker://$R/lib/multi:m" "ecr://$DATA//mirror/multi:m"
expect_eq "docker-registry -> ecr://" "$OUT" "$MULTI"
run tags --json --plain-http "docker://$R/lib/multi"
expect "tags --json on docker-registry" '[.tags[].tag] == ["m"]'
run ls --plain-http --registry "http://$R"
expect_fail "ls on a plain OCI registry: ECR_ENOTSUPPORTED" 1 "(ECR_ENOTSUPPORTED)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
