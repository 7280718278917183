#!/usr/bin/env bash
# The run command: installs what it needs, builds libecr, and runs the registry
# server ecrd in the foreground (Ctrl-C stops it) on 127.0.0.1:5000, with its
# data in ./ecr-data (relative to where you run this).
#
#   ECR_DATA=DIR        another data folder
#   ECRD_LISTEN=A:P     another listen address
#   scripts/run.sh --no-auth          serve without authentication (throwaway use)
#   scripts/run.sh [ECRD OPTION]...   extra options go to ecrd (ecrd --help)
#
# (The library-only examples, examples/push-layout and examples/list with
# scripts/make-example-layout.py, still work without the server; see
# examples/README.md.)
set -euo pipefail

DATA=${ECR_DATA:-./ecr-data}
LISTEN=${ECRD_LISTEN:-127.0.0.1:5000}
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

# With port 0 ecrd picks the port and prints it ("ecrd: listening on ...").
SHOWN=$LISTEN
if [[ "$LISTEN" == *:0 ]]; then
	SHOWN=${LISTEN%:0}:PORT
fi

cat <<HINT
==> ecrd: registry file://$DATA on http://$SHOWN (Ctrl-C stops it)
    Authentication is on: ecrd prints below where the administrator's access key is
    ($DATA/credentials, written on the first start) and the lines to paste into
    another terminal (export ... and aws ecr get-login-password | docker login ...).
    Then, e.g. (plain HTTP, so TLS verification off):
      aws ecr get-login-password | skopeo login --tls-verify=false --username AWS --password-stdin $SHOWN
      skopeo copy --dest-tls-verify=false docker://docker.io/library/hello-world:latest \\
          docker://$SHOWN/example/hello:latest
      aws ecr describe-repositories
    Repositories are created on first push. Options: build/tools/ecrd --help, man -l docs/ecrd.8
    (scripts/run.sh --no-auth: no authentication, for throwaway local use)

HINT
exec build/tools/ecrd --data "$DATA" --listen "$LISTEN" "$@"
