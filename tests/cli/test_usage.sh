#!/bin/bash
# `ecr usage` end to end: known pushes and pulls (curl) through an ecrd, then the usage through ecrd's GetUsage
# (http://) and, after ecrd stopped (its counters flushed), from the data folder (ecr:///DIR), with exact figures,
# a price table, windows and errors.
#   test_usage.sh /path/to/ecr /path/to/ecrd
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
integ_tap_numbered
integ_need_tools curl jq || exit 1

WORK=$(mktemp -d /tmp/ecr-usage.XXXXXX)
PIDS=()
trap integ_cleanup_work EXIT
DATA=$WORK/data
mkdir -p "$DATA"

integ_start_ecrd "$ECRD" "$DATA" "$WORK/ecrd.log" || { notok "ecrd starts" "$(cat "$WORK/ecrd.log")"; finish; }
PIDS+=("$ECRD_PID")
BASE=http://127.0.0.1:$ECRD_PORT
REPO=team/app

sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
size() { stat -c %s "$1"; }
push_blob() { # FILE
	curl -fsS -o /dev/null -X POST --data-binary "@$1" -H 'Content-Type: application/octet-stream' \
		"$BASE/v2/$REPO/blobs/uploads/?digest=$(sha "$1")"
}

head -c 1000 /dev/urandom >"$WORK/l1"
head -c 2500 /dev/urandom >"$WORK/l2"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":1000},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":2500}]}' \
	"$(sha "$WORK/config")" "$(size "$WORK/config")" "$(sha "$WORK/l1")" "$(sha "$WORK/l2")" >"$WORK/manifest"
CL=$(size "$WORK/config")
ML=$(size "$WORK/manifest")

if push_blob "$WORK/l1" && push_blob "$WORK/l2" && push_blob "$WORK/config" &&
	curl -fsS -o /dev/null -X PUT --data-binary "@$WORK/manifest" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$BASE/v2/$REPO/manifests/v1"; then
	ok "pushed 3 blobs and a manifest"
else
	notok "pushed 3 blobs and a manifest" "$(tail -5 "$WORK/ecrd.log")"
fi
# pulls: the manifest (GET), 500 bytes of l2 (a range), and HEADs that do not count
GOT=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$BASE/v2/$REPO/manifests/v1" | wc -c)
curl -fsS -o /dev/null -I "$BASE/v2/$REPO/manifests/v1"
RANGE=$(curl -fsS -H 'Range: bytes=100-599' "$BASE/v2/$REPO/blobs/$(sha "$WORK/l2")" | wc -c)
curl -fsS -o /dev/null -I "$BASE/v2/$REPO/blobs/$(sha "$WORK/l1")"
if [ "$GOT" = "$ML" ] && [ "$RANGE" = 500 ]; then ok "pulled the manifest and a 500-byte range"; else
	notok "pulled the manifest and a 500-byte range" "manifest $GOT of $ML, range $RANGE"; fi

STORED=$((1000 + 2500 + CL + ML))
PUSHED=$STORED
PULLED=$((ML + 500))
# check NAME JSON-PATH-TO-USAGE: the figures at that path of $OUT
check_figures() {
	local name=$1 path=$2 want got
	want=$(jq -cn --argjson s $STORED --argjson p $PUSHED --argjson l $PULLED \
		'{images:1,storedBytes:$s,storedBytesUnique:$s,pushedBytes:$p,pulledBytes:$l,imagePushes:1,imagePulls:1,blobUploads:3,blobDownloads:1}')
	got=$(jq -c "$path | {images,storedBytes,storedBytesUnique,pushedBytes,pulledBytes,imagePushes,imagePulls,blobUploads,blobDownloads}" <<<"$OUT" 2>&1)
	if [ "$got" = "$want" ]; then ok "$name"; else notok "$name" "want $want" "got  $got"; fi
}

OUT=$("$ECR" usage "$BASE" --json 2>"$WORK/err")
RC=$?
[ $RC = 0 ] && ok "ecr usage http:// exits 0" || notok "ecr usage http:// exits 0" "$(cat "$WORK/err")"
check_figures "http://: the totals" .total
check_figures "http://: the repository line" '.repositories[0]'
[ "$(jq -r '.repositories[0].repositoryName' <<<"$OUT")" = "$REPO" ] && ok "http://: the repository's name" ||
	notok "http://: the repository's name" "$OUT"

TABLE=$("$ECR" usage "$BASE" 2>&1)
if grep -q "^$REPO " <<<"$TABLE" && grep -q '^TOTAL ' <<<"$TABLE" && grep -q '^estimate for 1.00 month' <<<"$TABLE"; then
	ok "table output: a line per repository, the total, the estimate"
else
	notok "table output: a line per repository, the total, the estimate" "$TABLE"
fi

# ecrd stops: its counters are flushed; the data folder holds them
integ_stop "$ECRD_PID" >/dev/null
OUT=$("$ECR" usage "ecr://$DATA" --json 2>"$WORK/err")
RC=$?
[ $RC = 0 ] && ok "ecr usage ecr:///DIR exits 0" || notok "ecr usage ecr:///DIR exits 0" "$(cat "$WORK/err")"
check_figures "ecr:///DIR after ecrd stopped: the totals" .total
OUT=$("$ECR" usage "ecr://$DATA//$REPO" --json 2>"$WORK/err")
check_figures "ecr:///DIR//REPO: the repository" .total
[ "$(jq -r .repositoryName <<<"$OUT")" = "$REPO" ] && ok "ecr:///DIR//REPO names the repository" ||
	notok "ecr:///DIR//REPO names the repository" "$OUT"

# a window in the future: stored bytes, no transfer; the window as counted
OUT=$("$ECR" usage "ecr://$DATA" --from 2999-01-01 --to 2999-01-03 --json 2>&1)
if [ "$(jq -c '[.total.storedBytes,.total.pushedBytes,.total.pulledBytes,.window.from,.window.to]' <<<"$OUT")" = \
	"[$STORED,0,0,\"2999-01-01T00:00:00Z\",\"2999-01-03T00:00:00Z\"]" ]; then
	ok "a window without transfers"
else
	notok "a window without transfers" "$OUT"
fi

# a price table: $1e9 per GB-month of storage, everything else free, 2 months
printf '{"storageUsdPerGbMonth": 1000000000, "transferOut": [{"usdPerGb": 0}]}' >"$WORK/prices.json"
OUT=$("$ECR" usage "ecr://$DATA" --prices "$WORK/prices.json" --months 2 --json 2>&1)
if jq -e --argjson s $STORED '(.estimate.storageUsd - ($s / 1073741824 * 1000000000 * 2) | fabs) < 0.0001
	and .estimate.transferOutUsd == 0 and .estimate.months == 2
	and (.estimate.totalUsd - .estimate.storageUsd | fabs) < 0.0001' <<<"$OUT" >/dev/null; then
	ok "--prices and --months: the estimate"
else
	notok "--prices and --months: the estimate" "$OUT"
fi

printf '{"storageUsdPerGbMonth": "cheap"}' >"$WORK/bad.json"
"$ECR" usage "ecr://$DATA" --prices "$WORK/bad.json" >/dev/null 2>"$WORK/err"
RC=$?
if [ $RC = 1 ] && grep -q storageUsdPerGbMonth "$WORK/err"; then ok "a bad price table: exit 1 naming the member"; else
	notok "a bad price table: exit 1 naming the member" "rc $RC" "$(cat "$WORK/err")"; fi
"$ECR" usage "ecr://$DATA" --from yesterday >/dev/null 2>&1
RC=$?
[ $RC = 2 ] && ok "a bad date: exit 2" || notok "a bad date: exit 2" "rc $RC"
"$ECR" usage >/dev/null 2>&1
RC=$?
[ $RC = 2 ] && ok "no location: exit 2" || notok "no location: exit 2" "rc $RC"
"$ECR" usage "ecr://$DATA" --repository team/none >/dev/null 2>"$WORK/err"
RC=$?
[ $RC = 1 ] && ok "an unknown repository: exit 1" || notok "an unknown repository: exit 1" "rc $RC"

finish
