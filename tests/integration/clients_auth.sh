#!/usr/bin/env bash
# The shared OCI client check against ecrd with authentication on, logged in
# the ECR way: REG_USER=AWS and REG_PASS from `aws ecr get-login-password`
# (the AWS CLI signs GetAuthorizationToken with the administrator key that
# ecrd wrote on first start). The check's auth step must pass; every other
# step must pass as in clients.sh (containerd's is covered there).
#
#   clients_auth.sh path/to/ecrd
#
# Needs root (rootful podman/buildah). Exit status: 0 pass, 1 fail, 77 skip.
set -uo pipefail

ECRD=${1:?usage: clients_auth.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (rootful podman/buildah)"
	exit 77
fi
TOP=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || TOP=$(cd "$HERE/../.." && pwd)
CHECK=$TOP/../shared/clients/oci-clients-check.sh
if [ ! -f "$CHECK" ]; then
	echo "FAIL: $CHECK is missing: the shared client check must be checked out beside the repository (../shared)" >&2
	exit 1
fi
integ_need_packages skopeo podman buildah umoci jq curl awscli || exit 1

WORK=$(mktemp -d /tmp/integ-auth.XXXXXX)
ECRD_PID=
cleanup() {
	integ_stop "$ECRD_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$WORK/data"
ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$WORK/data" "$WORK/ecrd.log" || exit 1
REG=127.0.0.1:$ECRD_PORT
[ -f "$WORK/data/credentials" ] || { echo "FAIL: ecrd wrote no credentials file"; exit 1; }

# Without credentials the registry must refuse, with ECR's Basic challenge.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")
challenge=$(curl -s -D - -o /dev/null "http://$REG/v2/" | tr -d '\r' | grep -i '^www-authenticate:' || true)
[ "$code" = 401 ] || { echo "FAIL: GET /v2/ without credentials: HTTP $code, want 401"; exit 1; }
[[ "$challenge" == *Basic* ]] || { echo "FAIL: no Basic challenge: '$challenge'"; exit 1; }

PASS=$(AWS_SHARED_CREDENTIALS_FILE=$WORK/data/credentials AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 \
	/usr/bin/aws ecr get-login-password --endpoint-url "http://$REG" 2>"$WORK/aws.err")
if [ -z "$PASS" ]; then
	echo "FAIL: aws ecr get-login-password: $(cat "$WORK/aws.err")"
	exit 1
fi
echo "== $CHECK $REG (REG_USER=AWS, a token from GetAuthorizationToken)"
STRICT=1 REG_USER=AWS REG_PASS=$PASS SKIP_STEPS=referrers_api REG_NAMESPACE=authcheck \
	bash "$CHECK" "$REG" 2>&1 | tee "$WORK/check.out"
check_rc=${PIPESTATUS[0]}
summary=$(tail -n 1 "$WORK/check.out")
failures=()
if ! [[ "$summary" =~ ^[0-9]+\ passed,\ [0-9]+\ failed,\ [0-9]+\ skipped$ ]]; then
	failures+=("the client check did not finish (last line: '$summary', exit status $check_rc)")
elif [ "$check_rc" -ne 0 ]; then
	failures+=("the client check failed (exit status $check_rc): $summary")
fi
grep -q '^PASS  auth ' "$WORK/check.out" || failures+=("the auth step did not pass")
# referrers_api: see clients.sh; ctr_pull_push needs CTR_ADDRESS (clients.sh covers containerd)
unexpected=$(awk '$1 == "SKIP" && $2 != "precreate" && $2 != "referrers_api" && $2 != "ctr_pull_push" { print $2 }' \
	"$WORK/check.out" | paste -sd ' ')
[ -z "$unexpected" ] || failures+=("unexpected skipped steps: $unexpected")

integ_stop "$ECRD_PID"
rc=$?
ECRD_PID=
[ "$rc" -eq 0 ] || failures+=("ecrd exit status $rc after SIGTERM")
if grep -Eq 'AddressSanitizer|runtime error:|LeakSanitizer' "$WORK/ecrd.log"; then
	failures+=("sanitizer report in ecrd's log")
fi
echo "client check with authentication: $summary"
if [ ${#failures[@]} -gt 0 ]; then
	printf 'FAIL: %s\n' "${failures[@]}"
	tail -n 20 "$WORK/ecrd.log"
	exit 1
fi
echo "all passed"
