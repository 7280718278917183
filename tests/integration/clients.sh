#!/usr/bin/env bash
# Real OCI clients against ecrd: skopeo, podman, buildah, umoci, curl and a
# private containerd (ctr), through the shared ../shared/clients/oci-clients-check.sh
# with STRICT=1, plus containerd pulls by digest and of one platform of a
# multi-arch index.
#
#   clients.sh path/to/ecrd
#
# Starts ecrd on 127.0.0.1:0 with a temporary data folder and a containerd
# daemon of its own (CRI off; root, state and socket in a temporary folder);
# both are stopped and every temporary folder removed on exit. Installs the
# Debian packages it needs when missing (as root). Fails when a step fails or
# when any step is skipped other than auth and precreate (no credentials: ecrd
# has no authentication yet) and referrers_api (see SKIP_STEPS below).
#
# Needs root: podman/buildah push rootful and containerd runs as root.
# Exit status: 0 pass, 1 fail, 77 skip (not root).
set -uo pipefail

ECRD=${1:?usage: clients.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (rootful podman/buildah and a private containerd)"
	exit 77
fi

TOP=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || TOP=$(cd "$HERE/../.." && pwd)
CHECK=$TOP/../shared/clients/oci-clients-check.sh
if [ ! -f "$CHECK" ]; then
	echo "FAIL: $CHECK is missing: the shared client check must be checked out beside the repository (../shared)" >&2
	exit 1
fi

integ_need_packages skopeo podman buildah umoci jq curl containerd || exit 1

WORK=$(mktemp -d /tmp/integ-clients.XXXXXX)
ECRD_PID=
CTRD_PID=
cleanup() {
	integ_stop "$CTRD_PID"
	integ_stop "$ECRD_PID"
	# containerd's native snapshots and content are plain files under $WORK
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=()
fail() { failures+=("$*"); echo "FAIL: $*"; }

# --- ecrd ----------------------------------------------------------------------
mkdir -p "$WORK/data"
integ_start_ecrd "$ECRD" "$WORK/data" "$WORK/ecrd.log" || exit 1
REG=127.0.0.1:$ECRD_PORT
echo "ecrd pid $ECRD_PID listening on $REG"

# --- containerd ----------------------------------------------------------------
C=$WORK/ctrd
mkdir -p "$C/root" "$C/state" "$C/opt"
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/c.sock"
[ttrpc]
  address = "$C/c.sock.ttrpc"
[debug]
  address = "$C/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
EOF
containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
CTRD_PID=$!
CTR_SOCK=$C/c.sock
for _ in $(seq 100); do
	[ -S "$CTR_SOCK" ] && ctr --address "$CTR_SOCK" version >/dev/null 2>&1 && break
	kill -0 "$CTRD_PID" 2>/dev/null || break
	sleep 0.1
done
if ! ctr --address "$CTR_SOCK" version >/dev/null 2>&1; then
	echo "FAIL: containerd did not start:" >&2
	tail -n 30 "$C/containerd.log" >&2
	exit 1
fi
echo "containerd pid $CTRD_PID on $CTR_SOCK"

# --- the shared client check -----------------------------------------------------
# referrers_api is skipped: the shared script pushes the attestation referrer
# with the annotation kind "attestation" and then looks for "attest", so it
# fails against any correct registry. ecrd's referrers API is tested in
# tests/server. KEEP_REMOTE=1: the ctr checks below reuse the pushed index
# (the data folder is temporary anyway).
echo "== $CHECK $REG"
# (The check makes and removes its own work folder under /tmp; not under
# $WORK, because podman refuses a --runroot longer than 50 characters.)
STRICT=1 KEEP_REMOTE=1 CTR_ADDRESS=$CTR_SOCK SKIP_STEPS=referrers_api REG_NAMESPACE=ocicheck \
	bash "$CHECK" "$REG" 2>&1 | tee "$WORK/check.out"
check_rc=${PIPESTATUS[0]}
summary=$(tail -n 1 "$WORK/check.out")
if ! [[ "$summary" =~ ^[0-9]+\ passed,\ [0-9]+\ failed,\ [0-9]+\ skipped$ ]]; then
	fail "the client check did not finish (last line: '$summary', exit status $check_rc)"
elif [ "$check_rc" -ne 0 ]; then
	fail "the client check failed (exit status $check_rc): $summary"
fi
unexpected=$(awk '$1 == "SKIP" && $2 != "auth" && $2 != "precreate" && $2 != "referrers_api" { print $2 }' \
	"$WORK/check.out" | paste -sd ' ')
[ -z "$unexpected" ] || fail "unexpected skipped steps: $unexpected"
grep -q '^PASS  ctr_pull_push ' "$WORK/check.out" || fail "ctr_pull_push did not pass"

# --- containerd: pull by digest, and one platform of a multi-arch index ------------
api() { curl -sS --max-time 60 "$@"; }
ctrn=(ctr --address "$CTR_SOCK" -n integ)
ctr_extra() {
	local multi single idx arm amd single_digest content
	multi=$(api "http://$REG/v2/_catalog?n=1000" | jq -r '.repositories[] | select(endswith("/multi"))' | head -n 1)
	single=$(api "http://$REG/v2/_catalog?n=1000" | jq -r '.repositories[] | select(endswith("/single"))' | head -n 1)
	[ -n "$multi" ] && [ -n "$single" ] || { fail "ctr: no */multi or */single repository in the catalog"; return; }
	api -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/$multi/manifests/v1" >"$WORK/index.json"
	idx=sha256:$(sha256sum <"$WORK/index.json" | cut -d' ' -f1)
	arm=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$WORK/index.json")
	amd=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$WORK/index.json")
	[ -n "$arm" ] && [ -n "$amd" ] || { fail "ctr: $multi:v1 is not an amd64+arm64 index"; return; }

	# one platform of the index, by digest of the index
	echo "== ctr images pull --platform linux/arm64 $REG/$multi@$idx"
	if ! "${ctrn[@]}" images pull --plain-http --snapshotter native --platform linux/arm64 \
		"$REG/$multi@$idx" >"$WORK/ctr1.log" 2>&1; then
		fail "ctr pull of linux/arm64 from the index: $(tail -n 5 "$WORK/ctr1.log")"
		return
	fi
	content=$("${ctrn[@]}" content ls -q)
	grep -qx "$idx" <<<"$content" || fail "ctr: index $idx not in the content store"
	grep -qx "$arm" <<<"$content" || fail "ctr: arm64 manifest $arm not fetched"
	! grep -qx "$amd" <<<"$content" || fail "ctr: amd64 manifest $amd fetched although only linux/arm64 was asked for"
	for l in $(api -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$REG/v2/$multi/manifests/$arm" | jq -r '.config.digest, .layers[].digest'); do
		grep -qx "$l" <<<"$content" || fail "ctr: blob $l of the arm64 image not fetched"
	done

	# single-arch image by digest, unpacked
	single_digest=$(curl -sS -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$REG/v2/$single/manifests/v1" | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')
	echo "== ctr images pull $REG/$single@$single_digest"
	if ! "${ctrn[@]}" images pull --plain-http --snapshotter native "$REG/$single@$single_digest" \
		>"$WORK/ctr2.log" 2>&1; then
		fail "ctr pull by digest: $(tail -n 5 "$WORK/ctr2.log")"
		return
	fi
	"${ctrn[@]}" images check "name==$REG/$single@$single_digest" | grep -F "$REG/$single@$single_digest" |
		grep -q complete ||
		fail "ctr images check: $single@$single_digest incomplete"
	echo "ctr: arm64 of the index and the single image by digest pulled"
}
ctr_extra

# --- ecrd stops cleanly ---------------------------------------------------------------
integ_stop "$CTRD_PID"
CTRD_PID=
integ_stop "$ECRD_PID"
rc=$?
ECRD_PID=
[ "$rc" -eq 0 ] || fail "ecrd exit status $rc after SIGTERM"
if grep -Eq 'AddressSanitizer|runtime error:|LeakSanitizer' "$WORK/ecrd.log"; then
	fail "sanitizer report in ecrd's log"
	grep -E -A 30 'AddressSanitizer|runtime error:|LeakSanitizer' "$WORK/ecrd.log" | head -n 60
fi

echo "client check: $summary"
if [ ${#failures[@]} -gt 0 ]; then
	echo "${#failures[@]} problem(s):"
	printf '  %s\n' "${failures[@]}"
	echo "ecrd log (last 20 lines):"
	tail -n 20 "$WORK/ecrd.log"
	exit 1
fi
echo "all passed"
exit 0
