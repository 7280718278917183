#!/usr/bin/env bash
# A replication job of a NON-default account survives a kill -9 of ecrd and is
# completed after the restart without any request to that account.
#
#   replication_restart.sh path/to/ecrd
#
# ecrd S (authentication on; default account 111111111111 in us-east-1) has a
# second account, 444444444444, reached by the AWS CLI with that account's
# key (ecrd principal add); the image is pushed with the ECR API's layer
# upload and PutImage. That account's replication configuration
# (put with the AWS CLI) replicates to 444444444444 in eu-west-1, which is ecrd
# D (a --replication-destination): D is not running, so the job's first
# attempt fails (connection refused) and the job is queued again for its retry
# (a few seconds: no lease to wait for). Then S is killed (-9), D is started
# on its port, and S is started again: only its default registry is open, and
# no request reaches account 444444444444 until the image is at D (D's
# describe-images polled), with the digest S has, once. Then
# describe-image-replication-status (with the account's key) says COMPLETE.
#
# Env: INTEG_SANITIZE.
set -uo pipefail

ECRD=${1:?usage: replication_restart.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

ACCT_S=111111111111
ACCT_X=444444444444
AWS=${AWS:-$(command -v aws || echo /usr/bin/aws)}

integ_tap_numbered
integ_need_tools skopeo jq python3 "$AWS" || exit 1

WORK=$(mktemp -d /tmp/integ-repl-restart.XXXXXX)
PID_S= PID_D=
cleanup() {
	integ_stop "$PID_S"
	integ_stop "$PID_D"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export HOME=$WORK/home AWS_CONFIG_FILE=$WORK/aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials
mkdir -p "$HOME" "$WORK/s" "$WORK/d"
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
export AWS_ACCESS_KEY_ID=AKIDREPLICATIONTEST AWS_SECRET_ACCESS_KEY=secret AWS_PAGER="" AWS_MAX_ATTEMPTS=1
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_DATA_PATH

# ecr [KEYFILE] ENDPOINT REGION ARGS...: the AWS CLI (with the key of KEYFILE); stdout in $RES, status in $RC
ecr() {
	local -a key=()
	if [ -f "$1" ]; then
		key=(env "AWS_ACCESS_KEY_ID=$(sed -n 1p "$1")" "AWS_SECRET_ACCESS_KEY=$(sed -n 2p "$1")")
		shift
	fi
	local ep=$1 region=$2
	shift 2
	RES=$(${key[@]+"${key[@]}"} "$AWS" --endpoint-url "$ep" --region "$region" --output json ecr "$@" 2>"$WORK/err")
	RC=$?
}

# D's port: free now, D starts on it later
PORT_D=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
EP_D=http://127.0.0.1:$PORT_D

start_s() {
	ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$WORK/s" "$WORK/s.$1.log" --account "$ACCT_S" --region us-east-1 \
		--replication-destination "eu-west-1:$ACCT_X=$EP_D" --log-level info || return 1
	PID_S=$ECRD_PID
	PORT_S=$ECRD_PORT
	EP_S=http://127.0.0.1:$PORT_S
}

start_d() { # on PORT_D, no authentication, account ACCT_X in eu-west-1
	: >"$WORK/d.log.out" # before the fork: the wait below must not read the line of the D killed before
	"$ECRD" --listen "127.0.0.1:$PORT_D" --no-auth --data "$WORK/d" --account "$ACCT_X" --region eu-west-1 \
		>"$WORK/d.log.out" 2>"$WORK/d.log" &
	PID_D=$!
	for _ in $(seq 200); do
		grep -q '^ecrd: listening on ' "$WORK/d.log.out" 2>/dev/null && return 0
		kill -0 "$PID_D" 2>/dev/null || break
		sleep 0.05
	done
	echo "ecrd D did not start: $(tail -n 20 "$WORK/d.log")" >&2
	return 1
}

# the key of account ACCT_X at S
if ! "$ECRD" principal add "arn:aws:iam::$ACCT_X:user/admin" --admin --data "$WORK/s" >"$WORK/principal.out" 2>&1 ||
	! sed -n 's/^aws_access_key_id = //p; s/^aws_secret_access_key = //p' "$WORK/principal.out" >"$WORK/keyx" ||
	[ "$(wc -l <"$WORK/keyx")" != 2 ]; then
	notok "ecrd principal add (account $ACCT_X)" "$(cat "$WORK/principal.out")"
	finish
fi
start_s 1 || { notok "ecrd S starts"; finish; }
echo "# S: $EP_S (pid $PID_S); D (down): $EP_D"
T0=$SECONDS

cat >"$WORK/repl.json" <<EOF
{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"$ACCT_X"}]}]}
EOF
ecr "$WORK/keyx" "$EP_S" us-east-1 put-replication-configuration --replication-configuration "file://$WORK/repl.json"
[ "$RC" -eq 0 ] && ok "put-replication-configuration in account $ACCT_X (its key)" ||
	notok "put-replication-configuration" "$RES" "$(cat "$WORK/err")"

# an OCI layout of one random layer; prints the layer's and config's hex digests, then the manifest's
read -r BLOBS1 BLOBS2 MANIFEST < <(python3 - "$WORK/img" v1 <<'PY'
import hashlib, json, os, sys
d, tag = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)
layer = os.urandom(300000)
ld, ls = put(layer)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
cd, cs = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]}).encode()
md, ms = put(man)
with open(os.path.join(d, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(d, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
print(ld[7:], cd[7:], md[7:])
PY
)
BLOBS="$BLOBS1 $BLOBS2"

# the push: the ECR API's layer upload and PutImage with the account's key (skopeo would reach the
# account only by a host name ACCOUNT.dkr.ecr.REGION..., which need not resolve here)
xpush() {
	local b id size
	ecr "$WORK/keyx" "$EP_S" us-east-1 create-repository --repository-name svc/app || return 1
	[ "$RC" -eq 0 ] || return 1
	for b in $BLOBS; do
		ecr "$WORK/keyx" "$EP_S" us-east-1 initiate-layer-upload --repository-name svc/app
		id=$(printf '%s' "$RES" | jq -r .uploadId)
		size=$(stat -c %s "$WORK/img/blobs/sha256/$b")
		[ "$RC" -eq 0 ] || return 1
		ecr "$WORK/keyx" "$EP_S" us-east-1 upload-layer-part --repository-name svc/app --upload-id "$id" \
			--part-first-byte 0 --part-last-byte $((size - 1)) --layer-part-blob "fileb://$WORK/img/blobs/sha256/$b"
		[ "$RC" -eq 0 ] || return 1
		ecr "$WORK/keyx" "$EP_S" us-east-1 complete-layer-upload --repository-name svc/app --upload-id "$id" \
			--layer-digests "sha256:$b"
		[ "$RC" -eq 0 ] || return 1
	done
	ecr "$WORK/keyx" "$EP_S" us-east-1 put-image --repository-name svc/app --image-tag v1 \
		--image-manifest "file://$WORK/img/blobs/sha256/$MANIFEST" \
		--image-manifest-media-type application/vnd.oci.image.manifest.v1+json
	[ "$RC" -eq 0 ] || return 1
	DIG=$(printf '%s' "$RES" | jq -r .image.imageId.imageDigest)
}
DIG=
if xpush && [ "$DIG" = "sha256:$MANIFEST" ]; then
	ok "push svc/app:v1 to account $ACCT_X of S (ECR API, its key)"
else
	notok "push to account $ACCT_X of S" "$RES" "$(cat "$WORK/err")" "digest $DIG"
	finish
fi

# the first attempt fails (D is down): the job waits for its retry, queued (no lease); kill -9 S then
failed=0
for _ in $(seq 400); do
	if grep -q 'replication: svc/app@.*attempt 1 failed, will retry' "$WORK/s.1.log" 2>/dev/null; then
		failed=1
		break
	fi
	sleep 0.025
done
{ kill -KILL "$PID_S" && wait "$PID_S"; } 2>/dev/null
PID_S=
[ "$failed" = 1 ] && ok "the first attempt failed (destination down); S killed with -9 before the retry" ||
	notok "first attempt" "$(grep replication "$WORK/s.1.log" | tail -n 5)"

start_d || { notok "ecrd D starts"; finish; }
start_s 2 || { notok "ecrd S restarts"; finish; }
T1=$SECONDS
echo "# S restarted (pid $PID_S on $EP_S); D up (pid $PID_D)"

# no request to S at all until the image is at D (D: no authentication, its default account is ACCT_X)
got=
while [ $((SECONDS - T1)) -lt 30 ]; do
	ecr "$EP_D" eu-west-1 describe-images --repository-name svc/app
	got=$(printf '%s' "$RES" | jq -r '[.imageDetails[]? | select(.imageTags != null and (.imageTags | index("v1")))] |
		map(.imageDigest) | join(" ")' 2>/dev/null)
	[ -n "$got" ] && break
	sleep 0.2
done
if [ "$got" = "$DIG" ]; then
	ok "after the restart the image reached D without a request to S, same digest ($((SECONDS - T1)) s)"
else
	notok "image at D" "got '$got', want $DIG" "$(grep replication "$WORK/s.2.log" | tail -n 5)"
fi
ecr "$EP_D" eu-west-1 describe-images --repository-name svc/app
n=$(printf '%s' "$RES" | jq '.imageDetails | length' 2>/dev/null)
m=sha256:$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT_D/svc/app:v1" 2>/dev/null | sha256sum |
	cut -d' ' -f1)
[ "$n" = 1 ] && [ "$m" = "$DIG" ] && ok "D has the image once, its manifest bytes hash to S's digest" ||
	notok "images at D" "count $n, manifest $m, want $DIG"
if grep -q "opened the registry of account $ACCT_X" "$WORK/s.2.log" &&
	grep -q "replication: svc/app@$DIG to account $ACCT_X in eu-west-1: complete" "$WORK/s.2.log"; then
	ok "the restarted S opened account $ACCT_X's registry itself and completed the job"
else
	notok "S's log" "$(tail -n 20 "$WORK/s.2.log")"
fi

ecr "$WORK/keyx" "$EP_S" us-east-1 describe-image-replication-status --repository-name svc/app --image-id "imageTag=v1"
st=$(printf '%s' "$RES" | jq -r '[.replicationStatuses[] | "\(.region)/\(.registryId)=\(.status)"] | join(" ")' 2>/dev/null)
[ "$st" = "eu-west-1/$ACCT_X=COMPLETE" ] && ok "describe-image-replication-status: COMPLETE" ||
	notok "replication status" "$st" "$RES" "$(cat "$WORK/err")"

integ_stop "$PID_S"
rc_s=$?
PID_S=
integ_stop "$PID_D"
rc_d=$?
PID_D=
[ "$rc_s" -eq 0 ] && [ "$rc_d" -eq 0 ] && ok "both ecrd stop cleanly" || notok "ecrd exit status: S $rc_s, D $rc_d"
integ_check_sanitizer "$WORK"/*.log
echo "# $((SECONDS - T0)) s"
finish
