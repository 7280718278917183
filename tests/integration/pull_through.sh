#!/usr/bin/env bash
# The pull-through cache through ecrd with real clients: a rule made with the
# AWS CLI (create-pull-through-cache-rule --endpoint-url) to Debian's
# docker-registry, then `skopeo copy docker://ECRD/<prefix>/<path>:<tag> oci:`
# cold (fetched, stored, streamed) and warm (served from ecrd), a tag moved
# upstream (not picked up within --cache-freshness, picked up after it), the
# upstream stopped (the cached copy is still served), podman pull (when it
# works here), and a second ecrd as the upstream. Then the figures for the
# closing note: a 256 MiB image pulled cold through the cache, directly from
# docker-registry, and warm (skopeo copy to an oci: folder, wall time), printed
# as "figures: ..." lines. FIGURES=0 skips them; KEEP=1 keeps the work folder.
#   pull_through.sh ECRD
# shellcheck disable=SC2016 # check() evaluates its condition (single-quoted on purpose)
set -uo pipefail
ECRD=${1:?usage: pull_through.sh ECRD}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
AWS=${AWS:-$(command -v aws || echo /usr/bin/aws)}

for p in skopeo docker-registry python3 jq curl; do
	command -v "$p" >/dev/null || { echo "ok - SKIP: $p is needed"; exit 77; }
done
[ -x "$AWS" ] || { echo "ok - SKIP: the AWS CLI is needed"; exit 77; }

WORK=$(mktemp -d /tmp/ecr-ptc.XXXXXX)
PIDS=()
trap integ_cleanup_work EXIT
export HOME=$WORK/home REGISTRY_AUTH_FILE=$WORK/auth.json AWS_CONFIG_FILE=$WORK/aws-config
export AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIDPULLTHROUGHTEST AWS_SECRET_ACCESS_KEY=secret AWS_PAGER="" AWS_MAX_ATTEMPTS=1
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECR XDG_RUNTIME_DIR
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
mkdir -p "$HOME" "$WORK/logs"
# (AWS CLI v1 would fetch an http:// parameter value: --upstream-registry-url is a value, not a URL to read)
printf '[default]\ncli_follow_urlparam = false\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
echo "{}" >"$REGISTRY_AUTH_FILE"

integ_tap_plain
finish() {
	echo "# $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}

# --- fixtures ----------------------------------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# upstream_start: docker-registry on a free port, data in $WORK/upstream; sets UP_PID, UP_PORT.
upstream_start() {
	UP_PORT=$(free_port)
	mkdir -p "$WORK/upstream/data"
	cat >"$WORK/upstream/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $WORK/upstream/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$UP_PORT
EOF
	# (REGISTRY_* variables configure docker-registry: not the clients' auth file)
	env -u REGISTRY_AUTH_FILE docker-registry serve "$WORK/upstream/config.yml" >>"$WORK/logs/upstream.log" 2>&1 &
	UP_PID=$!
	PIDS+=("$UP_PID")
	for _ in $(seq 200); do
		curl -fsS -o /dev/null "http://127.0.0.1:$UP_PORT/v2/" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# docker-registry did not start: $(tail -n 5 "$WORK/logs/upstream.log")"
	return 1
}

# make_layout DIR TAG LAYER_KIB... : an OCI layout with random layers and a config; prints the manifest digest.
# (skopeo compresses the layers when it pushes: the digests to expect are the upstream's, see raw_digest.)
make_layout() { integ_make_layout tar-kib "$@"; }

sko() { skopeo --insecure-policy "$@"; }
# push LAYOUT TAG HOSTPORT/REPO:TAG
push() { sko copy -q "oci:$1:$2" "docker://$3" --dest-tls-verify=false >>"$WORK/logs/skopeo.log" 2>&1; }
# pull HOSTPORT/REPO:TAG DIR: skopeo copy into a fresh oci: folder; sets ELAPSED_MS, RC.
pull() {
	local t0
	rm -rf "$2"
	t0=$(now_ms)
	sko copy -q "docker://$1" "oci:$2:x" --src-tls-verify=false >>"$WORK/logs/skopeo.log" 2>&1
	RC=$?
	ELAPSED_MS=$(($(now_ms) - t0))
}
# the manifest digest of an oci: folder's only image
layout_digest() { jq -r '.manifests[0].digest' "$1/index.json" 2>/dev/null; }
# every blob of an oci: folder hashes to its name
layout_ok() {
	local f n=0
	for f in "$1"/blobs/sha256/*; do
		[ "sha256:$(sha256sum <"$f" | cut -d' ' -f1)" = "sha256:$(basename "$f")" ] || return 1
		n=$((n + 1))
	done
	[ "$n" -ge 2 ]
}

ecrd_start() { # NAME [OPTIONS...]: sets <NAME>_PORT, <NAME>_PID
	local name=$1
	shift
	ECRD_AUTH=0 integ_start_ecrd "$ECRD" "$WORK/$name" "$WORK/logs/$name.log" "$@" || return 1
	PIDS+=("$ECRD_PID")
	printf -v "${name}_PORT" '%s' "$ECRD_PORT"
	printf -v "${name}_PID" '%s' "$ECRD_PID"
}
ecr_api() { "$AWS" ecr --endpoint-url "http://127.0.0.1:$1" --output json "${@:2}"; }

# --- docker-registry as upstream -----------------------------------------------

upstream_start || { notok "docker-registry starts"; finish; }
make_layout "$WORK/img1" v1 512 2048 64 >/dev/null
make_layout "$WORK/img2" v1 300 700 >/dev/null
raw_digest() { echo "sha256:$(sko inspect --raw --tls-verify=false "docker://$1" 2>>"$WORK/logs/skopeo.log" | sha256sum | cut -d' ' -f1)"; }
push "$WORK/img1" v1 "127.0.0.1:$UP_PORT/lib/app:v1"
D1=$(raw_digest "127.0.0.1:$UP_PORT/lib/app:v1")
check "image pushed to docker-registry" '[ ${#D1} -eq 71 ]'

ecrd_start A --threads 1 --cache-freshness 3600 || { notok "ecrd starts"; finish; }
ecr_api "$A_PORT" create-pull-through-cache-rule --ecr-repository-prefix up \
	--upstream-registry-url "http://127.0.0.1:$UP_PORT" >"$WORK/rule.json" 2>"$WORK/logs/aws.err"
check "create-pull-through-cache-rule" '[ "$(jq -r .ecrRepositoryPrefix "$WORK/rule.json")" = up ]'
# a PULL_THROUGH_CACHE creation template for the repositories the cache creates under up/
cat >"$WORK/lifecycle.json" <<'EOF'
{"rules":[{"rulePriority":1,"description":"from the template","selection":{"tagStatus":"untagged",
 "countType":"sinceImagePushed","countUnit":"days","countNumber":3650},"action":{"type":"expire"}}]}
EOF
ecr_api "$A_PORT" create-repository-creation-template --prefix up --applied-for PULL_THROUGH_CACHE \
	--resource-tags Key=origin,Value=cache --lifecycle-policy "file://$WORK/lifecycle.json" \
	>"$WORK/template.json" 2>>"$WORK/logs/aws.err"
check "create-repository-creation-template (PULL_THROUGH_CACHE)" '[ "$(jq -r .repositoryCreationTemplate.prefix "$WORK/template.json")" = up ]'

pull "127.0.0.1:$A_PORT/up/lib/app:v1" "$WORK/cold"
check "cold pull through the cache (skopeo)" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/cold")" = "$D1" ] && layout_ok "$WORK/cold"'
ecr_api "$A_PORT" describe-repositories --repository-names up/lib/app >"$WORK/repo.json" 2>>"$WORK/logs/aws.err"
check "the cached repository exists (describe-repositories)" '[ "$(jq -r ".repositories[0].repositoryName" "$WORK/repo.json")" = up/lib/app ]'
ecr_api "$A_PORT" list-tags-for-resource --resource-arn "$(jq -r ".repositories[0].repositoryArn" "$WORK/repo.json")" \
	>"$WORK/tags.json" 2>>"$WORK/logs/aws.err"
ecr_api "$A_PORT" get-lifecycle-policy --repository-name up/lib/app >"$WORK/lc.json" 2>>"$WORK/logs/aws.err"
check "the PULL_THROUGH_CACHE template applied to the repository the cache created (tags, lifecycle policy)" \
	'[ "$(jq -c .tags "$WORK/tags.json")" = "[{\"Key\":\"origin\",\"Value\":\"cache\"}]" ] &&
	[ "$(jq -r .lifecyclePolicyText "$WORK/lc.json" | jq -cS .)" = "$(jq -cS . "$WORK/lifecycle.json")" ]'
ecr_api "$A_PORT" describe-images --repository-name up/lib/app >"$WORK/images.json" 2>>"$WORK/logs/aws.err"
check "the cached image is tagged v1 (describe-images)" '[ "$(jq -r ".imageDetails[0].imageDigest" "$WORK/images.json")" = "$D1" ]'
pull "127.0.0.1:$A_PORT/up/lib/app:v1" "$WORK/warm"
check "warm pull" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/warm")" = "$D1" ] && layout_ok "$WORK/warm"'

# a tag moved upstream: not picked up within the window
push "$WORK/img2" v1 "127.0.0.1:$UP_PORT/lib/app:v1"
D2=$(raw_digest "127.0.0.1:$UP_PORT/lib/app:v1")
pull "127.0.0.1:$A_PORT/up/lib/app:v1" "$WORK/within"
check "tag moved upstream: the cached one within --cache-freshness" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/within")" = "$D1" ]'
# ... picked up after it (same data folder, a 1 s window)
integ_stop "$A_PID"
A_RC=$?
ecrd_start A --threads 1 --cache-freshness 1 || { notok "ecrd restarts"; finish; }
sleep 1.2
pull "127.0.0.1:$A_PORT/up/lib/app:v1" "$WORK/after"
check "tag moved upstream: picked up after the window" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/after")" = "$D2" ] && layout_ok "$WORK/after"'

# --- one large blob: 20 concurrent first pulls, a client leaving mid-stream ----------
# (curl straight at /v2/: the manifest first (it creates the cached repository), then the blob)
MT='application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
# big_layer REPO: push a 48 MiB image to docker-registry; prints its largest layer's digest
big_layer() {
	rm -rf "$WORK/lay-$1"
	make_layout "$WORK/lay-$1" v1 49152 16 >/dev/null && push "$WORK/lay-$1" v1 "127.0.0.1:$UP_PORT/lib/$1:v1" &&
		rm -rf "$WORK/lay-$1" &&
		sko inspect --raw --tls-verify=false "docker://127.0.0.1:$UP_PORT/lib/$1:v1" | jq -r '.layers | max_by(.size) | .digest'
}
# upstream_gets REPO DIGEST: docker-registry's access log lines for GET /v2/lib/REPO/blobs/DIGEST
upstream_gets() { grep -c "\"GET /v2/lib/$1/blobs/$2 " "$WORK/logs/upstream.log"; }
manifest_via_ecrd() {
	curl -s -f -o /dev/null -H "Accept: $MT" "http://127.0.0.1:$A_PORT/v2/up/lib/$1/manifests/v1"
}
blob_url() { echo "http://127.0.0.1:$A_PORT/v2/up/lib/$1/blobs/$2"; }
file_digest() { echo "sha256:$(sha256sum <"$1" | cut -d' ' -f1)"; }

CD=$(big_layer conc)
check "a 48 MiB image in docker-registry" '[ ${#CD} -eq 71 ] && [ "$(upstream_gets conc "$CD")" = 0 ]'
check "its manifest through ecrd" 'manifest_via_ecrd conc'
mkdir -p "$WORK/conc"
t0=$(now_ms)
cpids=()
for i in $(seq 20); do
	curl -s -f -o "$WORK/conc/$i" "$(blob_url conc "$CD")" &
	cpids+=($!)
done
cfail=0
for p in "${cpids[@]}"; do wait "$p" || cfail=$((cfail + 1)); done
echo "# 20 concurrent first pulls of the 48 MiB blob: $(($(now_ms) - t0)) ms"
cbad=0
for i in $(seq 20); do [ "$(file_digest "$WORK/conc/$i")" = "$CD" ] || cbad=$((cbad + 1)); done
rm -rf "$WORK/conc"
check "20 concurrent first pulls of one blob: all 20 complete with the right digest (failed: $cfail, wrong: $cbad)" \
	'[ $cfail -eq 0 ] && [ $cbad -eq 0 ]'
n=$(upstream_gets conc "$CD")
check "... and exactly one upstream fetch of it (docker-registry's access log: $n GET)" '[ "$n" = 1 ]'

# a client that leaves after 1 MiB of a blob not cached yet
DD=$(big_layer drop)
manifest_via_ecrd drop
curl -s -N "$(blob_url drop "$DD")" 2>/dev/null | head -c 1048576 >"$WORK/part"
check "a client leaves after 1 MiB of a blob being fetched" '[ "$(stat -c %s "$WORK/part")" = 1048576 ]'
curl -s -f -o "$WORK/drop1" "$(blob_url drop "$DD")"
check "right after: a full pull of that blob has its digest" '[ "$(file_digest "$WORK/drop1")" = "$DD" ]'
sleep 1
curl -s -f -o "$WORK/drop2" "$(blob_url drop "$DD")"
check "later: a full pull of that blob has its digest" '[ "$(file_digest "$WORK/drop2")" = "$DD" ]'
rm -f "$WORK/part" "$WORK/drop1" "$WORK/drop2"
echo "# upstream fetches of the blob whose first client left: $(upstream_gets drop "$DD")"

# a slow upstream (faultproxy holding back every response chunk) holds up only the pulls that wait for it:
# ecrd A runs one event loop (--threads 1), and answers GET /v2/ while a pull waits on the upstream
# slow_rule PREFIX DELAY_MS: a faultproxy in front of docker-registry and a rule PREFIX to it (stats: PREFIX.stats)
slow_rule() {
	integ_proxy_start "$1" "$UP_PORT" --delay-ms "$2" || return 1
	ecr_api "$A_PORT" create-pull-through-cache-rule --ecr-repository-prefix "$1" \
		--upstream-registry-url "http://127.0.0.1:$PROXY_PORT" >"$WORK/rule-$1.json" 2>>"$WORK/logs/aws.err"
}
# slow_pull PREFIX WHAT URL: GET URL in the background into $WORK/slow-WHAT; once the proxy PREFIX has forwarded
# one more request (WHAT manifest) or the first bytes arrived (WHAT blob), GET /v2/: its status in PING, whether
# the slow GET was still running then (STILL: 1 or 0), and the bytes the upstream sent meanwhile (MOVED: 0 when
# the answer did not wait for the upstream's next chunk); SLOW_RC is the slow GET's exit status
slow_pull() {
	local before=0 sp
	[ -s "$WORK/$1.stats" ] && before=$(jq -r .requests "$WORK/$1.stats")
	rm -f "$WORK/slow-$2"
	curl -s -f -o "$WORK/slow-$2" -H "Accept: $MT" "$3" &
	sp=$!
	for _ in $(seq 400); do
		if [ "$2" = blob ]; then
			[ -s "$WORK/slow-$2" ] && break
		else
			[ -s "$WORK/$1.stats" ] && [ "$(jq -r .requests "$WORK/$1.stats")" -gt "$before" ] && break
		fi
		sleep 0.05
	done
	local b0 b1
	b0=$(jq '[.bytes[]] | add' "$WORK/$1.stats")
	PING=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "http://127.0.0.1:$A_PORT/v2/")
	b1=$(jq '[.bytes[]] | add' "$WORK/$1.stats")
	MOVED=$((b1 - b0))
	STILL=0
	kill -0 "$sp" 2>/dev/null && STILL=1
	wait "$sp"
	SLOW_RC=$?
}
slow_rule slow 2000 || notok "faultproxy starts"
slow_pull slow manifest "http://127.0.0.1:$A_PORT/v2/slow/lib/app/manifests/v1"
check "a manifest pull waiting on a slow upstream: GET /v2/ answered meanwhile (status $PING, pull still waiting: $STILL, upstream bytes meanwhile: $MOVED)" \
	'[ "$PING" = 200 ] && [ "$STILL" = 1 ] && [ "$MOVED" = 0 ]'
check "... and that pull completes with the upstream's manifest" \
	'[ $SLOW_RC -eq 0 ] && [ "$(file_digest "$WORK/slow-manifest")" = "$D2" ]'
integ_stop "$PROXY_PID" >/dev/null
# a blob streamed while it is fetched: a chunk every 2 s
slow_rule slowb 2000 || notok "faultproxy starts"
curl -s -f -o /dev/null -H "Accept: $MT" "http://127.0.0.1:$A_PORT/v2/slowb/lib/app/manifests/v1"
SB=$(jq -r '.layers | min_by(.size) | .digest' "$WORK/slow-manifest")
slow_pull slowb blob "http://127.0.0.1:$A_PORT/v2/slowb/lib/app/blobs/$SB"
check "a blob streaming from a slow upstream: GET /v2/ answered meanwhile (status $PING, pull still going: $STILL, upstream bytes meanwhile: $MOVED)" \
	'[ "$PING" = 200 ] && [ "$STILL" = 1 ] && [ "$MOVED" = 0 ]'
check "... and that blob arrives whole" '[ $SLOW_RC -eq 0 ] && [ "$(file_digest "$WORK/slow-blob")" = "$SB" ]'
# a stop while a blob streams from the slow upstream: the stream ends, ecrd exits 0
SB2=$(jq -r '.layers | max_by(.size) | .digest' "$WORK/slow-manifest")
curl -s -o "$WORK/slow-cut" "http://127.0.0.1:$A_PORT/v2/slowb/lib/app/blobs/$SB2" &
CUT=$!
for _ in $(seq 200); do [ -s "$WORK/slow-cut" ] && break; sleep 0.05; done
integ_stop "$A_PID"
A_RC=$?
wait "$CUT"
check "a stop while a blob streams from a slow upstream: ecrd exits 0 (exit $A_RC), the client gets part of it" \
	'[ "$A_RC" -eq 0 ] && [ -s "$WORK/slow-cut" ] && [ "$(file_digest "$WORK/slow-cut")" != "$SB2" ]'
integ_stop "$PROXY_PID" >/dev/null
ecrd_start A --threads 1 --cache-freshness 1 || { notok "ecrd restarts"; finish; }

# podman (when it runs here)
if command -v podman >/dev/null && [ "$(id -u)" -eq 0 ]; then
	PR=/tmp/ptc-pod.$$
	mkdir -p "$PR/root" "$PR/run" "$PR/tmp"
	printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$PR/run" "$PR/root" >"$PR/storage.conf"
	if CONTAINERS_STORAGE_CONF=$PR/storage.conf timeout 120 podman --root "$PR/root" --runroot "$PR/run" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir "$PR/tmp" \
		pull --tls-verify=false "127.0.0.1:$A_PORT/up/lib/app:v1" >"$WORK/logs/podman.log" 2>&1; then
		ok "podman pull through the cache"
	else
		notok "podman pull through the cache: $(tail -n 2 "$WORK/logs/podman.log")"
	fi
	rm -rf "$PR"
else
	echo "ok - SKIP podman (not installed or not root)"
fi

# upstream stopped: the cached copy is still served (and the failure logged)
integ_stop "$UP_PID"
sleep 1.2
pull "127.0.0.1:$A_PORT/up/lib/app:v1" "$WORK/offline"
check "upstream stopped: warm pull still works" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/offline")" = "$D2" ] && layout_ok "$WORK/offline"'
check "upstream stopped: the failure is logged" 'grep -q "serving the cached" "$WORK/logs/A.log"'
curl -s -f -o "$WORK/drop3" "$(blob_url drop "$DD")"
check "upstream stopped: the blob whose first client left is stored (served, right digest)" \
	'[ "$(file_digest "$WORK/drop3")" = "$DD" ]'
curl -s -f -o "$WORK/conc3" "$(blob_url conc "$CD")"
check "upstream stopped: the blob pulled 20 times at once is stored" '[ "$(file_digest "$WORK/conc3")" = "$CD" ]'
rm -f "$WORK/drop3" "$WORK/conc3"
pull "127.0.0.1:$A_PORT/up/lib/other:v1" "$WORK/none"
check "upstream stopped: an image never cached fails" '[ $RC -ne 0 ]'

# --- a second ecrd as upstream -------------------------------------------------

ecrd_start B || { notok "upstream ecrd starts"; finish; }
push "$WORK/img1" v1 "127.0.0.1:$B_PORT/team/svc:v1"
DB1=$(raw_digest "127.0.0.1:$B_PORT/team/svc:v1")
ecr_api "$A_PORT" create-pull-through-cache-rule --ecr-repository-prefix eb \
	--upstream-registry-url "http://127.0.0.1:$B_PORT" >"$WORK/rule2.json" 2>>"$WORK/logs/aws.err"
pull "127.0.0.1:$A_PORT/eb/team/svc:v1" "$WORK/fromb"
check "ecrd as upstream: cold pull" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/fromb")" = "$DB1" ] && layout_ok "$WORK/fromb"'
integ_stop "$B_PID"
pull "127.0.0.1:$A_PORT/eb/team/svc:v1" "$WORK/fromb2"
check "ecrd as upstream, stopped: warm pull" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/fromb2")" = "$DB1" ]'

# --- figures: 256 MiB image, cold through the cache vs direct vs warm ------------

if [ "${FIGURES:-1}" = 1 ]; then
	upstream_start || { notok "docker-registry restarts"; finish; }
	integ_stop "$A_PID"
	ecrd_start A --threads 1 --cache-freshness 3600 || { notok "ecrd restarts"; finish; }
	# the restarted docker-registry has another port: a rule of its own
	ecr_api "$A_PORT" create-pull-through-cache-rule --ecr-repository-prefix fig \
		--upstream-registry-url "http://127.0.0.1:$UP_PORT" >/dev/null 2>>"$WORK/logs/aws.err"
	make_layout "$WORK/big" v1 65536 65536 65536 65536 >/dev/null
	push "$WORK/big" v1 "127.0.0.1:$UP_PORT/lib/big:v1"
	DB=$(raw_digest "127.0.0.1:$UP_PORT/lib/big:v1")
	rm -rf "$WORK/big"
	for round in 1 2 3; do
		pull "127.0.0.1:$UP_PORT/lib/big:v1" "$WORK/p-direct"
		direct=$ELAPSED_MS
		[ $RC -eq 0 ] || notok "direct pull of 256 MiB (round $round)"
		ecr_api "$A_PORT" delete-repository --force --repository-name fig/lib/big >/dev/null 2>&1
		pull "127.0.0.1:$A_PORT/fig/lib/big:v1" "$WORK/p-cold"
		cold=$ELAPSED_MS
		check "cold pull of 256 MiB through the cache (round $round)" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/p-cold")" = "$DB" ]'
		pull "127.0.0.1:$A_PORT/fig/lib/big:v1" "$WORK/p-warm"
		warm=$ELAPSED_MS
		check "warm pull of 256 MiB (round $round)" '[ $RC -eq 0 ] && [ "$(layout_digest "$WORK/p-warm")" = "$DB" ]'
		echo "figures: 256 MiB image, skopeo copy to oci: (round $round): cold through the cache ${cold} ms, direct from docker-registry ${direct} ms, warm from the cache ${warm} ms"
		rm -rf "$WORK/p-direct" "$WORK/p-cold" "$WORK/p-warm"
	done
fi

integ_stop "$A_PID"
A_RC=$?
check "ecrd stops cleanly, no sanitizer report" '[ "$A_RC" -eq 0 ] && ! grep -q "Sanitizer\|runtime error" "$WORK"/logs/*.log'

finish
