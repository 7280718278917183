#!/usr/bin/env bash
# The test command: installs what it needs, then builds and runs everything.
#
#   1. scripts/deps.sh (apt-get, only when something is missing)
#   2. build/       -Dwerror=true, `meson test`: the unit suites, the header
#                   checks (headers/*), the export and error-doc checks (abi/*)
#                   and the examples (examples/*)
#   3. build-asan/  the same suite under AddressSanitizer + UBSan, leaks on
#
# Exits non-zero when anything fails. The last line is "N passed, M failed":
# the meson test results of both runs added up (Ok and Expected Fail count as
# passed; Fail, Unexpected Pass, Timeout and Error as failed), plus one failed
# for each step that could not run at all (a setup or build failure). Above it,
# "Notes:" lists a build that uses the system libmicrohttpd instead of the
# bundled one (-Dbundled_mhd=auto without the source: it tests less).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

passed=0
failed=0
problems=()
notes=()

step() { printf '\n==> %s\n' "$*"; }

# meson setup, or reconfigure an existing build folder with these options.
setup() {
	local dir=$1
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null ||
			meson setup --wipe "$dir" "$@" >/dev/null
	else
		rm -rf "$dir"
		meson setup "$dir" "$@" >/dev/null
	fi
}

# Add a testlog.json's results to the totals.
count_results() {
	local log=$1 counts
	counts=$(python3 - "$log" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r in ("FAIL", "UNEXPECTEDPASS", "TIMEOUT", "ERROR"):
        bad += 1
print(ok, bad)
PY
	) || counts="0 1"
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
}

# Configure, build and test one build folder.
run_suite() {
	local name=$1 dir=$2
	shift 2
	step "$name: meson setup $dir $*"
	if ! setup "$dir" "$@"; then
		problems+=("$name: meson setup failed")
		failed=$((failed + 1))
		return
	fi
	# -Dbundled_mhd (auto) falls back to the system libmicrohttpd when the source cannot be had: say so
	if ! grep -q '^#define ECR_MHD_BUNDLED 1' "$dir/ecr_config.h" 2>/dev/null; then
		notes+=("$name: built with the system's libmicrohttpd, not the bundled one (why: $dir/meson-logs/meson-log.txt)")
	fi
	step "$name: build"
	if ! ninja -C "$dir"; then
		problems+=("$name: build failed")
		failed=$((failed + 1))
		return
	fi
	step "$name: meson test -C $dir --print-errorlogs"
	rm -f "$dir/meson-logs/testlog.json"
	if ! meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" ${TEST_ARGS[@]+"${TEST_ARGS[@]}"}; then
		problems+=("$name: meson test reported failures")
	fi
	if [ -f "$dir/meson-logs/testlog.json" ]; then
		count_results "$dir/meson-logs/testlog.json"
	else
		problems+=("$name: meson test did not run")
		failed=$((failed + 1))
	fi
}

step "dependencies (scripts/deps.sh)"
if ! scripts/deps.sh; then
	echo "0 passed, 1 failed"
	exit 1
fi

TEST_ARGS=()
run_suite "gcc -Dwerror=true" build -Dwerror=true -Dtests=true

# Leak detection needs ptrace; where it is unavailable LSan says so and fails.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TEST_ARGS=(--timeout-multiplier 3)
run_suite "ASan+UBSan" build-asan -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false
unset ASAN_OPTIONS UBSAN_OPTIONS

echo
if [ ${#notes[@]} -gt 0 ]; then
	echo "Notes:"
	printf '  %s\n' "${notes[@]}"
fi
if [ ${#problems[@]} -gt 0 ]; then
	echo "Problems:"
	printf '  %s\n' "${problems[@]}"
fi
echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ ${#problems[@]} -gt 0 ]; then
	exit 1
fi
exit 0
