#!/usr/bin/env bash
# Load: LOAD_CLIENTS (64) concurrent clients against one ecrd for LOAD_SECONDS
# (60; the long form by hand: LOAD_SECONDS=600 or --long). Each client pushes
# images (1-3 layers: small 1-64 KiB, some medium 256 KiB-1 MiB; monolithic and
# chunked uploads; a config and a manifest), moves its tags, deletes the
# images its tags left, and pulls by tag (manifest and every blob, digests
# verified), with catalog and DescribeImages calls; ecrd runs GC every 10 s
# (when it has --gc-interval). Checks: no request fails, no client hangs,
# ecrd's RSS (sampled every LOAD_SAMPLE seconds, the series printed) stays
# flat after the warm-up, its open fds too, it stops cleanly and `ecrd fsck`
# (when it exists) finds nothing wrong.
#
#   load.sh path/to/ecrd [--long]
#
# Env: LOAD_SECONDS, LOAD_CLIENTS, LOAD_SAMPLE (5), LOAD_RSS_SLACK_KB (growth
# allowed after the warm-up: 16384), KEEP=1, INTEG_SANITIZE (RSS not enforced
# under a sanitizer: its quarantine grows by design).
set -uo pipefail

ECRD=${1:?usage: load.sh path/to/ecrd [--long]}
ECRD=$(readlink -f "$ECRD")
[ "${2:-}" = --long ] && LOAD_SECONDS=${LOAD_SECONDS:-600}
LOAD_SECONDS=${LOAD_SECONDS:-60}
LOAD_CLIENTS=${LOAD_CLIENTS:-64}
LOAD_SAMPLE=${LOAD_SAMPLE:-5}
LOAD_RSS_SLACK_KB=${LOAD_RSS_SLACK_KB:-16384}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/common.sh
. "$HERE/../integration/common.sh"
integ_tap_numbered
CLIENT="$HERE/regclient.py"

WORK=$(mktemp -d /tmp/survive-load.XXXXXX)
DATA="$WORK/data"
PIDS=()
trap integ_cleanup_work EXIT
trap 'exit 1' INT TERM

extra=()
help=$("$ECRD" --help 2>&1) # (not piped into grep -q: under pipefail, ecrd's SIGPIPE would fail the test)
[[ "$help" == *--gc-interval* ]] && extra+=(--gc-interval 10 --gc-grace 60)
mkdir -p "$DATA"
integ_start_ecrd "$ECRD" "$DATA" "$WORK/ecrd.log" --log-level warn --threads 4 ${extra[@]+"${extra[@]}"} ||
	{ notok "ecrd starts"; finish; }
PIDS+=("$ECRD_PID")
BASE=http://127.0.0.1:$ECRD_PORT
ok "ecrd serves ($BASE${extra[*]:+, ${extra[*]}})"

echo "# load: $LOAD_CLIENTS clients for $LOAD_SECONDS s; RSS and fds sampled every $LOAD_SAMPLE s"
timeout $((LOAD_SECONDS + 600)) python3 "$CLIENT" load "$BASE" --clients "$LOAD_CLIENTS" --seconds "$LOAD_SECONDS" \
	--rss-pid "$ECRD_PID" --sample "$LOAD_SAMPLE" --out "$WORK/load.json" >"$WORK/load.out" 2>"$WORK/load.err"
rc=$?
summary=$(tail -n 1 "$WORK/load.out")
echo "# $summary"
if [ $rc -eq 0 ]; then ok "no request failed, no client hung"; else
	notok "no request failed, no client hung (exit $rc)" "$summary" "$(grep -v '^sample' "$WORK/load.err" | tail -n 5)"; fi
kill -0 "$ECRD_PID" 2>/dev/null && ok "ecrd still runs after the load" || notok "ecrd still runs after the load" \
	"$(tail -n 20 "$WORK/ecrd.log")"

# RSS and fds: after the warm-up (a quarter of the run, at least 15 s), the second half's peak may exceed
# the first half's by LOAD_RSS_SLACK_KB at most (and 10%); fds by 16.
if [ -f "$WORK/load.json" ]; then
	verdict=$(python3 - "$WORK/load.json" "$LOAD_RSS_SLACK_KB" "${INTEG_SANITIZE:-none}" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
slack, sanitize = int(sys.argv[2]), sys.argv[3]
s = [x for x in d["series"] if x["rss_kb"] is not None]
dur = d["seconds"]
print("series (t s: RSS MiB / fds): " + " ".join("%d:%.1f/%d" % (x["t"], x["rss_kb"] / 1024, x["fds"]) for x in s))
warm = max(15, dur / 4)
after = [x for x in s if x["t"] >= warm]
if len(after) < 4:
    print("VERDICT ok too few samples after the warm-up to judge (%d)" % len(after))
    sys.exit(0)
h = len(after) // 2
first, second = after[:h], after[h:]
r1, r2 = max(x["rss_kb"] for x in first), max(x["rss_kb"] for x in second)
f1, f2 = max(x["fds"] for x in first), max(x["fds"] for x in second)
growth = r2 - r1
print("after warm-up (%ds): peak RSS %.1f MiB then %.1f MiB (%+.1f MiB); peak fds %d then %d" %
      (warm, r1 / 1024, r2 / 1024, growth / 1024, f1, f2))
bad = []
if growth > max(slack, r1 // 10):
    bad.append("RSS grew by %d kB after the warm-up" % growth)
if f2 > f1 + 16:
    bad.append("fds grew from %d to %d" % (f1, f2))
if bad and sanitize != "none":
    print("VERDICT ok (not enforced under the sanitizer: %s)" % "; ".join(bad))
elif bad:
    print("VERDICT bad " + "; ".join(bad))
else:
    print("VERDICT ok")
EOF
)
	printf '%s\n' "$verdict" | grep -v '^VERDICT' | sed 's/^/# /'
	if printf '%s' "$verdict" | grep -q '^VERDICT ok'; then ok "RSS and fds flat after the warm-up"; else
		notok "RSS and fds flat after the warm-up" "$(printf '%s' "$verdict" | grep '^VERDICT')"; fi
else
	notok "the load generator wrote its figures"
fi

integ_stop "$ECRD_PID"
rc=$?
[ $rc -eq 0 ] && ok "ecrd stops cleanly (exit 0)" || notok "ecrd stops cleanly" "exit $rc"
if "$ECRD" fsck --help >/dev/null 2>&1; then
	if out=$("$ECRD" fsck --data "$DATA" 2>&1); then ok "ecrd fsck finds no problem"; echo "# $(printf '%s' "$out" | tail -n 1)"
	else notok "ecrd fsck finds no problem" "$(printf '%s' "$out" | tail -n 20)"; fi
fi
errs=$(grep -c '^ERROR' "$WORK/ecrd.log")
[ "$errs" -eq 0 ] && ok "no ERROR in ecrd's log" || notok "no ERROR in ecrd's log ($errs)" "$(grep '^ERROR' "$WORK/ecrd.log" | head -n 5)"
echo "# data folder after the run: $(du -sh "$DATA" | cut -f1)"
integ_check_sanitizer "$WORK/ecrd.log"
finish
