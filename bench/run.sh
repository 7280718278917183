#!/usr/bin/env bash
# Benchmark ecrd against Debian's docker-registry in one registry-bench run.
#
#   bench/run.sh [--quick] [REGISTRY-BENCH OPTION]...
#
# Builds libecr in release mode (build-bench/), installs docker-registry and
# wrk with apt-get when missing, writes a minimal docker-registry config
# (filesystem storage, delete enabled, access log off, log level warn,
# inmemory blob descriptor cache: the shared baseline's setup), and runs
# ../shared/bench/registry-bench with both targets: "ref" (docker-registry)
# first, then "ecrd", so the ratio column is ecrd/ref. registry-bench starts
# both servers itself (it measures cold start), on two free loopback ports,
# with their data in one temporary folder, which is removed at the end.
#
# Options are passed to registry-bench (before the first --url, so they apply
# to both targets), e.g. --quick or --only push,pull. REGISTRY_BENCH overrides
# the path of registry-bench. ECRD_ARGS adds ecrd options (default
# "--log-level warn"). KEEP=1 keeps the temporary folder. The JSON result
# (registry-bench's last line) is saved as build-bench/bench-last.json.
#
# Before the servers start, bench/limits.py measures the machine's limits in the
# same run (openssl dgst -sha256 of a 512 MiB file, nginx with sendfile serving it
# to curl, and a small file to wrk; LIMITS=0 skips it); at the end bench/targets.py
# prints issue 12's targets table (measured, wanted, PASS/MISS) from both JSONs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || TOP=$(cd "$HERE/.." && pwd)
BENCH=${REGISTRY_BENCH:-$TOP/../shared/bench/registry-bench}
if [ ! -x "$BENCH" ]; then
	echo "run.sh: $BENCH not found: the shared tree must be checked out beside the repository (../shared)," \
		"or set REGISTRY_BENCH" >&2
	exit 2
fi

# --- packages --------------------------------------------------------------------------
missing=()
for p in docker-registry wrk nginx curl openssl python3 meson ninja-build; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "run.sh: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
		exit 2
	fi
	echo "run.sh: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$TOP/scripts/deps.sh"

# --- release build ---------------------------------------------------------------------
B=$TOP/build-bench
if [ -f "$B/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$B" --buildtype=release -Dtests=false >/dev/null
else
	meson setup "$B" "$TOP" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$B" >/dev/null
ECRD=$B/tools/ecrd
[ -x "$ECRD" ] || { echo "run.sh: $ECRD was not built" >&2; exit 1; }

# --- servers -----------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/bench-run.XXXXXX)
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then echo "run.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

read -r REF_PORT ECRD_PORT < <(python3 - <<'PY'
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
PY
)
mkdir -p "$WORK/ref" "$WORK/ecrd"
cat >"$WORK/ref.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/ref
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$REF_PORT
EOF

# --- the machine's limits, in the same run (targets are relative to them) -------------------
# LIMITS=0 skips them (the targets table then shows "-" for the relative targets).
LIMITS_JSON=$WORK/limits.json
echo '{}' >"$LIMITS_JSON"
if [ "${LIMITS:-1}" != 0 ]; then
	lim_size=512
	for a in "$@"; do [ "$a" = --quick ] && lim_size=128; done
	"$HERE/limits.py" --work-dir "$WORK" --size-mib "$lim_size" --json "$LIMITS_JSON" ||
		echo "run.sh: limits.py failed: the relative targets will show '-'" >&2
fi

echo "ref:  docker-registry $(dpkg-query -W -f='${Version}' docker-registry) on 127.0.0.1:$REF_PORT"
echo "ecrd: $("$ECRD" --version 2>&1 | head -n 1) (release build) on 127.0.0.1:$ECRD_PORT"
# shellcheck disable=SC2206
ECRD_EXTRA=(${ECRD_ARGS:---log-level warn})
# docker-registry runs without authentication: so does ecrd.
ECRD_EXTRA+=(--no-auth)
"$BENCH" "$@" \
	--url "http://127.0.0.1:$REF_PORT" --name ref \
	--start-cmd "docker-registry serve $WORK/ref.yml" \
	--url "http://127.0.0.1:$ECRD_PORT" --name ecrd \
	--start-cmd "$ECRD --listen 127.0.0.1:$ECRD_PORT --data $WORK/ecrd ${ECRD_EXTRA[*]}" |
	tee "$WORK/bench.out" | grep -v '^{"tool":'
rc=${PIPESTATUS[0]}

# The ratios (ecrd/ref) once more, one per line, from the JSON on the last line.
tail -n 1 "$WORK/bench.out" >"$B/bench-last.json"
cp "$LIMITS_JSON" "$B/limits-last.json"
echo "(registry-bench's JSON: $B/bench-last.json; the limits': $B/limits-last.json)"
python3 - "$B/bench-last.json" <<'PY' || true
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(0)
print("\necrd / docker-registry, per scenario:")
for r in doc.get("results", []):
    ratio = (r.get("ratio_vs_first") or {}).get("ecrd")
    if ratio is None:
        print(f"  {r['label']:<40} -")
        continue
    hib = r.get("higher_is_better", True)
    better = ratio > 1 if hib else ratio < 1
    verdict = "ecrd better" if better else ("same" if ratio == 1 else "ecrd WORSE")
    print(f"  {r['label']:<40} {ratio:6.2f}  ({'higher' if hib else 'lower'} is better: {verdict})")
PY
python3 "$HERE/targets.py" "$B/bench-last.json" "$B/limits-last.json" || true
exit "$rc"
