#!/usr/bin/env bash
# Public repositories with real clients and no credentials: an ecrd with
# authentication on and a public registry (--public-alias), an image pushed
# with credentials (skopeo, a token from `aws ecr get-login-password`), then
# skopeo copy and podman pull of it with NO credentials (the Bearer challenge
# and an anonymous token from /token), an anonymous skopeo push refused, and
# anonymous skopeo inspect of a private repository and of a missing one giving
# the same error. Last, a measured run of the anonymous pull limit
# (bench/anonymous_rate.sh at 2 a second, burst 5, for 3 s): its figures are
# printed, and the 200s must be what the token bucket allows.
#
#   public_pull.sh path/to/ecrd
#
# podman needs root (rootful; skipped otherwise). Exit status: 0 pass, 1 fail.
set -uo pipefail

ECRD=${1:?usage: public_pull.sh path/to/ecrd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
TOP=$(cd "$HERE/../.." && pwd)
integ_tap_numbered
[ "$(id -u)" -eq 0 ] && integ_need_packages skopeo podman jq curl awscli
integ_need_tools skopeo aws curl jq python3 || exit 1

ACCOUNT=123456789012
WORK=$(mktemp -d /tmp/integ-public.XXXXXX)
PIDS=()
trap integ_cleanup_work EXIT
trap 'exit 1' INT TERM
mkdir -p "$WORK/data"
ECRD_AUTH=1 integ_start_ecrd "$ECRD" "$WORK/data" "$WORK/ecrd.log" --account "$ACCOUNT" \
	--public-alias "$ACCOUNT=itest" --anonymous-pull-rate 50 --anonymous-pull-burst 200 || exit 1
PIDS+=("$ECRD_PID")
REG=127.0.0.1:$ECRD_PORT
export AWS_SHARED_CREDENTIALS_FILE=$WORK/data/credentials AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1
# no credentials from the environment: an empty auth file for skopeo and podman
export REGISTRY_AUTH_FILE=$WORK/auth.json
echo '{}' >"$REGISTRY_AUTH_FILE"

# --- set-up, with credentials ---
if aws ecr-public create-repository --repository-name tools --endpoint-url "http://$REG" >"$WORK/out" 2>&1 &&
	aws ecr create-repository --repository-name secret --endpoint-url "http://$REG" >>"$WORK/out" 2>&1; then
	ok "aws ecr-public create-repository tools, aws ecr create-repository secret"
else
	notok "create the repositories" "$(cat "$WORK/out")"
	finish
fi
LOGIN=$(aws ecr get-login-password --endpoint-url "http://$REG" 2>"$WORK/aws.err")
integ_make_layout tar-kib "$WORK/layout" latest 64 16 >/dev/null
if skopeo copy -q --dest-tls-verify=false --dest-creds "AWS:$LOGIN" "oci:$WORK/layout:latest" \
	"docker://$REG/itest/tools:latest" >"$WORK/out" 2>&1 &&
	skopeo copy -q --dest-tls-verify=false --dest-creds "AWS:$LOGIN" "oci:$WORK/layout:latest" \
		"docker://$REG/secret:latest" >>"$WORK/out" 2>&1; then
	# skopeo compresses the layout's layers on the way: the pushed digest, as the owner sees it
	DIGEST=$(skopeo inspect --tls-verify=false --creds "AWS:$LOGIN" --format '{{.Digest}}' \
		"docker://$REG/itest/tools:latest" 2>&1)
	ok "skopeo pushes $REG/itest/tools:latest ($DIGEST) and $REG/secret:latest with credentials"
else
	notok "push with credentials" "$(cat "$WORK/out")"
	finish
fi

# --- the challenge ---
challenge=$(curl -s -D - -o /dev/null "http://$REG/v2/itest/tools/manifests/latest" | tr -d '\r' |
	sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p')
want="Bearer realm=\"http://$REG/token\",service=\"$REG\",scope=\"repository:itest/tools:pull\""
if [ "$challenge" = "$want" ]; then
	ok "no credentials: 401 with the Bearer challenge ($challenge)"
else
	notok "the Bearer challenge" "got:  $challenge" "want: $want"
fi

# --- anonymous pulls ---
if skopeo copy -q --src-tls-verify=false --src-no-creds "docker://$REG/itest/tools:latest" \
	"oci:$WORK/pulled:latest" >"$WORK/out" 2>&1; then
	got=$(jq -r '.manifests[0].digest' "$WORK/pulled/index.json")
	if [ "$got" = "$DIGEST" ]; then
		ok "anonymous skopeo copy of $REG/itest/tools:latest ($got)"
	else
		notok "anonymous skopeo copy: digest $got, want $DIGEST"
	fi
else
	notok "anonymous skopeo copy" "$(cat "$WORK/out")"
fi
if skopeo inspect --raw --tls-verify=false --no-creds "docker://$REG/itest/tools@$DIGEST" >"$WORK/raw" 2>&1 &&
	[ "sha256:$(sha256sum <"$WORK/raw" | cut -d' ' -f1)" = "$DIGEST" ]; then
	ok "anonymous skopeo inspect by digest"
else
	notok "anonymous skopeo inspect by digest" "$(cat "$WORK/raw")"
fi
if [ "$(id -u)" -eq 0 ] && command -v podman >/dev/null; then
	if podman pull -q --tls-verify=false "$REG/itest/tools:latest" >"$WORK/out" 2>&1; then
		pd=$(podman image inspect --format '{{.Digest}}' "$REG/itest/tools:latest" 2>&1)
		if [ "$pd" = "$DIGEST" ]; then
			ok "anonymous podman pull of $REG/itest/tools:latest"
		else
			notok "anonymous podman pull: digest '$pd', want $DIGEST"
		fi
		podman rmi -f "$REG/itest/tools:latest" >/dev/null 2>&1
	else
		notok "anonymous podman pull" "$(cat "$WORK/out")"
	fi
else
	echo "# podman pull skipped (needs root)"
fi

# --- anonymous push refused ---
if skopeo copy -q --dest-tls-verify=false --dest-no-creds "oci:$WORK/layout:latest" \
	"docker://$REG/itest/tools:evil" >"$WORK/out" 2>&1; then
	notok "an anonymous skopeo push succeeded"
else
	tags=$(skopeo list-tags --tls-verify=false --no-creds "docker://$REG/itest/tools" 2>&1 | jq -c .Tags 2>&1)
	if grep -qi 'unauthorized\|authentication required' "$WORK/out" && [ "$tags" = '["latest"]' ]; then
		ok "anonymous skopeo push refused ($(grep -io 'unauthorized[^"]*' "$WORK/out" | head -n1)); tags $tags"
	else
		notok "anonymous skopeo push refusal" "$(cat "$WORK/out")" "tags: $tags"
	fi
fi

# --- a private repository and a missing one look alike ---
skopeo inspect --tls-verify=false --no-creds "docker://$REG/secret:latest" >/dev/null 2>"$WORK/private.err"
rc_private=$?
skopeo inspect --tls-verify=false --no-creds "docker://$REG/nosuchrepo:latest" >/dev/null 2>"$WORK/missing.err"
rc_missing=$?
e_private=$(sed "s#secret#NAME#g; s#time=\"[^\"]*\"##" "$WORK/private.err")
e_missing=$(sed "s#nosuchrepo#NAME#g; s#time=\"[^\"]*\"##" "$WORK/missing.err")
if [ "$rc_private" -ne 0 ] && [ "$rc_private" = "$rc_missing" ] && [ "$e_private" = "$e_missing" ]; then
	ok "anonymous skopeo inspect: private and missing repositories give the same error ($(tail -n1 "$WORK/private.err"))"
else
	notok "private vs missing" "private ($rc_private): $(cat "$WORK/private.err")" "missing ($rc_missing): $(cat "$WORK/missing.err")"
fi
TOKEN=$(curl -sf "http://$REG/token" | jq -r .token)
a=$(curl -s -D - -H "Authorization: Bearer $TOKEN" "http://$REG/v2/secret/manifests/latest" | tr -d '\r' | grep -iv '^date:')
b=$(curl -s -D - -H "Authorization: Bearer $TOKEN" "http://$REG/v2/secret-missing/manifests/latest" | tr -d '\r' | grep -iv '^date:')
if [ "$a" = "$b" ] && [[ "$a" == *" 404 "* ]]; then
	ok "anonymous GET of a private and of a missing manifest: identical answers (404, NAME_UNKNOWN)"
else
	notok "anonymous private vs missing (curl)" "$a" "$b"
fi

integ_stop "$ECRD_PID"
rc=$?
PIDS=()
[ "$rc" -eq 0 ] && ok "ecrd stops cleanly" || notok "ecrd exit status $rc after SIGTERM"
integ_check_sanitizer "$WORK/ecrd.log"

# --- the limit, measured ---
bash "$TOP/bench/anonymous_rate.sh" "$ECRD" --rate 2 --burst 5 --seconds 3 >"$WORK/bench.out" 2>&1
sed 's/^/# /' "$WORK/bench.out"
fig=$(grep '^figures:' "$WORK/bench.out")
if [[ "$fig" =~ ok=([0-9]+)\ limited=([0-9]+)\ other=([0-9]+)\ elapsed_s=([0-9.]+) ]]; then
	okc=${BASH_REMATCH[1]} lim=${BASH_REMATCH[2]} oth=${BASH_REMATCH[3]} el=${BASH_REMATCH[4]}
	# the bucket allows 5 + 2 x elapsed (the first request starts it, so one fewer may be seen)
	if python3 -c "import sys; ok,el=$okc,$el; a=5+2*el; sys.exit(0 if a-1.5<=ok<=a+0.5 else 1)" &&
		[ "$lim" -gt 0 ] && [ "$oth" -eq 0 ]; then
		ok "anonymous pull limit 2/s burst 5: $okc of $((okc + lim)) requests in ${el}s answered 200, $lim answered 429"
	else
		notok "anonymous pull limit: $fig"
	fi
else
	notok "bench/anonymous_rate.sh gave no figures" "$(tail -n 20 "$WORK/bench.out")"
fi
finish
