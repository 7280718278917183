#!/usr/bin/env bash
# Copy throughput: `ecr copy` next to `skopeo copy` of the same image, from one
# ecrd to another, on this machine.
#
#   bench/copy.sh [SIZE_MIB [ROUNDS [LAYERS]]]      (defaults: 1024 5 4)
#
# Builds libecr in release mode (build-bench/), makes an OCI layout of SIZE_MIB
# MiB of random layers (LAYERS of them), starts two ecrd (--no-auth, loopback,
# data in a temporary folder), pushes the image to the first with skopeo, then
# runs ROUNDS rounds of: ecr copy to a fresh repository of the second ecrd, and
# skopeo copy to another fresh repository of it, alternating which goes first.
# Each copy starts from an empty destination repository (no blob is skipped or
# mounted: every copy gets a new destination ecrd with an empty data folder). Prints every run's wall time
# and MiB/s, then the medians and the ratio of the medians (ecr/skopeo
# throughput). KEEP=1 keeps the temporary folder.
set -euo pipefail

SIZE_MIB=${1:-1024}
ROUNDS=${2:-5}
LAYERS=${3:-4}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || TOP=$(cd "$HERE/.." && pwd)
"$TOP/scripts/deps.sh"

B=$TOP/build-bench
if [ -f "$B/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$B" --buildtype=release -Dtests=false >/dev/null
else
	meson setup "$B" "$TOP" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$B" >/dev/null
ECRD=$B/tools/ecrd
ECR=$B/tools/ecr

WORK=$(mktemp -d /tmp/bench-copy.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then echo "copy.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- the image: an OCI layout of random layers -----------------------------------------
python3 - "$WORK/layout" "$SIZE_MIB" "$LAYERS" <<'PY'
import hashlib, json, os, sys
root, size_mib, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)
descs = []
per = size_mib * 1024 * 1024 // layers
for i in range(layers):
    h = hashlib.sha256()
    tmp = os.path.join(blobs, "tmp")
    with open(tmp, "wb") as f:
        left = per
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    os.rename(tmp, os.path.join(blobs, h.hexdigest()))
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + h.hexdigest(), "size": per})
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]}}).encode()
cd, cs = put(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                       "layers": descs}).encode()
md, ms = put(manifest)
with open(os.path.join(root, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "big"}}]}, f)
PY

# --- two registries --------------------------------------------------------------------------
start_ecrd() { # NAME -> sets PORT, PID
	rm -f "$WORK/$1.out" # not the port line of an earlier ecrd of that name
	"$ECRD" --listen 127.0.0.1:0 --no-auth --log-level warn --data "$WORK/$1" >"$WORK/$1.out" 2>"$WORK/$1.log" &
	PID=$!
	PIDS+=("$PID")
	local line=
	for _ in $(seq 200); do
		line=$(grep -m1 '^ecrd: listening on ' "$WORK/$1.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		sleep 0.05
	done
	PORT=${line##*:}
	[ -n "$PORT" ] || { echo "copy.sh: ecrd $1 did not start" >&2; cat "$WORK/$1.log" >&2; exit 1; }
}
start_ecrd src
SRC=$PORT
# Every copy goes to a new, empty destination registry (a fresh ecrd on a new
# port): neither tool can skip or mount a blob it moved before (skopeo keeps a
# blob-info cache across runs and would otherwise mount from an earlier copy).
fresh_dst() {
	[ -n "${DST_PID:-}" ] && { kill "$DST_PID" 2>/dev/null; wait "$DST_PID" 2>/dev/null || true; rm -rf "$WORK/dst"; }
	start_ecrd dst
	DST=$PORT DST_PID=$PID
}
skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:big" "docker://127.0.0.1:$SRC/bench/big:1" >/dev/null

now() { date +%s.%N; }
declare -a T_ECR T_SKOPEO
run_ecr() {
	local t0 t1
	fresh_dst
	t0=$(now)
	"$ECR" copy --quiet --plain-http "docker://127.0.0.1:$SRC/bench/big:1" "docker://127.0.0.1:$DST/ecr$1/big:1" >/dev/null
	t1=$(now)
	T_ECR+=("$(echo "$t1 - $t0" | bc -l)")
}
run_skopeo() {
	local t0 t1
	fresh_dst
	t0=$(now)
	skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
		"docker://127.0.0.1:$SRC/bench/big:1" "docker://127.0.0.1:$DST/skopeo$1/big:1" >/dev/null
	t1=$(now)
	T_SKOPEO+=("$(echo "$t1 - $t0" | bc -l)")
}
echo "copy.sh: $SIZE_MIB MiB in $LAYERS layers, ecrd 127.0.0.1:$SRC -> a fresh ecrd per copy, $ROUNDS rounds" \
	"($(nproc) CPUs)"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then run_ecr "$r"; run_skopeo "$r"; else run_skopeo "$r"; run_ecr "$r"; fi
	printf 'round %d: ecr %.2f s (%.0f MiB/s), skopeo %.2f s (%.0f MiB/s)\n' "$r" \
		"${T_ECR[-1]}" "$(echo "$SIZE_MIB / ${T_ECR[-1]}" | bc -l)" \
		"${T_SKOPEO[-1]}" "$(echo "$SIZE_MIB / ${T_SKOPEO[-1]}" | bc -l)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ME=$(median "${T_ECR[@]}")
MS=$(median "${T_SKOPEO[@]}")
printf 'median: ecr %.2f s (%.0f MiB/s), skopeo %.2f s (%.0f MiB/s); throughput ratio ecr/skopeo %.2f\n' \
	"$ME" "$(echo "$SIZE_MIB / $ME" | bc -l)" "$MS" "$(echo "$SIZE_MIB / $MS" | bc -l)" "$(echo "$MS / $ME" | bc -l)"
