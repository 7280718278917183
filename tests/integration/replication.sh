#!/usr/bin/env bash
# Replication between two ecrd processes, and to another region of the same
# ecrd, surviving a kill -9 of the source in the middle of a copy.
#
#   replication.sh path/to/ecrd
#
# ecrd A (account 111111111111, us-east-1) replicates, by its replication
# configuration (put with the AWS CLI), to ecrd B (account 222222222222,
# eu-west-1, a --replication-destination) and to us-west-2 of its own account
# (a registry of A itself). B's registry policy allows A's account. Several
# images are pushed to A with skopeo, then a big one; A is killed (-9) while
# that one is on its way to B, and started again: every job completes exactly
# once (B has each image once, with the digest A has: skopeo inspect --raw |
# sha256sum), and describe-image-replication-status says COMPLETE for both
# destinations of every image. Both ecrd run with --no-auth (the AWS CLI
# signs with dummy credentials). B has a REPLICATION creation template (resource
# tags, a lifecycle policy) that the repositories replication creates there get.
#
# Two accounts of one ecrd: ecrd C (authentication on, so that the AWS CLI
# reaches account 333333333333's registry with that account's key) replicates
# from account 111111111111 to account 333333333333 in the same region. Without
# a registry policy on the destination the image's status is FAILED with the
# reason; after put-registry-policy (the source account's root may
# ecr:ReplicateImage and ecr:CreateRepository) a new push replicates (COMPLETE,
# the same digest), into a repository made with the destination's REPLICATION
# creation template (IMMUTABLE, resource tags, a lifecycle policy). This part
# runs while the restarted A waits for the interrupted job's lease.
#
# Env: BIG_MB (default 256) size of the big image's layer; INTEG_SANITIZE.
set -uo pipefail

ECRD=${1:?usage: replication.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

BIG_MB=${BIG_MB:-256}
ACCT_A=111111111111
ACCT_B=222222222222
ACCT_D=333333333333
AWS=${AWS:-$(command -v aws || echo /usr/bin/aws)}

integ_tap_numbered
integ_need_tools skopeo jq python3 "$AWS" || exit 1

WORK=$(mktemp -d /tmp/integ-repl.XXXXXX)
PID_A= PID_B= PID_C=
cleanup() {
	integ_stop "$PID_A"
	integ_stop "$PID_B"
	integ_stop "$PID_C"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export HOME=$WORK/home AWS_CONFIG_FILE=$WORK/aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials
mkdir -p "$HOME"
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
export AWS_ACCESS_KEY_ID=AKIDREPLICATIONTEST AWS_SECRET_ACCESS_KEY=secret AWS_PAGER="" AWS_MAX_ATTEMPTS=1
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_DATA_PATH

# ecr ENDPOINT REGION ARGS...: the AWS CLI; stdout in $RES, status in $RC
ecr() {
	local ep=$1 region=$2
	shift 2
	RES=$("$AWS" --endpoint-url "$ep" --region "$region" --output json ecr "$@" 2>"$WORK/err")
	RC=$?
}

start_a() {
	ECRD_AUTH=0 integ_start_ecrd "$ECRD" "$WORK/a" "$WORK/a.$1.log" --account "$ACCT_A" --region us-east-1 \
		--replication-destination "eu-west-1:$ACCT_B=http://127.0.0.1:$PORT_B" --log-level info || return 1
	PID_A=$ECRD_PID
	PORT_A=$ECRD_PORT
	EP_A=http://127.0.0.1:$PORT_A
}

mkdir -p "$WORK/a" "$WORK/b"
ECRD_AUTH=0 integ_start_ecrd "$ECRD" "$WORK/b" "$WORK/b.log" --account "$ACCT_B" --region eu-west-1 || finish
PID_B=$ECRD_PID
PORT_B=$ECRD_PORT
EP_B=http://127.0.0.1:$PORT_B
start_a 1 || finish
echo "# A: $EP_A (pid $PID_A), B: $EP_B (pid $PID_B)"

# --- configuration -------------------------------------------------------------------
cat >"$WORK/policy.json" <<EOF
{"Version":"2012-10-17","Statement":[{"Sid":"ReplicationFromA","Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::$ACCT_A:root"},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],
 "Resource":"arn:aws:ecr:eu-west-1:$ACCT_B:repository/*"}]}
EOF
ecr "$EP_B" eu-west-1 put-registry-policy --policy-text "file://$WORK/policy.json"
[ "$RC" -eq 0 ] && ok "put-registry-policy on B" || notok "put-registry-policy on B" "$(cat "$WORK/err")"

# B's creation template for the repositories replication creates there (over the HTTP transport)
cat >"$WORK/lifecycle.json" <<'EOF'
{"rules":[{"rulePriority":1,"description":"from the template","selection":{"tagStatus":"untagged",
 "countType":"sinceImagePushed","countUnit":"days","countNumber":3650},"action":{"type":"expire"}}]}
EOF
ecr "$EP_B" eu-west-1 create-repository-creation-template --prefix rep --applied-for REPLICATION \
	--resource-tags Key=origin,Value=replication Key=team,Value=b --lifecycle-policy "file://$WORK/lifecycle.json"
[ "$RC" -eq 0 ] && ok "create-repository-creation-template (REPLICATION) on B" ||
	notok "create-repository-creation-template on B" "$(cat "$WORK/err")"

cat >"$WORK/repl.json" <<EOF
{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"$ACCT_B"},{"region":"us-west-2","registryId":"$ACCT_A"}],
 "repositoryFilters":[{"filter":"rep","filterType":"PREFIX_MATCH"}]}]}
EOF
ecr "$EP_A" us-east-1 put-replication-configuration --replication-configuration "file://$WORK/repl.json"
if [ "$RC" -eq 0 ] && printf '%s' "$RES" | jq -e '.replicationConfiguration.rules[0].destinations | length == 2' >/dev/null; then
	ok "put-replication-configuration on A"
else
	notok "put-replication-configuration on A" "$RES" "$(cat "$WORK/err")"
fi

# --- images: OCI layouts of random layers ----------------------------------------------
# make_image DIR TAG LAYER_BYTES...
make_image() {
	python3 - "$@" <<'PY'
import hashlib, json, os, sys
d, tag, sizes = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]]
os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)
layers, diffs = [], []
for n in sizes:
    path = os.path.join(d, "blobs", "sha256", "tmp")
    h = hashlib.sha256()
    with open(path, "wb") as f:  # uncompressed random bytes: a layer's digest is its diff id
        left = n
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    dg = "sha256:" + h.hexdigest()
    os.rename(path, os.path.join(d, "blobs", "sha256", h.hexdigest()))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dg, "size": n})
    diffs.append(dg)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs},
                  "config": {"Labels": {"t": tag}}}).encode()
cd, cs = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": layers}).encode()
md, ms = put(man)
with open(os.path.join(d, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(d, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
print(md)
PY
}

declare -A DIGEST # repo:tag -> digest
IMAGES=()
push() { # push REPO TAG LAYER_BYTES...
	local repo=$1 tag=$2 d
	shift 2
	d=$(make_image "$WORK/img-$repo-$tag" "$tag" "$@") || return 1
	if skopeo copy -q --dest-tls-verify=false "oci:$WORK/img-$repo-$tag:$tag" \
		"docker://127.0.0.1:$PORT_A/$repo:$tag" 2>"$WORK/skopeo.err"; then
		# skopeo may rewrite the manifest on the way: the digest is what A stores
		d=sha256:$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT_A/$repo:$tag" | sha256sum |
			cut -d' ' -f1)
		DIGEST[$repo:$tag]=$d
		IMAGES+=("$repo:$tag")
		return 0
	fi
	cat "$WORK/skopeo.err" >&2
	return 1
}

small_ok=1
for i in 1 2 3 4; do
	push "rep/app$((i % 2))" "v$i" 2000 $((30000 + i * 1000)) || small_ok=0
done
push "other/skip" v1 1000 || small_ok=0 # not selected by the filter
[ "$small_ok" = 1 ] && ok "push 5 small images to A with skopeo" || notok "push small images"

# the big one, then kill -9 A while it is being copied to B
push rep/big v1 $((BIG_MB * 1024 * 1024)) 1000 && ok "push a ${BIG_MB} MiB image to A" || notok "push the big image"
killed=0
for _ in $(seq 600); do
	# B logs one line per request: an upload to rep/big has started
	if grep -q 'rep/big/blobs/uploads' "$WORK/b.log" 2>/dev/null; then
		kill -KILL "$PID_A" 2>/dev/null && killed=1
		break
	fi
	sleep 0.02
done
[ "$killed" = 1 ] || kill -KILL "$PID_A" 2>/dev/null # never wait for a live A
wait "$PID_A" 2>/dev/null
PID_A=
ecr "$EP_B" eu-west-1 describe-images --repository-name rep/big
at_kill=$(printf '%s' "$RES" | jq '.imageDetails | length' 2>/dev/null)
if [ "$killed" = 1 ] && [ "${at_kill:-0}" = 0 ]; then
	ok "kill -9 A while rep/big is on its way to B (not there yet)"
else
	notok "kill -9 A mid-copy" "killed: $killed; images of rep/big at B then: ${at_kill:-?}"
fi

start_a 2 || finish
echo "# A restarted (pid $PID_A on $EP_A)"

# --- two accounts of one ecrd (C), while A waits for the lease ---------------------------
# ecr_as KEYFILE ENDPOINT REGION ARGS...: the AWS CLI with the key of KEYFILE (id, secret)
ecr_as() {
	local kf=$1
	shift
	AWS_ACCESS_KEY_ID=$(sed -n 1p "$kf") AWS_SECRET_ACCESS_KEY=$(sed -n 2p "$kf") ecr "$@"
}
# principal ARN KEYFILE: ecrd principal add ARN --admin in C's data folder, its key into KEYFILE
principal() {
	"$ECRD" principal add "$1" --admin --data "$WORK/c" >"$WORK/principal.out" 2>&1 &&
		sed -n 's/^aws_access_key_id = //p; s/^aws_secret_access_key = //p' "$WORK/principal.out" >"$2" &&
		[ "$(wc -l <"$2")" = 2 ]
}
# xstatus TAG: the replication status of xacct/app:TAG at C ("STATUS|reason")
xstatus() {
	ecr_as "$WORK/key1" "$EP_C" us-east-1 describe-image-replication-status --repository-name xacct/app \
		--image-id "imageTag=$1"
	printf '%s' "$RES" | jq -r '.replicationStatuses[] | select(.registryId == "'"$ACCT_D"'") |
		"\(.status)|\(.failureCode // "")"' 2>/dev/null
}
# xwait TAG STATUS: until xacct/app:TAG has STATUS at the destination (30 s at most); sets XS
xwait() {
	local t=$((SECONDS + 30))
	while :; do
		XS=$(xstatus "$1")
		[ "${XS%%|*}" = "$2" ] && return 0
		[ $SECONDS -ge $t ] && return 1
		sleep 0.3
	done
}
# xpush TAG: an image pushed to xacct/app:TAG of account 1 at C (skopeo, logged in the ECR way); sets XD
xpush() {
	local pass
	make_image "$WORK/img-x-$1" "$1" 3000 >/dev/null || return 1
	ecr_as "$WORK/key1" "$EP_C" us-east-1 get-authorization-token
	pass=$(printf '%s' "$RES" | jq -r '.authorizationData[0].authorizationToken' | base64 -d | cut -d: -f2-)
	skopeo copy -q --dest-tls-verify=false --dest-creds "AWS:$pass" "oci:$WORK/img-x-$1:$1" \
		"docker://127.0.0.1:$PORT_C/xacct/app:$1" 2>"$WORK/skopeo.err" || { cat "$WORK/skopeo.err" >&2; return 1; }
	XD=sha256:$(skopeo inspect --raw --tls-verify=false --creds "AWS:$pass" "docker://127.0.0.1:$PORT_C/xacct/app:$1" |
		sha256sum | cut -d' ' -f1)
}
cross_account() {
	mkdir -p "$WORK/c"
	if ! principal "arn:aws:iam::$ACCT_A:user/admin" "$WORK/key1" ||
		! principal "arn:aws:iam::$ACCT_D:user/admin" "$WORK/keyd"; then
		notok "ecrd principal add (C)" "$(cat "$WORK/principal.out")"
		return
	fi
	ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$WORK/c" "$WORK/c.log" --account "$ACCT_A" --region us-east-1 \
		--log-level info || { notok "ecrd C starts"; return; }
	PID_C=$ECRD_PID PORT_C=$ECRD_PORT EP_C=http://127.0.0.1:$ECRD_PORT
	echo "# C: $EP_C (pid $PID_C): accounts $ACCT_A and $ACCT_D"

	# the destination account's REPLICATION template; the source account's configuration
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 create-repository-creation-template --prefix xacct \
		--applied-for REPLICATION --image-tag-mutability IMMUTABLE \
		--resource-tags Key=origin,Value=cross-account --lifecycle-policy "file://$WORK/lifecycle.json"
	local rc1=$RC
	cat >"$WORK/repl-c.json" <<EOF
{"rules":[{"destinations":[{"region":"us-east-1","registryId":"$ACCT_D"}],
 "repositoryFilters":[{"filter":"xacct","filterType":"PREFIX_MATCH"}]}]}
EOF
	ecr_as "$WORK/key1" "$EP_C" us-east-1 put-replication-configuration \
		--replication-configuration "file://$WORK/repl-c.json"
	[ "$rc1" -eq 0 ] && [ "$RC" -eq 0 ] && ok "C: a REPLICATION template in account $ACCT_D, replication from $ACCT_A to it" ||
		notok "C: template/configuration" "$(cat "$WORK/err")"

	# no registry policy at the destination: FAILED, with the reason
	xpush v1 || { notok "push xacct/app:v1 to C"; return; }
	if xwait v1 FAILED && [[ "${XS#*|}" == *ecr:ReplicateImage* ]]; then
		ok "no registry policy on the destination account: FAILED (${XS#*|})"
	else
		notok "cross-account without a registry policy" "status: $XS"
	fi
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 describe-repositories --repository-names xacct/app
	[ "$RC" -ne 0 ] && grep -q RepositoryNotFoundException "$WORK/err" &&
		ok "... and nothing was created in account $ACCT_D" || notok "xacct/app exists in $ACCT_D after a denial" "$RES"

	# the destination allows the source account's root: a new push replicates
	cat >"$WORK/policy-d.json" <<EOF
{"Version":"2012-10-17","Statement":[{"Sid":"ReplicationFromA","Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::$ACCT_A:root"},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],
 "Resource":"arn:aws:ecr:us-east-1:$ACCT_D:repository/*"}]}
EOF
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 put-registry-policy --policy-text "file://$WORK/policy-d.json"
	[ "$RC" -eq 0 ] && ok "put-registry-policy in account $ACCT_D (key of that account)" ||
		notok "put-registry-policy in $ACCT_D" "$(cat "$WORK/err")"
	local t0=$SECONDS
	xpush v2 || { notok "push xacct/app:v2 to C"; return; }
	if xwait v2 COMPLETE; then
		ok "with the registry policy a new push replicates to account $ACCT_D: COMPLETE ($((SECONDS - t0)) s)"
	else
		notok "cross-account with the registry policy" "status: $XS" "$(grep -i repl "$WORK/c.log" | tail -n 5)"
	fi
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 batch-get-image --repository-name xacct/app --image-ids imageTag=v2
	local d m
	d=$(printf '%s' "$RES" | jq -r '.images[0].imageId.imageDigest' 2>/dev/null)
	m=sha256:$(printf '%s' "$RES" | jq -j '.images[0].imageManifest' 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$d" = "$XD" ] && [ "$m" = "$XD" ] && ok "account $ACCT_D has xacct/app:v2 with the source's digest" ||
		notok "digest in $ACCT_D" "got $d (manifest $m), want $XD $(cat "$WORK/err")"
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 describe-images --repository-name xacct/app
	local n
	n=$(printf '%s' "$RES" | jq '.imageDetails | length' 2>/dev/null)
	[ "$n" = 1 ] && ok "only the image pushed after the policy is in $ACCT_D" || notok "images in $ACCT_D: $n" "$RES"

	# the repository replication created has the destination's template
	local bad=() mut t lc
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 describe-repositories --repository-names xacct/app
	mut=$(printf '%s' "$RES" | jq -r '.repositories[0].imageTagMutability' 2>/dev/null)
	[ "$mut" = IMMUTABLE ] || bad+=("imageTagMutability $mut $(cat "$WORK/err")")
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 list-tags-for-resource \
		--resource-arn "arn:aws:ecr:us-east-1:$ACCT_D:repository/xacct/app"
	t=$(printf '%s' "$RES" | jq -r '[.tags[] | "\(.Key)=\(.Value)"] | sort | join(",")' 2>/dev/null)
	[ "$t" = origin=cross-account ] || bad+=("tags '$t' $(cat "$WORK/err")")
	ecr_as "$WORK/keyd" "$EP_C" us-east-1 get-lifecycle-policy --repository-name xacct/app
	lc=$(printf '%s' "$RES" | jq -r .lifecyclePolicyText 2>/dev/null | jq -cS . 2>/dev/null)
	[ "$lc" = "$(jq -cS . "$WORK/lifecycle.json")" ] || bad+=("lifecycle policy '$lc' $(cat "$WORK/err")")
	[ ${#bad[@]} -eq 0 ] &&
		ok "the REPLICATION template of $ACCT_D applied to xacct/app (IMMUTABLE, tags, lifecycle policy)" ||
		notok "template on the cross-account replica" "${bad[@]}"

	integ_stop "$PID_C"
	local rc=$?
	PID_C=
	[ "$rc" -eq 0 ] && ok "C stops cleanly" || notok "C exit status $rc"
}
cross_account

# --- every job completes (the interrupted one after its 60 s lease) ------------------------
status_of() { # status_of REPO TAG: "region/account=STATUS ..." sorted
	ecr "$EP_A" us-east-1 describe-image-replication-status --repository-name "$1" --image-id "imageTag=$2"
	[ "$RC" -eq 0 ] || return 1
	printf '%s' "$RES" | jq -r '[.replicationStatuses[] | "\(.region)/\(.registryId)=\(.status)"] | sort | join(" ")'
}
want="eu-west-1/$ACCT_B=COMPLETE us-west-2/$ACCT_A=COMPLETE"
deadline=$((SECONDS + 240))
pending=("${IMAGES[@]}")
while [ ${#pending[@]} -gt 0 ] && [ $SECONDS -lt $deadline ]; do
	left=()
	for img in "${pending[@]}"; do
		[ "${img%%/*}" = other ] && continue
		s=$(status_of "${img%%:*}" "${img#*:}") || s=
		[ "$s" = "$want" ] || left+=("$img")
	done
	pending=(${left[@]+"${left[@]}"})
	[ ${#pending[@]} -gt 0 ] && sleep 1
done
if [ ${#pending[@]} -eq 0 ]; then
	ok "describe-image-replication-status: COMPLETE for both destinations of every image ($((SECONDS)) s)"
else
	detail=()
	for img in "${pending[@]}"; do detail+=("$img: $(status_of "${img%%:*}" "${img#*:}")"); done
	notok "replication status" "${detail[@]}"
fi
s=$(status_of other/skip v1)
[ -z "$s" ] && ok "a repository the filter does not select is not replicated" || notok "other/skip replicated" "$s"

# --- B has each image once, with A's digest ----------------------------------------------
bad=()
for img in "${IMAGES[@]}"; do
	repo=${img%%:*} tag=${img#*:}
	[ "${repo%%/*}" = other ] && continue
	d=sha256:$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT_B/$img" 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$d" = "${DIGEST[$img]}" ] || bad+=("$img at B: $d, want ${DIGEST[$img]}")
	a=sha256:$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT_A/$img" 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$a" = "${DIGEST[$img]}" ] || bad+=("$img at A: $a")
done
[ ${#bad[@]} -eq 0 ] && ok "B serves every image with the digest A has (skopeo inspect --raw | sha256sum)" ||
	notok "digests at B" "${bad[@]}"

bad=()
for repo in rep/app0 rep/app1 rep/big; do
	want_n=0
	for img in "${IMAGES[@]}"; do [ "${img%%:*}" = "$repo" ] && want_n=$((want_n + 1)); done
	ecr "$EP_B" eu-west-1 describe-images --repository-name "$repo"
	n=$(printf '%s' "$RES" | jq '.imageDetails | length' 2>/dev/null)
	tags=$(printf '%s' "$RES" | jq '[.imageDetails[].imageTags | length] | add' 2>/dev/null)
	[ "$RC" -eq 0 ] && [ "$n" = "$want_n" ] && [ "$tags" = "$want_n" ] ||
		bad+=("$repo: $n images, $tags tags at B, want $want_n $(cat "$WORK/err")")
	# the other region of A itself
	ecr "$EP_A" us-west-2 describe-images --repository-name "$repo"
	n=$(printf '%s' "$RES" | jq '.imageDetails | length' 2>/dev/null)
	[ "$RC" -eq 0 ] && [ "$n" = "$want_n" ] || bad+=("$repo: $n images in us-west-2 of A, want $want_n $(cat "$WORK/err")")
done
ecr "$EP_B" eu-west-1 describe-repositories --repository-names other/skip
[ "$RC" -ne 0 ] || bad+=("other/skip exists at B")
[ ${#bad[@]} -eq 0 ] && ok "each image exactly once at B and in us-west-2 of A" || notok "images at the destinations" "${bad[@]}"

# the repositories replication created at B got B's REPLICATION template
bad=()
want_lc=$(jq -cS . "$WORK/lifecycle.json")
for repo in rep/app0 rep/big; do
	ecr "$EP_B" eu-west-1 list-tags-for-resource --resource-arn "arn:aws:ecr:eu-west-1:$ACCT_B:repository/$repo"
	t=$(printf '%s' "$RES" | jq -r '[.tags[] | "\(.Key)=\(.Value)"] | sort | join(",")' 2>/dev/null)
	[ "$t" = "origin=replication,team=b" ] || bad+=("$repo at B: tags '$t' $(cat "$WORK/err")")
	ecr "$EP_B" eu-west-1 get-lifecycle-policy --repository-name "$repo"
	lc=$(printf '%s' "$RES" | jq -r .lifecyclePolicyText 2>/dev/null | jq -cS . 2>/dev/null)
	[ "$lc" = "$want_lc" ] || bad+=("$repo at B: lifecycle policy '$lc' $(cat "$WORK/err")")
done
[ ${#bad[@]} -eq 0 ] && ok "B's REPLICATION template applied to the repositories replication created (tags, lifecycle policy)" ||
	notok "B's template on replicated repositories" "${bad[@]}"

# the copies at the destinations do not replicate again: B has no configuration, and A's
# us-west-2 registry none either; every digest pulled from us-west-2 of A matches
bad=()
for img in "${IMAGES[@]}"; do
	[ "${img%%/*}" = other ] && continue
	ecr "$EP_A" us-west-2 batch-get-image --repository-name "${img%%:*}" --image-ids "imageTag=${img#*:}"
	d=$(printf '%s' "$RES" | jq -r '.images[0].imageId.imageDigest' 2>/dev/null)
	[ "$d" = "${DIGEST[$img]}" ] || bad+=("$img in us-west-2: $d")
done
[ ${#bad[@]} -eq 0 ] && ok "us-west-2 of A has every image with the same digest" || notok "us-west-2 digests" "${bad[@]}"

integ_stop "$PID_A"
rc_a=$?
PID_A=
integ_stop "$PID_B"
rc_b=$?
PID_B=
[ "$rc_a" -eq 0 ] && [ "$rc_b" -eq 0 ] && ok "both ecrd stop cleanly" || notok "ecrd exit status: A $rc_a, B $rc_b"

integ_check_sanitizer "$WORK"/*.log
finish
