#!/usr/bin/env bash
# Benchmark ecrd's cluster mode: one node and two nodes on PostgreSQL + S3,
# next to a single node on a local data folder.
#
#   bench/cluster.sh [REGISTRY-BENCH OPTION]...
#
# Builds libecr in release mode (build-bench/, as bench/run.sh; BENCH_BUILD=DIR for another), starts a
# throwaway PostgreSQL and a one-node Ceph radosgw with ../shared/services/*.sh
# (stopped at the end, also on failure or Ctrl-C), and runs
# ../shared/bench/registry-bench against:
#   1. "file":    one ecrd on a local data folder (--data DIR: SQLite + files)
#   2. "shared1": one ecrd node on PostgreSQL + S3 (--meta postgres:// --blobs s3://)
#   (1 and 2 in one registry-bench run, so their repetitions alternate)
#   3. "shared2": two ecrd nodes on the same PostgreSQL + S3, measured together:
#      two registry-bench processes started at the same time with the same
#      options, one per node; their throughputs are summed per scenario.
# Runs 2 and 3 each get a fresh database and their own bucket prefix.
# Every ecrd runs with --no-auth (the docker-registry-like measurement of
# bench/run.sh) and --lifecycle-interval 0 (no background work).
#
# Options are passed to every registry-bench; without any, the default is
# "--quick --only push,pull,mput,wrk" (a few minutes). REGISTRY_BENCH overrides
# the path of registry-bench, ECRD_ARGS adds ecrd options (default
# "--log-level warn"), KEEP=1 keeps the temporary folders. The JSON results
# are saved as build-bench/cluster-{single,nodeA,nodeB}.json.
# S3_TCP_NODELAY=1 starts radosgw with "tcp_nodelay=1" on its beast frontend
# (from a copy of the shared script): without it, radosgw 16 answers every
# request after the first on a kept-alive connection about 40 ms late (Nagle
# against the client's delayed ACK), and ecrd keeps its S3 connections alive.
#
# Caveats: the test servers are tuned for tests (PostgreSQL with fsync=off,
# radosgw keeping objects in RAM by default: S3_TEST_OSD_STORE=bluestore
# changes that), while the file node fsyncs. The two registry-bench processes
# of run 3 are not synchronised scenario by scenario: they start together and
# run the same steps, but a faster one can get ahead, so a sum can include
# stretches where one process ran alone (the script prints both processes'
# elapsed times). On a small machine the load generators compete with the
# servers for the CPU.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || TOP=$(cd "$HERE/.." && pwd)
BENCH=${REGISTRY_BENCH:-$TOP/../shared/bench/registry-bench}
SERVICES=$TOP/../shared/services
PG_SCRIPT=$SERVICES/postgres-test-server.sh
S3_SCRIPT=$SERVICES/s3-test-server.sh
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
die() { echo "cluster.sh: $*" >&2; exit 2; }
[ -x "$BENCH" ] || die "$BENCH not found: check out the shared tree beside the repository (../shared), or set REGISTRY_BENCH"
for f in "$PG_SCRIPT" "$S3_SCRIPT"; do [ -f "$f" ] || die "$f is missing (../shared beside the repository)"; done
[ -x "$PG_BINDIR/pg_ctl" ] || die "no PostgreSQL server in $PG_BINDIR (run: $PG_SCRIPT install)"
command -v radosgw >/dev/null 2>&1 || die "no radosgw (run: $S3_SCRIPT install)"
for t in python3 meson ninja wrk aws psql; do command -v "$t" >/dev/null 2>&1 || die "$t not found"; done

OPTS=("$@")
# shellcheck disable=SC2054 # the commas belong to --only's value
[ ${#OPTS[@]} -gt 0 ] || OPTS=(--quick --only push,pull,mput,wrk)
T0=$(date +%s)

# --- release build -----------------------------------------------------------------------
B=${BENCH_BUILD:-$TOP/build-bench} # BENCH_BUILD: another release folder (not to share build-bench with a run.sh)
if [ -f "$B/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$B" --buildtype=release -Dtests=false >/dev/null
else
	meson setup "$B" "$TOP" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$B" >/dev/null
ECRD=$B/tools/ecrd
[ -x "$ECRD" ] || die "$ECRD was not built"

# --- temporary folders, cleanup ----------------------------------------------------------
WORK=$(mktemp -d /tmp/bench-cluster.XXXXXX)
PGDIR=$(mktemp -d /tmp/bench-cluster-pg.XXXXXX) # its own mktemp -d: the postgres user must reach it
S3DIR=$WORK/s3
if [ "${S3_TCP_NODELAY:-0}" = 1 ]; then # a copy of the shared script with radosgw's beast frontend in TCP_NODELAY
	# shellcheck disable=SC2016 # a literal $port in the script
	sed 's/^\(rgw_frontends = beast endpoint=127\.0\.0\.1:\$port\)$/\1 tcp_nodelay=1/' "$S3_SCRIPT" >"$WORK/s3-test-server.sh"
	grep -q '^rgw_frontends = .* tcp_nodelay=1$' "$WORK/s3-test-server.sh" ||
		{ rm -rf "$WORK" "$PGDIR"; die "S3_TCP_NODELAY=1: no rgw_frontends line to change in $S3_SCRIPT"; }
	S3_SCRIPT=$WORK/s3-test-server.sh
fi
PG_UP=0 S3_UP=0 GUARD=
PIDS=() # ecrd nodes and registry-bench processes started in the background
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	[ "$PG_UP" = 1 ] && { bash "$PG_SCRIPT" stop "$PGDIR" >/dev/null 2>&1 || true; }
	[ "$S3_UP" = 1 ] && { bash "$S3_SCRIPT" stop "$S3DIR" >/dev/null 2>&1 || true; }
	[ -n "$GUARD" ] && { kill "$GUARD" 2>/dev/null || true; }
	if [ "${KEEP:-0}" = 1 ]; then echo "cluster.sh: kept $WORK and $PGDIR" >&2; else rm -rf "$WORK" "$PGDIR"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# A guard in its own session stops the servers if this script is killed outright.
# shellcheck disable=SC2016 # $1..$4 are the guard's own arguments
setsid bash -c 'while kill -0 '$$' 2>/dev/null; do sleep 1; done
	bash "$1" stop "$2" >/dev/null 2>&1; bash "$3" stop "$4" >/dev/null 2>&1' guard "$PG_SCRIPT" "$PGDIR" \
	"$S3_SCRIPT" "$S3DIR" </dev/null >/dev/null 2>&1 &
GUARD=$!

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the machine and the versions ----------------------------------------------------------
echo "machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))," \
	"$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
echo "ecrd:           $("$ECRD" --version 2>&1 | head -n 1) (release build, $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "PostgreSQL:     $("$PG_BINDIR/postgres" --version)"
echo "radosgw:        $(radosgw --version 2>&1 | head -n 1)"
echo "registry-bench: $("$BENCH" --version 2>&1 | head -n 1); wrk: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
echo "options:        ${OPTS[*]}"

# --- the shared servers ------------------------------------------------------------------
PG_PORT=$(free_port)
pg_env=$(bash "$PG_SCRIPT" start "$PGDIR" "$PG_PORT" ecr_bench1 2>"$WORK/pg-start.err") ||
	die "PostgreSQL did not start: $(tail -n 5 "$WORK/pg-start.err")"
PG_UP=1
DB1=$(sed -n 's/^DATABASE_URL=//p' <<<"$pg_env")
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'CREATE DATABASE ecr_bench2' >/dev/null ||
	die "cannot create the second database"
DB2=${DB1%/*}/ecr_bench2
S3_PORT=$(free_port)
s3_env=$(S3_TEST_MON_PORT=$(free_port) bash "$S3_SCRIPT" start "$S3DIR" "$S3_PORT" 2>"$WORK/s3-start.err") ||
	die "radosgw did not start: $(tail -n 5 "$WORK/s3-start.err")"
S3_UP=1
S3_ENDPOINT=$(sed -n 's/^S3_ENDPOINT=//p' <<<"$s3_env")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' <<<"$s3_env")
AWS_SECRET_ACCESS_KEY=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' <<<"$s3_env")
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
aws s3api create-bucket --bucket ecr-bench --endpoint-url "$S3_ENDPOINT" >"$WORK/bucket.out" 2>&1 ||
	die "cannot create the bucket: $(cat "$WORK/bucket.out")"
BLOBS1="s3://ecr-bench/one?endpoint=$S3_ENDPOINT&path_style=1&region=us-east-1"
BLOBS2="s3://ecr-bench/two?endpoint=$S3_ENDPOINT&path_style=1&region=us-east-1"
echo "servers:        PostgreSQL on 127.0.0.1:$PG_PORT (fsync=off), radosgw on $S3_ENDPOINT" \
	"(OSD store ${S3_TEST_OSD_STORE:-memstore}, beast tcp_nodelay ${S3_TCP_NODELAY:-0})"

# shellcheck disable=SC2206
ECRD_EXTRA=(${ECRD_ARGS:---log-level warn} --lifecycle-interval 0 --no-auth)

# --- 1 and 2: the file:// node and one shared node, alternating in one run ----------------
read -r P_FILE P_ONE < <(python3 - <<'PY'
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
PY
)
mkdir -p "$WORK/file" "$WORK/data1"
echo
echo "=== run 1: file:// node and 1 shared node (alternating) ==="
set +e
"$BENCH" "${OPTS[@]}" --data-dir "$WORK/data1" --json-out "$WORK/single.json" \
	--url "http://127.0.0.1:$P_FILE" --name file \
	--start-cmd "$ECRD --listen 127.0.0.1:$P_FILE --data $WORK/file ${ECRD_EXTRA[*]}" \
	--url "http://127.0.0.1:$P_ONE" --name shared1 \
	--start-cmd "$ECRD --listen 127.0.0.1:$P_ONE --meta $DB1 --blobs $BLOBS1 ${ECRD_EXTRA[*]}" |
	grep -v '^{"tool":'
rc1=${PIPESTATUS[0]}
set -e
[ "$rc1" -eq 0 ] || echo "cluster.sh: registry-bench (run 1) exited with $rc1" >&2

# --- 3: two shared nodes, two registry-bench processes at the same time -------------------
declare -A NODE_PID NODE_PORT
start_node() { # NAME
	local name=$1 line=
	"$ECRD" --listen 127.0.0.1:0 --meta "$DB2" --blobs "$BLOBS2" "${ECRD_EXTRA[@]}" \
		>"$WORK/$name.out" 2>"$WORK/$name.log" &
	NODE_PID[$name]=$!
	PIDS+=($!)
	for _ in $(seq 300); do
		line=$(grep -m1 '^ecrd: listening on ' "$WORK/$name.out" 2>/dev/null || true)
		[ -n "$line" ] && break
		kill -0 "${NODE_PID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	[[ "$line" =~ ^ecrd:\ listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]] ||
		die "ecrd node $name did not start: $(tail -n 10 "$WORK/$name.log")"
	NODE_PORT[$name]=${BASH_REMATCH[1]}
}
start_node A
start_node B
echo
echo "=== run 2: 2 shared nodes (A on :${NODE_PORT[A]}, B on :${NODE_PORT[B]}), one registry-bench each, at the same time ==="
for n in A B; do
	mkdir -p "$WORK/data$n"
	"$BENCH" "${OPTS[@]}" --data-dir "$WORK/data$n" --json-out "$WORK/node$n.json" --repo-prefix "bench${n,,}" \
		--url "http://127.0.0.1:${NODE_PORT[$n]}" --name "node$n" --pid "${NODE_PID[$n]}" >"$WORK/node$n.out" 2>&1 &
	eval "BP_$n=\$!"
	PIDS+=($!)
done
set +e
wait "$BP_A"
rcA=$?
wait "$BP_B"
rcB=$?
set -e
for n in A B; do
	echo "--- registry-bench against node $n ---"
	grep -v '^{"tool":' "$WORK/node$n.out" || true
done
[ "$rcA" -eq 0 ] && [ "$rcB" -eq 0 ] || echo "cluster.sh: registry-bench (run 2) exited with $rcA (A) and $rcB (B)" >&2
for n in A B; do
	kill -TERM "${NODE_PID[$n]}" 2>/dev/null || true
	wait "${NODE_PID[$n]}" 2>/dev/null || true
done
PIDS=()

for f in single nodeA nodeB; do
	[ -s "$WORK/$f.json" ] && cp "$WORK/$f.json" "$B/cluster-$f.json"
done

# --- the table -----------------------------------------------------------------------------
echo
python3 - "$WORK/single.json" "$WORK/nodeA.json" "$WORK/nodeB.json" <<'PY'
import json, sys

def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}

def medians(doc, name=None):
    out = {}
    for r in doc.get("results", []):
        for t, v in (r.get("targets") or {}).items():
            if (name is None or t == name) and v and v.get("median") is not None and not v.get("error"):
                out[r["key"]] = v["median"]
    return out

single, a, b = (load(p) for p in sys.argv[1:4])
rows = [r for r in single.get("results", [])]
keys = [r["key"] for r in rows]
for r in a.get("results", []):
    if r["key"] not in keys:
        rows.append(r)
        keys.append(r["key"])
f1, s1 = medians(single, "file"), medians(single, "shared1")
ma, mb = medians(a), medians(b)

def fmt(x):
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"

table = [("scenario", "unit", "file:// node", "1 shared node", "2 shared nodes (sum)", "ratio 2-nodes/1-node")]
for r in rows:
    k, hib = r["key"], r.get("higher_is_better", True)
    both = (ma.get(k), mb.get(k))
    if None in both:
        two = None
    else:
        two = sum(both) if hib else max(both)
    one = s1.get(k)
    ratio = f"{two / one:.2f}" if two is not None and one else "-"
    label = r["label"] + ("" if hib else " (worse of the 2)")
    table.append((label, r.get("unit", ""), fmt(f1.get(k)), fmt(one), fmt(two), ratio))
w = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
for i, row in enumerate(table):
    print(" | ".join(c.ljust(w[j]) if j < 2 else c.rjust(w[j]) for j, c in enumerate(row)))
    if i == 0:
        print("-+-".join("-" * x for x in w))
el = [d.get("elapsed_s") for d in (single, a, b)]
print(f"\nregistry-bench elapsed: run 1 (file + shared1, alternating) {el[0]} s;"
      f" run 2: node A {el[1]} s, node B {el[2]} s")
print("Throughputs of run 2 are the sum of the two processes' medians; latency rows (lower is better)"
      " show the worse of the two.")
PY
echo "cluster.sh: total $(($(date +%s) - T0)) s"
[ "$rc1" -eq 0 ] && [ "$rcA" -eq 0 ] && [ "$rcB" -eq 0 ]
