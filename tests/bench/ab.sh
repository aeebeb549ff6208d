#!/usr/bin/env bash
# Two (or more) builds of the bench server, alternating: each round runs
# every build once on a fresh server after a warm-up, the order flipped
# every round, so a noisy machine's drift hits them alike. Prints every run
# and each build's median. A change on this machine is real when it shows
# up in alternating runs; one full compare.sh per build is not enough (a
# row swings by 15-20% from run to run).
#
#   tests/bench/ab.sh before=/work/before/bench_server after=target/release/examples/bench_server
#   SCENARIO=client_credentials FORMAT=jwt LEVELS="50 200" ROUNDS=5 tests/bench/ab.sh a=... b=...
#   DYNAMODB=1 LEVELS="1 10" REQUESTS=1000 tests/bench/ab.sh a=... b=...   # on DynamoDB Local
#
# Each build is a bench server (`cargo build --release -p alexa-link-server
# --features test-support --example bench_server` at its commit). Settings:
# SCENARIO (refresh_token, rotating; client_credentials, authorization_code,
# introspection), FORMAT (opaque, sealed, jwt), LEVELS ("50"), REQUESTS
# (20000), WARMUP (2000), ROUNDS (3), DYNAMODB=1: a DynamoDB Local for the
# store (scripts/dynamodb-local).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
. tests/bench/runs.sh
[ $# -ge 2 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
for build in "$@"; do
  [[ $build == *=* ]] && [ -x "${build#*=}" ] || { echo "not LABEL=EXECUTABLE: $build" >&2; exit 2; }
done
SCENARIO=${SCENARIO:-refresh_token} FORMAT=${FORMAT:-opaque} LEVELS=${LEVELS:-50}
REQUESTS=${REQUESTS:-20000} WARMUP=${WARMUP:-2000} ROUNDS=${ROUNDS:-3}
CODE_WARMUP=$((WARMUP / 10)) CODE_REQUESTS=$REQUESTS TIME_BOUND=${TIME_BOUND:-120} OURS_ROTATES=yes
ensure_wrk
WORK=$(mktemp -d) ROWS=$WORK/rows.tsv DYNAMO_PID=
: >"$ROWS"
cleanup() {
  stop_bench_server O >/dev/null 2>&1 || true
  [ -n "$DYNAMO_PID" ] && scripts/dynamodb-local stop "$DYNAMO_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ "${DYNAMODB:-}" = 1 ]; then
  port=$(free_port)
  DYNAMO_PID=$(scripts/dynamodb-local start "$port")
  export BENCH_DYNAMODB_ENDPOINT=http://127.0.0.1:$port
  sleep 3
fi
echo "== $SCENARIO ($FORMAT) at $LEVELS connections, $REQUESTS per run after $WARMUP, $ROUNDS rounds$([ "${DYNAMODB:-}" = 1 ] && echo ", DynamoDB Local"); load average $(cut -d' ' -f1-3 /proc/loadavg)"
builds=("$@")
i=0
for c in $LEVELS; do
  for _ in $(seq 1 "$ROUNDS"); do
    order=("${builds[@]}")
    [ $((i % 2)) = 1 ] && mapfile -t order < <(printf '%s\n' "${builds[@]}" | tac)
    for build in "${order[@]}"; do
      BENCH_BIN=${build#*=} measure O "${build%%=*}" "$SCENARIO" "$c" "$REQUESTS" "$FORMAT"
    done
    i=$((i + 1))
  done
done
echo "== medians"
python3 - "$ROWS" <<'PY'
import collections, re, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, scenario, c, result = line.rstrip("\n").split("\t")[:4]
    field = lambda name: int(re.search(name + r"=([0-9]+)", result).group(1))
    runs[(int(c), label)].append((field("responses") / field("duration_us") * 1e6, field("p99_us") / 1000))
for (c, label), v in sorted(runs.items()):
    rps = sorted(r for r, _ in v)
    p99 = sorted(p for _, p in v)
    print(f"  c={c:<4} {label:<12} {statistics.median(rps):8.0f} req/s (runs {', '.join(f'{r:.0f}' for r in rps)})"
          f"  p99 {statistics.median(p99):.2f} ms (runs {', '.join(f'{p:.2f}' for p in p99)})")
PY
