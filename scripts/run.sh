#!/usr/bin/env bash
# The run command: installs what it needs, builds libecr and its examples, and
# shows the library at work on a registry kept in a folder:
#
#   1. scripts/make-example-layout.py writes a small OCI image layout;
#   2. examples/push-layout pushes it into file://$ECR_DATA as example/hello:latest;
#   3. examples/list lists the registry's repositories and images.
#
# ECR_DATA defaults to ./ecr-data (relative to where you run this). Run it
# again and the push finds every blob already there.
# (The ecrd HTTP server comes in a later release; then this will serve.)
set -euo pipefail

DATA=${ECR_DATA:-./ecr-data}
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)

cd "$(dirname "$0")/.."

scripts/deps.sh

# Quiet when all goes well; the full output when something fails.
quietly() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "run.sh: '$*' failed" >&2
		exit 1
	fi
}

if [ -f build/meson-private/coredata.dat ]; then
	quietly meson setup --reconfigure build
else
	quietly meson setup build
fi
quietly ninja -C build

LAYOUT=$(mktemp -d "${TMPDIR:-/tmp}/ecr-layout.XXXXXX")
trap 'rm -rf "$LAYOUT"' EXIT

echo "==> writing an example OCI image layout"
python3 scripts/make-example-layout.py "$LAYOUT/hello" >/dev/null
echo "==> examples/push-layout $LAYOUT/hello file://$DATA example/hello:latest"
build/examples/push-layout "$LAYOUT/hello" "file://$DATA" example/hello:latest
echo
echo "==> examples/list file://$DATA"
build/examples/list "file://$DATA"
