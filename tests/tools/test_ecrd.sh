#!/usr/bin/env bash
# Smoke test of the ecrd program: options, the loopback-only rule of --no-auth,
# starting on a free port, GET /v2/ over HTTP, a config file, a clean stop on
# SIGTERM, authentication (the first start's administrator and credentials file,
# the 401 challenge, a token from GetAuthorizationToken) and `ecrd principal`.
#
#   test_ecrd.sh path/to/ecrd
#
# Prints TAP. Every ecrd it starts is killed on exit, whatever happens.
set -uo pipefail

ECRD=${1:?usage: test_ecrd.sh path/to/ecrd}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-ecrd.XXXXXX")
PIDS=()
n=0
failed=0

cleanup() {
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do echo "# $line"; done
}
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# run EXPECTED_STATUS NAME ARGS...: run ecrd (which must exit by itself) and check its status.
run() {
	local want=$1 name=$2 rc
	shift 2
	timeout 10 "$ECRD" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$name: exit status $want"
	else
		not_ok "$name: exit status $rc, expected $want" "stdout: $(head -c 400 "$WORK/$name.out")" \
			"stderr: $(head -c 400 "$WORK/$name.err")"
	fi
}

# start NAME ARGS...: start ecrd in the background and wait (5 s at most) for its
# "ecrd: listening on http://ADDR:PORT" line; sets PID and PORT.
start() {
	local name=$1 line=
	shift
	PORT=
	HOST_RE=${HOST_RE:-127\.0\.0\.1}
	: >"$WORK/$name.out" # before the fork: never read the line of an ecrd that ran before under NAME
	"$ECRD" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 100); do
		line=$(grep -m1 '^ecrd: listening on ' "$WORK/$name.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	if [[ "$line" =~ ^ecrd:\ listening\ on\ ${SCHEME:-http}://${HOST_RE}:([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
		PORT=${BASH_REMATCH[1]}
		ok "$name: started, listening on port $PORT"
		return 0
	fi
	not_ok "$name: no 'ecrd: listening on http://$HOST_RE:PORT' line" "stdout: $(cat "$WORK/$name.out")" \
		"stderr: $(head -c 1000 "$WORK/$name.err")"
	return 1
}

# v2_check NAME [CURL OPTION...]: GET /v2/ answers 200 with the Docker-Distribution-API-Version header.
v2_check() {
	local name=$1 headers status
	shift
	headers=$(curl -sS -f -D - -o /dev/null --max-time 5 "$@" "${SCHEME:-http}://127.0.0.1:$PORT/v2/" 2>&1)
	status=$?
	if [ $status -eq 0 ] && grep -qi '^Docker-Distribution-API-Version: registry/2.0' <<<"$headers" &&
		grep -q '^HTTP/1.1 200' <<<"$headers"; then
		ok "$name: GET /v2/ is 200 with Docker-Distribution-API-Version: registry/2.0"
	else
		not_ok "$name: GET /v2/" "curl status $status" "$headers"
	fi
}

# stop NAME: SIGTERM, then the process must exit 0 within 5 s.
stop() {
	local name=$1 rc
	kill -TERM "$PID"
	for _ in $(seq 100); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$PID" 2>/dev/null; then
		not_ok "$name: still running 5 s after SIGTERM"
		return
	fi
	wait "$PID"
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$name: SIGTERM, exit status 0"
	else
		not_ok "$name: exit status $rc after SIGTERM" "stderr: $(tail -c 1000 "$WORK/$name.err")"
	fi
}

echo "TAP version 13"

# --help and --version
run 0 help --help
check "help: prints the usage" grep -q '^Usage: ecrd' "$WORK/help.out"
check "help: lists --listen and --insecure-no-auth" grep -q -- '--insecure-no-auth' "$WORK/help.out"
check "help: lists --no-auth" grep -q -- '--no-auth ' "$WORK/help.out"
run 0 version --version
check "version: prints ecrd and a version" grep -Eq '^ecrd .*[0-9]+\.[0-9]+\.[0-9]+' "$WORK/version.out"

# usage errors: exit status 2 and a message
run 2 unknown-option --no-such-option
check "unknown-option: names the option" grep -q -- "--no-such-option" "$WORK/unknown-option.err"
run 2 stray-argument stray
run 2 missing-value --listen
run 2 bad-listen --listen 127.0.0.1
run 2 bad-port --listen 127.0.0.1:65536
run 2 ipv6-no-brackets --listen ::1:5000
run 2 bad-account --account 12345
run 2 bad-log-level --log-level loud
run 2 bad-threads --threads 0
run 2 tls-cert-alone --tls-cert "$WORK/cert.pem"
run 2 missing-config --config "$WORK/no-such.conf"

# the loopback-only rule without authentication: nothing is opened or bound, and the message says why
run 2 non-loopback --listen 0.0.0.0:0 --no-auth --data "$WORK/refused"
check "non-loopback: explains the missing authentication" grep -q -- "--insecure-no-auth" "$WORK/non-loopback.err"
check "non-loopback: did not create the data folder" test ! -e "$WORK/refused"

# --insecure-no-auth lifts the rule, with a warning
if HOST_RE='0\.0\.0\.0' start insecure --listen 0.0.0.0:0 --insecure-no-auth --data "$WORK/insecure"; then
	v2_check insecure
	stop insecure
	check "insecure: warned about serving without authentication" grep -qi '^WARN .*without authentication' \
		"$WORK/insecure.err"
fi

# serve on a free port with a temporary data folder
if start serve --listen 127.0.0.1:0 --no-auth --data "$WORK/data"; then
	v2_check serve
	curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$PORT/v2/_catalog" || true
	stop serve
	check "serve: opened the data folder" test -f "$WORK/data/metadata.db"
	check "serve: logged the request on stderr" grep -Eq '^INFO .*GET /v2/ .*200' "$WORK/serve.err"
	check "serve: --no-auth warns loudly" grep -q '^WARN .*WITHOUT AUTHENTICATION' "$WORK/serve.err"
	check "serve: --no-auth writes no credentials" test ! -e "$WORK/data/credentials"
fi

# a config file; the command line overrides it
cat >"$WORK/ecrd.conf" <<EOF
# ecrd test configuration
listen = 127.0.0.1:1
data = $WORK/config-data

account = 111122223333
region = eu-west-1
threads = 2
no-create-on-push = true
log-level = debug
no-auth = true
EOF
if start config --config "$WORK/ecrd.conf" --listen 127.0.0.1:0; then
	v2_check config
	stop config
	check "config: used the data folder of the file" test -f "$WORK/config-data/metadata.db"
	check "config: used the account and region of the file" grep -q '111122223333.*eu-west-1' "$WORK/config.err"
fi
printf 'listen = 127.0.0.1:0\ncolour = blue\n' >"$WORK/bad.conf"
run 2 config-unknown-key --config "$WORK/bad.conf"
check "config-unknown-key: names the key and the line" grep -q "bad.conf:2: unknown key 'colour'" \
	"$WORK/config-unknown-key.err"
printf 'listen 127.0.0.1:0\n' >"$WORK/noeq.conf"
run 2 config-no-equals --config "$WORK/noeq.conf"

# HTTPS with a self-signed certificate; unreadable TLS files are a runtime failure (1)
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
	if SCHEME=https start tls --listen 127.0.0.1:0 --no-auth --data "$WORK/tls" --tls-cert "$WORK/cert.pem" \
		--tls-key "$WORK/key.pem"; then
		SCHEME=https v2_check tls --cacert "$WORK/cert.pem"
		stop tls
	fi
else
	not_ok "openssl req failed: cannot make a test certificate"
fi
run 1 tls-missing-files --listen 127.0.0.1:0 --data "$WORK/tls2" --tls-cert "$WORK/none.pem" --tls-key "$WORK/none.pem"
check "tls-missing-files: names the file" grep -q "none.pem" "$WORK/tls-missing-files.err"

# authentication (the default): the first start creates the administrator and <data>/credentials
AUTH=$WORK/auth
if start auth --listen 127.0.0.1:0 --data "$AUTH"; then
	check "auth: wrote the credentials file" grep -q '^aws_access_key_id = AKIA' "$AUTH/credentials"
	check "auth: the credentials file has a [default] profile and a secret" \
		grep -Eq '^aws_secret_access_key = .{40}$' "$AUTH/credentials"
	check "auth: the credentials file is mode 0600" test "$(stat -c %a "$AUTH/credentials")" = 600
	check "auth: prints the export line" grep -q \
		"^export AWS_SHARED_CREDENTIALS_FILE=$AUTH/credentials AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_DEFAULT_REGION=us-east-1\$" \
		"$WORK/auth.out"
	check "auth: prints the docker login line" grep -q \
		"^aws ecr get-login-password | docker login --username AWS --password-stdin 127.0.0.1:$PORT\$" \
		"$WORK/auth.out"
	headers=$(curl -sS -D - -o "$WORK/auth.body" --max-time 5 "http://127.0.0.1:$PORT/v2/")
	if grep -q '^HTTP/1.1 401' <<<"$headers" &&
		grep -qF "WWW-Authenticate: Basic realm=\"https://127.0.0.1:$PORT/\",service=\"ecr.amazonaws.com\"" \
			<<<"$headers" && grep -q UNAUTHORIZED "$WORK/auth.body"; then
		ok "auth: GET /v2/ without credentials is 401 with ECR's Basic challenge"
	else
		not_ok "auth: GET /v2/ without credentials" "$headers"
	fi
	status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -u "AWS:not-a-token" "http://127.0.0.1:$PORT/v2/")
	check "auth: a bad token is 401 (got $status)" test "$status" = 401
	status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/v2/_catalog")
	check "auth: GET /v2/_catalog without credentials is 401 (got $status)" test "$status" = 401
	# a token from GetAuthorizationToken (the ECR API), signed with the administrator's key
	key=$(awk '$1 == "aws_access_key_id" { print $3 }' "$AUTH/credentials")
	secret=$(awk '$1 == "aws_secret_access_key" { print $3 }' "$AUTH/credentials")
	answer=$(curl -sS --max-time 5 -w '\n%{http_code}' --aws-sigv4 "aws:amz:us-east-1:ecr" --user "$key:$secret" \
		-H 'X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken' \
		-H 'Content-Type: application/x-amz-json-1.1' -d '{}' "http://127.0.0.1:$PORT/" 2>&1)
	code=${answer##*$'\n'}
	if [ "$code" = 200 ]; then
		token=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["authorizationData"][0]["authorizationToken"])' \
			<<<"${answer%$'\n'*}")
		status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Basic $token" \
			"http://127.0.0.1:$PORT/v2/")
		check "auth: GET /v2/ with the GetAuthorizationToken token is 200 (got $status)" test "$status" = 200
		status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Basic $token" \
			"http://127.0.0.1:$PORT/v2/_catalog")
		check "auth: the administrator may list the catalog (got $status)" test "$status" = 200
	elif [ "$code" = 404 ] || [ "$code" = 405 ]; then
		ok "auth: token from GetAuthorizationToken # SKIP no ECR API in this build ($code)"
	else
		not_ok "auth: GetAuthorizationToken signed with the administrator's key" "$answer"
	fi
	run 1 principal-busy principal list --data "$AUTH"
	check "principal-busy: says the data folder is in use" grep -q 'in use' "$WORK/principal-busy.err"
	stop auth
	cp "$AUTH/credentials" "$WORK/credentials.first"
fi

# ecrd principal ...
run 0 principal-list principal list --data "$AUTH"
check "principal-list: the administrator" grep -q '^arn:aws:iam::123456789012:user/admin (admin)$' \
	"$WORK/principal-list.out"
printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}\n' \
	>"$WORK/policy.json"
run 0 principal-add principal add arn:aws:iam::222222222222:user/bob --policy "$WORK/policy.json" --data "$AUTH"
check "principal-add: prints the key id" grep -q '^aws_access_key_id = AKIA' "$WORK/principal-add.out"
check "principal-add: prints the secret" grep -Eq '^aws_secret_access_key = .{40}$' "$WORK/principal-add.out"
run 0 principal-policy principal policy arn:aws:iam::222222222222:user/bob pull "$WORK/policy.json" --data "$AUTH"
run 0 principal-list2 principal list --data "$AUTH"
check "principal-list2: bob with his policies" grep -q '^arn:aws:iam::222222222222:user/bob$' \
	"$WORK/principal-list2.out"
check "principal-list2: the policies" grep -q '^    policy pull: ' "$WORK/principal-list2.out"
run 1 principal-add-again principal add arn:aws:iam::222222222222:user/bob --data "$AUTH"
run 1 principal-bad-arn principal add not-an-arn --data "$AUTH"
run 2 principal-usage principal frobnicate --data "$AUTH"
run 0 principal-remove principal remove arn:aws:iam::222222222222:user/bob --data "$AUTH"
run 1 principal-remove-again principal remove arn:aws:iam::222222222222:user/bob --data "$AUTH"

# a second start keeps the administrator and the credentials file
if start auth2 --listen 127.0.0.1:0 --data "$AUTH"; then
	check "auth2: kept the credentials file" cmp -s "$AUTH/credentials" "$WORK/credentials.first"
	check "auth2: still prints the export line" grep -q '^export AWS_SHARED_CREDENTIALS_FILE=' "$WORK/auth2.out"
	stop auth2
fi
# with authentication on, a non-loopback address is allowed
if HOST_RE='0\.0\.0\.0' start auth-any --listen 0.0.0.0:0 --data "$WORK/auth-any"; then
	status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/v2/")
	check "auth-any: GET /v2/ without credentials is 401 (got $status)" test "$status" = 401
	stop auth-any
fi

# --metrics: GET /metrics for loopback peers by default (Prometheus text), off removes it, a bad value is a usage error
run 2 metrics-bad --metrics everyone --data "$WORK/metrics"
check "metrics-bad: names the choices" grep -q -- "expected off, local or any" "$WORK/metrics-bad.err"
if start metrics --listen 127.0.0.1:0 --no-auth --data "$WORK/metrics"; then
	curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$PORT/v2/"
	# (a request is counted when its completion is reported, a moment after the client has the answer)
	for _ in $(seq 50); do
		curl -s -o "$WORK/metrics.txt" --max-time 5 "http://127.0.0.1:$PORT/metrics"
		grep -q '^ecr_http_requests_total{route="v2_base"' "$WORK/metrics.txt" && break
		sleep 0.1
	done
	check "metrics: counts GET /v2/" grep -q '^ecr_http_requests_total{route="v2_base",code="200"} [1-9]' \
		"$WORK/metrics.txt"
	check "metrics: usage of the registry" grep -q '^ecr_usage_stored_bytes{account="[0-9]*",region="[a-z0-9-]*"} ' \
		"$WORK/metrics.txt"
	stop metrics
fi
if start metrics-off --listen 127.0.0.1:0 --no-auth --metrics off --data "$WORK/metrics"; then
	status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/metrics")
	check "metrics-off: GET /metrics is 404 (got $status)" test "$status" = 404
	stop metrics-off
fi

echo "1..$n"
[ "$failed" -eq 0 ]
