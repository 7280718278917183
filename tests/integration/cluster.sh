#!/usr/bin/env bash
# Several ecrd nodes over one PostgreSQL and one S3 bucket (radosgw), started
# here with ../shared/services/*.sh and stopped on exit, also on failure.
# Authentication is on: the administrator is created once with
# `ecrd principal add --meta --blobs`, a token comes from node A's ECR API
# (the AWS CLI) and is used on the others.
#   - a token from A works on B and C
#   - skopeo pushes through A, pulls through B and by digest through C (same blobs)
#   - a chunked upload started on A (POST + PATCH) finishes on B (PATCH + PUT),
#     the blob is read through C
#   - a node killed (SIGKILL) in the middle of a big push leaves no tag and no
#     manifest; the client's retry through another node succeeds
#   - PostgreSQL stopped: requests fail with a 5xx within seconds; started
#     again: requests succeed
#   - ../shared/clients/oci-clients-check.sh (STRICT=1) against node A of the
#     two remaining nodes (root only, as clients_auth.sh)
#   - background jobs exactly once on three more nodes D, E and F launched
#     together (--lifecycle-interval 2): a lifecycle policy expires each image
#     once, by one run; images pushed through D replicate to eu-west-1, each
#     job completed by one node, no lost claim
#
#   cluster.sh path/to/ecrd
#
# Exit status: 0 pass, 1 fail, 77 skip (no PostgreSQL or radosgw here).
set -uo pipefail

ECRD=${1:?usage: cluster.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
integ_tap_numbered

TOP=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || TOP=$(cd "$HERE/../.." && pwd)
SERVICES=$TOP/../shared/services
CHECK=$TOP/../shared/clients/oci-clients-check.sh
PG_SCRIPT=$SERVICES/postgres-test-server.sh
S3_SCRIPT=$SERVICES/s3-test-server.sh
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
for f in "$PG_SCRIPT" "$S3_SCRIPT"; do
	[ -f "$f" ] || { echo "SKIP: $f is missing (../shared beside the repository)"; exit 77; }
done
[ -x "$PG_BINDIR/pg_ctl" ] || { echo "SKIP: no PostgreSQL server ($PG_BINDIR/pg_ctl)"; exit 77; }
command -v radosgw >/dev/null 2>&1 || { echo "SKIP: no radosgw"; exit 77; }
integ_need_tools skopeo curl aws python3 sha256sum || exit 1

T_START=$(date +%s%3N)
now_ms() { date +%s%3N; }
timing() { echo "# time: $1: $(($(now_ms) - $2)) ms"; }

WORK=$(mktemp -d /tmp/integ-cluster.XXXXXX)
PGDIR=$(mktemp -d /tmp/integ-cluster-pg.XXXXXX) # its own mktemp -d: the postgres user must reach it
S3DIR=$WORK/s3
declare -A NODE_PID NODE_PORT
PG_UP=0 S3_UP=0
cleanup() {
	local n
	for n in "${!NODE_PID[@]}"; do
		[ -n "${NODE_PID[$n]}" ] && kill -KILL "${NODE_PID[$n]}" 2>/dev/null && wait "${NODE_PID[$n]}" 2>/dev/null
	done
	[ "$PG_UP" = 1 ] && bash "$PG_SCRIPT" stop "$PGDIR" >/dev/null 2>&1
	[ "$S3_UP" = 1 ] && bash "$S3_SCRIPT" stop "$S3DIR" >/dev/null 2>&1
	[ -n "${GUARD:-}" ] && kill "$GUARD" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "# kept $WORK and $PGDIR"; else rm -rf "$WORK" "$PGDIR"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# A guard in its own session stops the servers if this script is killed outright (a runner's timeout).
setsid bash -c 'while kill -0 '$$' 2>/dev/null; do sleep 1; done
	bash "$1" stop "$2" >/dev/null 2>&1; bash "$3" stop "$4" >/dev/null 2>&1' guard "$PG_SCRIPT" "$PGDIR" \
	"$S3_SCRIPT" "$S3DIR" </dev/null >/dev/null 2>&1 &
GUARD=$!

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the shared servers ---
t0=$(now_ms)
PG_PORT=$(free_port)
if ! pg_env=$(bash "$PG_SCRIPT" start "$PGDIR" "$PG_PORT" ecr_cluster 2>"$WORK/pg-start.err"); then
	echo "FAIL: PostgreSQL did not start: $(tail -n 5 "$WORK/pg-start.err")"
	exit 1
fi
PG_UP=1
DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' <<<"$pg_env")
timing "PostgreSQL start" "$t0"
t0=$(now_ms)
S3_PORT=$(free_port)
S3_MON_PORT=$(free_port)
if ! s3_env=$(S3_TEST_MON_PORT=$S3_MON_PORT bash "$S3_SCRIPT" start "$S3DIR" "$S3_PORT" 2>"$WORK/s3-start.err"); then
	echo "FAIL: radosgw did not start: $(tail -n 5 "$WORK/s3-start.err")"
	exit 1
fi
S3_UP=1
S3_ENDPOINT=$(sed -n 's/^S3_ENDPOINT=//p' <<<"$s3_env")
S3_KEY=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' <<<"$s3_env")
S3_SECRET=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' <<<"$s3_env")
timing "radosgw start" "$t0"
s3env=(env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
	AWS_ACCESS_KEY_ID="$S3_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET" AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1)
if "${s3env[@]}" aws s3api create-bucket --bucket ecr-cluster --endpoint-url "$S3_ENDPOINT" >"$WORK/bucket.out" 2>&1; then
	ok "bucket created"
else
	notok "bucket created" "$(cat "$WORK/bucket.out")"
	finish
fi
META=$DATABASE_URL
BLOBS="s3://ecr-cluster/registry?endpoint=$S3_ENDPOINT&path_style=1&region=us-east-1"

# --- the administrator (once, for every node) ---
if "${s3env[@]}" "$ECRD" principal add arn:aws:iam::123456789012:user/admin --admin --meta "$META" \
	--blobs "$BLOBS" >"$WORK/admin.out" 2>"$WORK/admin.err"; then
	{
		echo "[default]"
		grep '^aws_access_key_id = ' "$WORK/admin.out"
		grep '^aws_secret_access_key = ' "$WORK/admin.out"
	} >"$WORK/credentials"
	ok "ecrd principal add --meta --blobs"
else
	notok "ecrd principal add --meta --blobs" "$(cat "$WORK/admin.err")"
	finish
fi

launch_node() { # NAME [LIFECYCLE_INTERVAL]: start an ecrd on a free loopback port over the shared stores
	local name=$1 interval=${2:-0}
	: >"$WORK/$name.out" # before the fork: wait_node must not read the line of a node that ran before under NAME
	"${s3env[@]}" "$ECRD" --listen 127.0.0.1:0 --meta "$META" --blobs "$BLOBS" --lifecycle-interval "$interval" \
		--log-level info >"$WORK/$name.out" 2>>"$WORK/$name.log" &
	NODE_PID[$name]=$!
}
wait_node() { # NAME: until the node launched listens; its port in NODE_PORT
	local name=$1 line=
	for _ in $(seq 300); do
		line=$(grep -m1 '^ecrd: listening on ' "$WORK/$name.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		kill -0 "${NODE_PID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	if [[ "$line" =~ ^ecrd:\ listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]]; then
		NODE_PORT[$name]=${BASH_REMATCH[1]}
		return 0
	fi
	kill -KILL "${NODE_PID[$name]}" 2>/dev/null && wait "${NODE_PID[$name]}" 2>/dev/null
	NODE_PID[$name]=
	echo "# ecrd $name did not start: $(tail -n 10 "$WORK/$name.log")"
	return 1
}
start_node() { launch_node "$@" && wait_node "$1"; }

t0=$(now_ms)
for n in A B C; do
	if start_node "$n"; then ok "node $n serves on 127.0.0.1:${NODE_PORT[$n]}"; else notok "node $n starts"; finish; fi
done
timing "three nodes start" "$t0"
A=127.0.0.1:${NODE_PORT[A]} B=127.0.0.1:${NODE_PORT[B]} C=127.0.0.1:${NODE_PORT[C]}

# --- a token from A's ECR API, used on every node ---
awsenv=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE
	AWS_SHARED_CREDENTIALS_FILE="$WORK/credentials" AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1)
TOKEN=$("${awsenv[@]}" aws ecr get-login-password --endpoint-url "http://$A" 2>"$WORK/aws.err")
if [ -n "$TOKEN" ]; then ok "aws ecr get-login-password from node A"; else notok "token from A" "$(cat "$WORK/aws.err")"; finish; fi
for n in A B C; do
	addr=127.0.0.1:${NODE_PORT[$n]}
	code=$(curl -s -o /dev/null -w '%{http_code}' -u "AWS:$TOKEN" "http://$addr/v2/")
	anon=$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/v2/")
	if [ "$code" = 200 ] && [ "$anon" = 401 ]; then
		ok "node $n: A's token accepted (200), no credentials refused (401)"
	else
		notok "node $n: A's token" "with token HTTP $code, without $anon"
	fi
done
if "${awsenv[@]}" aws ecr describe-repositories --endpoint-url "http://$B" >/dev/null 2>"$WORK/aws-b.err"; then
	ok "node B's ECR API accepts the administrator's key"
else
	notok "node B's ECR API" "$(cat "$WORK/aws-b.err")"
fi
CREDS=AWS:$TOKEN
SK=(skopeo --override-os linux --override-arch amd64)

# --- push through A, pull through B ---
t0=$(now_ms)
want=$(integ_make_layout tar-kib "$WORK/img" v1 64 256 1024)
if "${SK[@]}" copy --preserve-digests --dest-tls-verify=false --dest-creds "$CREDS" "oci:$WORK/img:v1" \
	"docker://$A/cluster/app:v1" >"$WORK/push.out" 2>&1; then
	ok "skopeo push through node A"
else
	notok "skopeo push through node A" "$(tail -n 5 "$WORK/push.out")"
fi
got=$("${SK[@]}" inspect --tls-verify=false --creds "$CREDS" --format '{{.Digest}}' "docker://$B/cluster/app:v1" 2>"$WORK/inspect.err")
if [ "$got" = "$want" ]; then ok "node B serves the tag with the pushed digest"; else notok "digest through B" "want $want got '$got'" "$(cat "$WORK/inspect.err")"; fi
rm -rf "$WORK/pulled"
if "${SK[@]}" copy --preserve-digests --src-tls-verify=false --src-creds "$CREDS" "docker://$B/cluster/app:v1" "oci:$WORK/pulled:v1" \
	>"$WORK/pull.out" 2>&1 && cmp -s <(ls "$WORK/img/blobs/sha256" | sort) <(ls "$WORK/pulled/blobs/sha256" | sort); then
	ok "skopeo pull through node B: the same blobs"
else
	notok "skopeo pull through node B" "$(tail -n 5 "$WORK/pull.out")"
fi
rm -rf "$WORK/pulled-c"
if "${SK[@]}" copy --preserve-digests --src-tls-verify=false --src-creds "$CREDS" "docker://$C/cluster/app@$want" \
	"oci:$WORK/pulled-c:v1" >"$WORK/pull-c.out" 2>&1 && cmp -s <(ls "$WORK/img/blobs/sha256" | sort) \
	<(ls "$WORK/pulled-c/blobs/sha256" | sort); then
	ok "skopeo pull by digest through node C (the third node): the same blobs"
else
	notok "skopeo pull through node C" "$(tail -n 5 "$WORK/pull-c.out")"
fi
timing "push A, pull B and C" "$t0"

# --- a chunked upload: A, then B; read through C ---
t0=$(now_ms)
head -c 3000000 /dev/urandom >"$WORK/chunk.bin"
head -c 1000000 "$WORK/chunk.bin" >"$WORK/part1"
tail -c +1000001 "$WORK/chunk.bin" >"$WORK/part2"
digest=sha256:$(sha256sum "$WORK/chunk.bin" | cut -d' ' -f1)
loc=$(curl -s -u "$CREDS" -X POST -D - -o /dev/null "http://$A/v2/cluster/chunked/blobs/uploads/" | tr -d '\r' |
	sed -n 's/^[Ll]ocation: //p')
loc=${loc#http://"$A"}
code1=$(curl -s -u "$CREDS" -X PATCH -o /dev/null -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
	-H 'Content-Range: 0-999999' --data-binary @"$WORK/part1" "http://$A$loc")
loc2=$(curl -s -u "$CREDS" -o /dev/null -D - "http://$B$loc" | tr -d '\r' | sed -n 's/^[Rr]ange: //p')
code2=$(curl -s -u "$CREDS" -X PATCH -o /dev/null -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
	-H 'Content-Range: 1000000-2999999' --data-binary @"$WORK/part2" "http://$B$loc")
sep='?'
[[ "$loc" == *\?* ]] && sep='&'
code3=$(curl -s -u "$CREDS" -X PUT -o "$WORK/put.body" -w '%{http_code}' "http://$B$loc${sep}digest=$digest")
if [ -n "$loc" ] && [ "$code1" = 202 ] && [ "$code2" = 202 ] && [ "$code3" = 201 ]; then
	ok "upload started on A (POST, PATCH), finished on B (PATCH, PUT)"
else
	notok "chunked upload A -> B" "location '$loc' PATCH A $code1, status on B: range '$loc2', PATCH B $code2, PUT B $code3" \
		"$(cat "$WORK/put.body")"
fi
[ "$loc2" = "0-999999" ] && ok "node B reports A's bytes (Range 0-999999)" || notok "upload status on B" "Range '$loc2'"
got=$(curl -s -u "$CREDS" "http://$C/v2/cluster/chunked/blobs/$digest" | sha256sum | cut -d' ' -f1)
[ "sha256:$got" = "$digest" ] && ok "node C reads the blob" || notok "blob through C" "got sha256:$got want $digest"
timing "chunked upload" "$t0"

# --- a node killed in the middle of a push; the retry through another node ---
t0=$(now_ms)
want_big=$(integ_make_layout raw-mib "$WORK/big" v1 256)
"${SK[@]}" copy --preserve-digests --dest-tls-verify=false --dest-creds "$CREDS" "oci:$WORK/big:v1" "docker://$C/cluster/big:v1" \
	>"$WORK/big-push.out" 2>&1 &
push_pid=$!
killed=0
for _ in $(seq 600); do # until C stages bytes of the big layer (a PATCH or PUT in flight: its upload is open)
	if grep -q 'POST /v2/cluster/big/blobs/uploads' "$WORK/C.log" 2>/dev/null; then
		sleep 0.5
		kill -0 "$push_pid" 2>/dev/null && kill -KILL "${NODE_PID[C]}" && killed=1
		break
	fi
	kill -0 "$push_pid" 2>/dev/null || break
	sleep 0.05
done
wait "${NODE_PID[C]}" 2>/dev/null
NODE_PID[C]=
wait "$push_pid"
push_rc=$?
if [ "$killed" = 1 ] && [ "$push_rc" -ne 0 ]; then
	ok "node C killed (SIGKILL) while skopeo pushed a 256 MiB layer through it; the push failed"
else
	notok "kill mid-push" "killed=$killed, skopeo exit $push_rc: $(tail -n 3 "$WORK/big-push.out")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$CREDS" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$A/v2/cluster/big/manifests/v1")
code_d=$(curl -s -o /dev/null -w '%{http_code}' -u "$CREDS" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$B/v2/cluster/big/manifests/$want_big")
tags=$(curl -s -u "$CREDS" "http://$A/v2/cluster/big/tags/list")
if [ "$code" = 404 ] && [ "$code_d" = 404 ] && [[ "$tags" != *'"v1"'* ]]; then
	ok "nothing visible after the kill: no tag, no manifest (404 on A and B)"
else
	notok "nothing visible after the kill" "tag on A: $code, digest on B: $code_d, tags: $tags"
fi
if "${SK[@]}" copy --preserve-digests --retry-times 2 --dest-tls-verify=false --dest-creds "$CREDS" "oci:$WORK/big:v1" \
	"docker://$A/cluster/big:v1" >"$WORK/big-retry.out" 2>&1; then
	ok "the client's retry through node A succeeds"
else
	notok "retry through A" "$(tail -n 5 "$WORK/big-retry.out")"
fi
got=$("${SK[@]}" inspect --tls-verify=false --creds "$CREDS" --format '{{.Digest}}' "docker://$B/cluster/big:v1" 2>&1)
[ "$got" = "$want_big" ] && ok "node B serves the retried push" || notok "retried push through B" "want $want_big got '$got'"
timing "kill mid-push and retry" "$t0"

# --- PostgreSQL stopped and started during a run ---
t0=$(now_ms)
pg_ctl() { # ACTION
	local -a as=()
	[ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
	"${as[@]}" "$PG_BINDIR/pg_ctl" -D "$PGDIR/pgdata" -l "$PGDIR/postgres.log" -m fast -w -t 60 "$1" >/dev/null 2>&1
}
if pg_ctl stop; then ok "PostgreSQL stopped"; else notok "pg_ctl stop"; fi
worst=0 bad=()
for n in A B; do
	addr=127.0.0.1:${NODE_PORT[$n]}
	for path in /v2/cluster/app/manifests/v1 /v2/cluster/app/tags/list; do
		s=$(now_ms)
		code=$(curl -s -o /dev/null -m 30 -w '%{http_code}' -u "$CREDS" \
			-H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$addr$path")
		d=$(($(now_ms) - s))
		[ "$d" -gt "$worst" ] && worst=$d
		[[ "$code" =~ ^5[0-9][0-9]$ ]] && [ "$d" -lt 5000 ] || bad+=("$n $path: HTTP $code in $d ms")
	done
done
code=$("${awsenv[@]}" aws ecr describe-repositories --endpoint-url "http://$A" --cli-read-timeout 30 \
	--cli-connect-timeout 5 >/dev/null 2>&1; echo $?)
if [ ${#bad[@]} -eq 0 ]; then
	ok "database down: requests fail with a 5xx within 5 s (slowest $worst ms)"
else
	notok "database down: clean failures" "${bad[@]}"
fi
[ "$code" != 0 ] && ok "database down: the ECR API fails too" || notok "ECR API with the database down answered success"
if pg_ctl start; then ok "PostgreSQL started again"; else notok "pg_ctl start"; fi
recovered=0
for _ in $(seq 50); do
	ca=$(curl -s -o /dev/null -w '%{http_code}' -u "$CREDS" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$A/v2/cluster/app/manifests/v1")
	cb=$(curl -s -o /dev/null -w '%{http_code}' -u "$CREDS" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$B/v2/cluster/app/manifests/v1")
	if [ "$ca" = 200 ] && [ "$cb" = 200 ]; then recovered=1; break; fi
	sleep 0.2
done
[ "$recovered" = 1 ] && ok "after the restart A and B answer 200 again" || notok "recovery after the restart" "A $ca, B $cb"
if "${SK[@]}" copy --preserve-digests --dest-tls-verify=false --dest-creds "$CREDS" "oci:$WORK/img:v1" \
	"docker://$B/cluster/after-restart:v1" >"$WORK/push2.out" 2>&1; then
	ok "a push through B after the restart"
else
	notok "push after the restart" "$(tail -n 5 "$WORK/push2.out")"
fi
timing "PostgreSQL restart" "$t0"

# --- the shared client check against node A of the two-node deployment (A, B) ---
if [ "$(id -u)" -ne 0 ]; then
	echo "# the OCI client check needs root (rootful podman/buildah): skipped"
elif [ ! -f "$CHECK" ]; then
	notok "the OCI client check" "$CHECK is missing"
elif ! integ_need_packages skopeo podman buildah umoci jq curl >/dev/null 2>&1; then
	echo "# the OCI client check's packages are missing: skipped"
else
	t0=$(now_ms)
	STRICT=1 REG_USER=AWS REG_PASS=$TOKEN SKIP_STEPS=referrers_api REG_NAMESPACE=clustercheck \
		bash "$CHECK" "$A" >"$WORK/check.out" 2>&1
	check_rc=$?
	summary=$(tail -n 1 "$WORK/check.out")
	unexpected=$(awk '$1 == "SKIP" && $2 != "precreate" && $2 != "referrers_api" && $2 != "ctr_pull_push" { print $2 }' \
		"$WORK/check.out" | paste -sd ' ')
	if [ "$check_rc" -eq 0 ] && [[ "$summary" =~ ^[0-9]+\ passed,\ 0\ failed ]] && [ -z "$unexpected" ]; then
		ok "oci-clients-check.sh (STRICT=1) against node A: $summary"
	else
		notok "oci-clients-check.sh against node A" "exit $check_rc: $summary; unexpected skips: $unexpected" \
			"$(grep -E '^FAIL' "$WORK/check.out")"
	fi
	# what the check pushed through A is there through B
	code=$(curl -s -o /dev/null -w '%{http_code}' -u "$CREDS" "http://$B/v2/_catalog")
	[ "$code" = 200 ] && ok "node B answers the catalog after the check" || notok "catalog through B" "HTTP $code"
	timing "OCI client check" "$t0"
fi

for n in A B; do
	integ_stop "${NODE_PID[$n]}"
	rc=$?
	NODE_PID[$n]=
	[ "$rc" -eq 0 ] && ok "node $n stops cleanly on SIGTERM" || notok "node $n exit status $rc after SIGTERM"
done

# --- background jobs exactly once: three nodes D, E and F, lifecycle timers of 2 s, their replicators ---
ACCOUNT=123456789012
LC_INTERVAL=2
t0=$(now_ms)
JOB_NODES=(D E F)
# launched together, so that their lifecycle timers fire at about the same times and race for the lease
for n in "${JOB_NODES[@]}"; do launch_node "$n" "$LC_INTERVAL"; done
for n in "${JOB_NODES[@]}"; do
	if wait_node "$n"; then
		ok "node $n serves on 127.0.0.1:${NODE_PORT[$n]} (--lifecycle-interval $LC_INTERVAL)"
	else
		notok "node $n starts"
		finish
	fi
done
D=127.0.0.1:${NODE_PORT[D]} E=127.0.0.1:${NODE_PORT[E]} F=127.0.0.1:${NODE_PORT[F]}
timing "nodes D, E and F start" "$t0"
# shellcheck disable=SC2016 # a JMESPath query (its backquotes are JSON literals)
DIGEST_TAGS='imageDetails[].[imageDigest,join(`,`,imageTags || `[]`)]' # "digest tag,tag" per image
ecr_at() { # NODE REGION ARGS...: aws ecr against a node; the output in $RES, the status in $RC
	local addr=127.0.0.1:${NODE_PORT[$1]} region=$2
	shift 2
	RES=$("${awsenv[@]}" aws ecr --endpoint-url "http://$addr" --region "$region" "$@" 2>"$WORK/ecr.err")
	RC=$?
}
push_small() { # DIR NODE REPO:TAG: a new image of one random 16 KiB layer, pushed; prints its digest
	local want
	want=$(integ_make_layout tar-kib "$1" v1 16) || return 1
	"${SK[@]}" copy --preserve-digests --dest-tls-verify=false --dest-creds "$CREDS" "oci:$1:v1" \
		"docker://127.0.0.1:${NODE_PORT[$2]}/$3" >"$1.push.out" 2>&1 || return 1
	echo "$want"
}
log_lines() { # NODE FROM_LINE: the lines of the node's log from line FROM_LINE on
	tail -n +"$2" "$WORK/$1.log"
}

# Lifecycle: N images in cluster/lc (pushed through D before the policy exists), then a policy that keeps
# the newest one (imageCountMoreThan 1, tagStatus any). Both timers fire every 2 s; each run takes the
# repository's lease: a node that finds it held logs "skipped, another node applies it".
t0=$(now_ms)
LC_N=4
lc_digests=() bad=()
for i in $(seq 0 $((LC_N - 1))); do
	d=$(push_small "$WORK/lc$i" D "cluster/lc:t$i") && lc_digests+=("$d") || bad+=("push t$i: $(tail -n 3 "$WORK/lc$i.push.out")")
	sleep 1.1 # distinct push times (imageCountMoreThan orders by pushedAt)
done
[ ${#bad[@]} -eq 0 ] && ok "lifecycle: $LC_N images pushed to cluster/lc through D" || notok "lifecycle pushes" "${bad[@]}"
kept=${lc_digests[$((LC_N - 1))]}
cat >"$WORK/lc-policy.json" <<'EOF'
{"rules":[{"rulePriority":1,"description":"keep the newest image","selection":{"tagStatus":"any",
 "countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}
EOF
declare -A MARK
for n in "${JOB_NODES[@]}"; do MARK[$n]=$(($(wc -l <"$WORK/$n.log") + 1)); done
ecr_at D us-east-1 put-lifecycle-policy --repository-name cluster/lc --lifecycle-policy-text "file://$WORK/lc-policy.json"
[ "$RC" -eq 0 ] && ok "put-lifecycle-policy on cluster/lc through D" || notok "put-lifecycle-policy" "$(cat "$WORK/ecr.err")"
# until each node has run the policy twice (applied or skipped) since it was set: each timer fired at least once
# after the other node's first run
lc_runs() { log_lines "$1" "${MARK[$1]}" | grep -c -e 'lifecycle policy of cluster/lc applied: ' \
	-e 'lifecycle policy of cluster/lc: skipped, another node applies it'; }
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
	[ "$(lc_runs D)" -ge 2 ] && [ "$(lc_runs E)" -ge 2 ] && [ "$(lc_runs F)" -ge 2 ] && break
	sleep 0.5
done
runs_d=$(lc_runs D) runs_e=$(lc_runs E) runs_f=$(lc_runs F)
if [ "$runs_d" -ge 2 ] && [ "$runs_e" -ge 2 ] && [ "$runs_f" -ge 2 ]; then
	ok "lifecycle: the three timers ran the policy (D $runs_d, E $runs_e, F $runs_f runs)"
else
	notok "lifecycle timers" "runs since the policy was set: D $runs_d, E $runs_e, F $runs_f"
fi
ecr_at E us-east-1 describe-images --repository-name cluster/lc --query "$DIGEST_TAGS" \
	--output text
left=$(tr '\t' ' ' <<<"$RES")
if [ "$RC" -eq 0 ] && [ "$left" = "$kept t$((LC_N - 1))" ]; then
	ok "lifecycle: through E, cluster/lc keeps only the newest image (t$((LC_N - 1)))"
else
	notok "lifecycle result" "describe-images through E: '$left' (rc $RC), want '$kept t$((LC_N - 1))'" "$(cat "$WORK/ecr.err")"
fi
got=$("${SK[@]}" inspect --tls-verify=false --creds "$CREDS" --format '{{.Digest}}' "docker://$E/cluster/lc:t$((LC_N - 1))" 2>&1)
rm -rf "$WORK/lc-pulled"
if [ "$got" = "$kept" ] && "${SK[@]}" copy --src-tls-verify=false --src-creds "$CREDS" "docker://$D/cluster/lc:t$((LC_N - 1))" \
	"oci:$WORK/lc-pulled:v1" >"$WORK/lc-pull.out" 2>&1; then
	ok "lifecycle: the kept image is intact (inspect through E, pull through D)"
else
	notok "the kept image" "inspect: '$got' want $kept" "$(tail -n 3 "$WORK/lc-pull.out")"
fi
cat "$WORK/D.log" "$WORK/E.log" "$WORK/F.log" >"$WORK/DE.log"
bad=()
for i in $(seq 0 $((LC_N - 2))); do
	c=$(grep -c -F "lifecycle: expired cluster/lc@${lc_digests[$i]} " "$WORK/DE.log")
	[ "$c" = 1 ] || bad+=("t$i (${lc_digests[$i]}) expired $c times")
done
c=$(grep -c 'lifecycle: expired cluster/lc@' "$WORK/DE.log")
[ "$c" = $((LC_N - 1)) ] || bad+=("$c expirations logged in cluster/lc, want $((LC_N - 1))")
sum=$(grep -o 'lifecycle policy of cluster/lc applied: [0-9]* expired' "$WORK/DE.log" | awk '{ s += $6 } END { print s + 0 }')
[ "$sum" = $((LC_N - 1)) ] || bad+=("the applied runs report $sum expired, want $((LC_N - 1))")
errs=$(grep -e 'lifecycle: cluster/lc (account' -e 'lifecycle: cannot list' "$WORK/DE.log")
[ -z "$errs" ] || bad+=("$errs")
applying=$(grep -c 'lifecycle policy of cluster/lc applied: [1-9][0-9]* expired' "$WORK/DE.log")
[ "$applying" = 1 ] || bad+=("$applying runs expired images, want 1")
n_applied=$(grep -c 'lifecycle policy of cluster/lc applied: ' "$WORK/DE.log")
n_skipped=$(grep -c 'lifecycle policy of cluster/lc: skipped, another node applies it' "$WORK/DE.log")
if [ ${#bad[@]} -eq 0 ]; then
	ok "lifecycle exactly once: each of the $((LC_N - 1)) images expired once, by one run; no error"
else
	notok "lifecycle exactly once" "${bad[@]}"
fi
echo "# lifecycle: $n_applied runs applied the policy (1 of them expired images), $n_skipped skipped (lease held by another node)"
timing "lifecycle on three nodes" "$t0"

# Replication: cluster/rep* of us-east-1 to eu-west-1 of the same account (a registry of the same cluster).
# M images pushed through D while the replicators of D, E and F (2 workers each) claim jobs from the shared queue
# (FOR UPDATE SKIP LOCKED).
t0=$(now_ms)
REPL_M=6
cat >"$WORK/repl.json" <<EOF
{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"$ACCOUNT"}],
 "repositoryFilters":[{"filter":"cluster/rep","filterType":"PREFIX_MATCH"}]}]}
EOF
ecr_at D us-east-1 put-replication-configuration --replication-configuration "file://$WORK/repl.json"
[ "$RC" -eq 0 ] && ok "put-replication-configuration through D (to eu-west-1 of $ACCOUNT)" ||
	notok "put-replication-configuration" "$(cat "$WORK/ecr.err")"
rep_digests=() bad=() rep_pids=()
for i in $(seq 0 $((REPL_M - 1))); do # in parallel: more jobs at once than D's two workers take
	push_small "$WORK/rep$i" D "cluster/rep:r$i" >"$WORK/rep$i.digest" &
	rep_pids+=($!)
done
for i in $(seq 0 $((REPL_M - 1))); do
	if wait "${rep_pids[$i]}"; then
		rep_digests+=("$(cat "$WORK/rep$i.digest")")
	else
		rep_digests+=(none)
		bad+=("push r$i: $(tail -n 3 "$WORK/rep$i.push.out")")
	fi
done
[ ${#bad[@]} -eq 0 ] && ok "replication: $REPL_M images pushed to cluster/rep through D" || notok "replication pushes" "${bad[@]}"
repl_status() { # TAG: "region/registry=STATUS" of cluster/rep:TAG, through E
	ecr_at E us-east-1 describe-image-replication-status --repository-name cluster/rep --image-id "imageTag=$1" \
		--query 'replicationStatuses[].[region,registryId,status]' --output text
	[ "$RC" -eq 0 ] && awk '{ printf "%s/%s=%s", $1, $2, $3 }' <<<"$RES"
}
deadline=$((SECONDS + 90))
mapfile -t pending < <(seq 0 $((REPL_M - 1)))
while [ ${#pending[@]} -gt 0 ] && [ $SECONDS -lt $deadline ]; do
	still=()
	for i in "${pending[@]}"; do [ "$(repl_status "r$i")" = "eu-west-1/$ACCOUNT=COMPLETE" ] || still+=("$i"); done
	pending=(${still[@]+"${still[@]}"})
	[ ${#pending[@]} -gt 0 ] && sleep 0.5
done
if [ ${#pending[@]} -eq 0 ]; then
	ok "replication: describe-image-replication-status COMPLETE for the $REPL_M images (through E)"
else
	detail=()
	for i in "${pending[@]}"; do detail+=("r$i: '$(repl_status "r$i")'"); done
	notok "replication status" "${detail[@]}"
fi
ecr_at E eu-west-1 describe-images --repository-name cluster/rep --query "$DIGEST_TAGS" \
	--output text
got=$(tr '\t' ' ' <<<"$RES" | sort)
want=$(for i in $(seq 0 $((REPL_M - 1))); do echo "${rep_digests[$i]} r$i"; done | sort)
if [ "$RC" -eq 0 ] && [ "$got" = "$want" ]; then
	ok "replication: eu-west-1 (through E) has exactly the $REPL_M images, with their tags"
else
	notok "replicas in eu-west-1" "got:" "$got" "want:" "$want" "$(cat "$WORK/ecr.err")"
fi
bad=() by_d=0 by_e=0 by_f=0
for d in "${rep_digests[@]}"; do
	line="replication: cluster/rep@$d to account $ACCOUNT in eu-west-1: complete"
	cd_=$(grep -c -F "$line" "$WORK/D.log") ce=$(grep -c -F "$line" "$WORK/E.log") cf=$(grep -c -F "$line" "$WORK/F.log")
	[ $((cd_ + ce + cf)) = 1 ] || bad+=("$d copied $cd_ times by D, $ce by E, $cf by F")
	by_d=$((by_d + cd_)) by_e=$((by_e + ce)) by_f=$((by_f + cf))
done
fails=$(grep -h -e 'replication: cluster/rep@.* failed' -e 'replication: cluster/rep@.* claim was lost' \
	"$WORK/D.log" "$WORK/E.log" "$WORK/F.log")
[ -z "$fails" ] || bad+=("$fails")
if [ ${#bad[@]} -eq 0 ]; then
	ok "replication exactly once: each job completed by one node (D $by_d, E $by_e, F $by_f), no failed attempt, no lost claim"
else
	notok "replication exactly once" "${bad[@]}"
fi
echo "# replication: claims that lost a race: $(cat "$WORK/D.log" "$WORK/E.log" "$WORK/F.log" | grep -c 'replication: cannot claim a job')"
timing "replication on three nodes" "$t0"
for n in "${JOB_NODES[@]}"; do
	integ_stop "${NODE_PID[$n]}"
	rc=$?
	NODE_PID[$n]=
	[ "$rc" -eq 0 ] && ok "node $n stops cleanly on SIGTERM" || notok "node $n exit status $rc after SIGTERM"
done
integ_check_sanitizer "$WORK"/A.log "$WORK"/B.log "$WORK"/D.log "$WORK"/E.log "$WORK"/F.log
timing "whole run" "$T_START"
finish
