#!/usr/bin/env bash
# Our server against a well-known peer and against this machine's own
# limits, side by side in one run.
#
# - The ceilings: Debian's nginx answering a fixed token-sized JSON on
#   loopback (the HTTP ceiling: no server can answer faster through this
#   kernel and load tool) and the fsync rate of our store's directory (the
#   durability ceiling of one request at a time that writes).
# - The peer: panva's oidc-provider (tests/bench/peer/) with an equivalent
#   client, opaque tokens and an unbounded in-memory adapter (a Map with
#   expiry, tests/bench/peer/server.mjs: the provider's default is a
#   1000-item LRU that rotating refresh chains outgrow, making it answer
#   errors). Its settings: one client_secret_basic client, the same token
#   lifetimes as ours (access 1 h, refresh 14 d), rotation when ours rotates,
#   introspection of the client's own tokens.
# - Ours (server/examples/bench_server.rs, embedded store, every write
#   fsynced before the answer) once per access token format: opaque
#   (stored), sealed and jwt (self-contained: no access token is written).
#
# Scenarios, each at every concurrency level with the same request count:
# client_credentials; refresh_token with rotation on both sides (one
# refresh-token chain per connection, each answer's refresh token used for
# the next request, as Alexa refreshes); authorization_code (ours only: the
# peer's codes need its login interaction per code; each request redeems a
# fresh code, CODE_REQUESTS per run); introspection. Runs alternate between
# the servers, each on a freshly started server after a warm-up, so drift
# on a noisy machine hits both alike.
#
# Then, on our server alone: exec -> /readyz 200 and idle RSS (startup.sh),
# the cached /api/partner/token path, sustained rotating refresh on the
# embedded store (SUSTAINED_REQUESTS, 100000 by default, at c=50: its
# checkpoints and journal writes from the store's metrics), and the refresh
# grant on DynamoDB Local.
#
# Prints a table with ratios to the peer and to the ceilings, p50/p99/max and
# peak RSS, the targets of issue 19, and writes it all as JSON (BENCH_OUT,
# default under $TMPDIR; never in the repository). Fails when any response
# of any run is an error (not a 200 with the expected body) or a run falls
# short of its count; socket errors (wrk's timeout is 10 s) are counted as
# errors in the table and the JSON. A row whose p99 was set by stalls of
# the journal's fdatasync (the store's metrics: enough long ones to have
# held 1% of the run's requests) is named under the table: the disk, not
# the server (report.py disk_stalls).
#
# OURS_STORE_DIR=/dev/shm puts our store on tmpfs (the header says so).
#
# ROUNDS=3 measures every row three times, the servers' order flipped each
# round, and reports the run of median throughput of each (the JSON keeps
# every run and each row's range): one run of a few thousand requests
# swings by 15-20% on a noisy virtual machine.
#
#   tests/bench/compare.sh           # release build, 20000 requests per run, levels 1 10 50 200
#   tests/bench/compare.sh --smoke   # debug build, 200 requests, levels 1 10 (CI)
#   REQUESTS=50000 LEVELS="50 200" FORMATS="sealed" tests/bench/compare.sh
#   SCENARIOS="refresh_token" LEVELS="1 50" tests/bench/compare.sh   # some scenarios only
#   ROUNDS=3 REQUESTS=5000 tests/bench/compare.sh   # medians of three alternating runs
#
# Before/after: OURS_BENCH_BIN names a prebuilt bench server (built with
# `cargo build --release -p alexa-link-server --features test-support
# --example bench_server` at the "before" commit) and nothing is built:
#
#   OURS_BENCH_BIN=/work/baseline/bench_server tests/bench/compare.sh   # before
#   tests/bench/compare.sh                                              # after
#
# A binary that predates the formats (it prints no FORMATS line) runs opaque
# only, and cannot rotate or issue codes for the load tool: its refresh rows
# are then non-rotating (the header says so) and it has no
# authorization_code rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
. tests/bench/runs.sh

PROFILE=release
REQUESTS=${REQUESTS:-20000}
WARMUP=${WARMUP:-2000}
LEVELS=${LEVELS:-"1 10 50 200"}
CODE_REQUESTS=${CODE_REQUESTS:-2000}
DYNAMO_REQUESTS=${DYNAMO_REQUESTS:-2000}
SUSTAINED_REQUESTS=${SUSTAINED_REQUESTS:-100000}
ROUNDS=${ROUNDS:-1}
PURGE_RECORDS=${PURGE_RECORDS:-1000000}
TIME_BOUND=${TIME_BOUND:-120}   # seconds; a run still going then fails
STARTUP_ARGS=()
if [ "${1:-}" = "--smoke" ]; then
  PROFILE=dev REQUESTS=200 WARMUP=20 LEVELS="1 10" CODE_REQUESTS=100 DYNAMO_REQUESTS=100 SUSTAINED_REQUESTS=400 PURGE_RECORDS=4000 TIME_BOUND=30
  STARTUP_ARGS=(--smoke)
fi
BENCH_OUT=${BENCH_OUT:-${TMPDIR:-/tmp}/alexa-link-bench-$(date -u +%Y%m%dT%H%M%SZ).json}

ensure_wrk
ensure_nginx
command -v node >/dev/null || { echo "node is required for the peer" >&2; exit 1; }
if [ ! -d tests/bench/peer/node_modules/oidc-provider ]; then
  echo "installing the peer (npm ci in tests/bench/peer)"
  (cd tests/bench/peer && npm ci --silent --no-audit --no-fund)
fi
if [ -n "${OURS_BENCH_BIN:-}" ]; then echo "using the prebuilt bench server $OURS_BENCH_BIN"; else echo "building the bench server ($PROFILE)"; fi
build_bench_server
OURS_BIN_LABEL=${OURS_BENCH_BIN:-$BENCH_BIN (built from $(git rev-parse --short HEAD 2>/dev/null || echo ?))}

WORK=$(mktemp -d)
ROWS=$WORK/rows.tsv
: >"$ROWS"
DYNAMO_PID=
NGINX_PID=
cleanup() {
  stop_bench_server O >/dev/null 2>&1 || true
  stop_bench_server P >/dev/null 2>&1 || true
  [ -n "$DYNAMO_PID" ] && scripts/dynamodb-local stop "$DYNAMO_PID"
  [ -n "$NGINX_PID" ] && { kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

# What our binary offers: the formats, and rotating chains and codes for the
# load tool (a bench server older than issue 19 offers neither).
probe_ours() {
  start_bench_server O
  OURS_FORMATS=${O_FORMATS:-opaque}
  stop_bench_server O
  if [ -n "$O_FORMATS" ]; then OURS_ROTATES=yes; else OURS_ROTATES=no; fi
}

CODE_WARMUP=$((WARMUP / 10))
STORE_DIR=${OURS_STORE_DIR:-${TMPDIR:-/tmp}}
STORE_WHERE=$(df --output=fstype "$STORE_DIR" | tail -n 1)
probe_ours
FORMATS=${FORMATS:-$OURS_FORMATS}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== machine: $(nproc) cores, load average $LOAD_BEFORE; ours: $OURS_BIN_LABEL"

echo "== ceilings"
FSYNC_RATE=$(fsync_rate "$STORE_DIR" "$([ "$PROFILE" = dev ] && echo 0.5 || echo 3)")
echo "  fsync rate (4 KiB overwrite + fdatasync in a preallocated file, one at a time) in $STORE_DIR ($STORE_WHERE): $FSYNC_RATE/s"
NGINX_PORT=$(free_port)
start_nginx "$NGINX_PORT" "$WORK/nginx"
export BENCH_METHOD=GET BENCH_BASIC=unused BENCH_EXPECT='"access_token"' BENCH_BODY= BENCH_POOL_FILE= BENCH_CHAIN_FIELD=
for c in $LEVELS; do
  [ "$WARMUP" -gt 0 ] && load "http://127.0.0.1:$NGINX_PORT/" "$c" "$WARMUP" >/dev/null
  result=$(load "http://127.0.0.1:$NGINX_PORT/" "$c" "$REQUESTS")
  check nginx static "$c" "$REQUESTS" "$result"
  printf 'nginx\tstatic\t%s\t%s\tpeak_rss_kb=0\n' "$c" "${result#RESULT }" >>"$ROWS"
  printf '  %-20s %-18s c=%-4s %s\n' nginx static "$c" "${result#RESULT }"
done
kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true; NGINX_PID=

ROTATION=$([ "$OURS_ROTATES" = yes ] && echo "rotating on both sides" || echo "NOT rotating (this bench server cannot), peer not rotating either")
echo "== ours ($FORMATS) vs peer [$PROFILE, $REQUESTS requests per run after $WARMUP warm-up ($CODE_REQUESTS after $CODE_WARMUP for authorization_code), levels $LEVELS, our store on $STORE_WHERE; refresh: $ROTATION]"
i=0
ALL_SCENARIOS="client_credentials refresh_token introspection"
[ "$OURS_ROTATES" = yes ] && ALL_SCENARIOS="client_credentials refresh_token authorization_code introspection"
for sc in ${SCENARIOS:-$ALL_SCENARIOS}; do
  for c in $LEVELS; do
    n=$REQUESTS
    [ "$sc" = authorization_code ] && n=$CODE_REQUESTS
    servers="P"
    for f in $FORMATS; do servers="$servers O:$f"; done
    # The peer has no authorization_code run (its codes need a login each).
    [ "$sc" = authorization_code ] && servers=${servers#P }
    for _ in $(seq 1 "$ROUNDS"); do
      order=$servers
      if [ $((i % 2)) = 1 ]; then order=$(tr ' ' '\n' <<<"$servers" | tac | tr '\n' ' '); fi
      for s in $order; do
        if [ "$s" = P ]; then measure P peer "$sc" "$c" "$n"; else measure O "ours-${s#O:}" "$sc" "$c" "$n" "${s#O:}"; fi
      done
      i=$((i + 1))
    done
  done
done

echo "== ours alone"
# With a prebuilt bench server, start-up is measured on the server binary
# beside it when there is one (else on this tree's build, and it says so).
if [ -n "${OURS_BENCH_BIN:-}" ] && [ -z "${OURS_SERVER_BIN:-}" ]; then
  if [ -x "$(dirname "$OURS_BENCH_BIN")/alexa-link-server" ]; then
    export OURS_SERVER_BIN=$(dirname "$OURS_BENCH_BIN")/alexa-link-server
  else
    echo "  (no alexa-link-server beside $OURS_BENCH_BIN: start-up is this tree's build)"
  fi
fi
STARTUP=$(tests/bench/startup.sh "${STARTUP_ARGS[@]}" | tail -n 1)
echo "  $STARTUP"

ALONE_C=$([ "$PROFILE" = dev ] && echo 4 || echo 50)
BENCH_CHAINS=0 BENCH_CODES=0 start_bench_server O
export BENCH_METHOD=GET BENCH_BASIC=$O_BASIC BENCH_EXPECT='"access_token"' BENCH_BODY= BENCH_POOL_FILE= BENCH_CHAIN_FIELD=
[ "$WARMUP" -gt 0 ] && load "$O_PARTNER_URL" "$ALONE_C" "$WARMUP" >/dev/null
result=$(load "$O_PARTNER_URL" "$ALONE_C" "$REQUESTS")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$O_PID/status")
stop_bench_server O
check ours-alone partner_token_cached "$ALONE_C" "$REQUESTS" "$result"
printf 'ours-alone\tpartner_token_cached\t%s\t%s\tpeak_rss_kb=%s\n' "$ALONE_C" "${result#RESULT }" "$hwm" >>"$ROWS"
echo "  partner_token_cached c=$ALONE_C ${result#RESULT }"

# Sustained refresh on the embedded store: long enough for the store's
# checkpoints (every second or MiB of journal) to come round many times, and
# what they and the journal writes cost, from the store's own metrics.
if [ "$OURS_ROTATES" = yes ]; then
  measure O ours-sustained refresh_token "$ALONE_C" "$SUSTAINED_REQUESTS" opaque
fi

# The purge of expired tokens (every five minutes in the server) on a store
# of PURGE_RECORDS access tokens, half expired, while ALONE_C tasks write new
# ones: how long the writes wait behind it (purge_stall.rs).
PURGE_OUT=$WORK/purge.txt
: >"$PURGE_OUT"
if [ -n "$PURGE_BENCH_BIN" ]; then
  PURGE_BENCH_DIR=$STORE_DIR PURGE_BENCH_RECORDS=$PURGE_RECORDS PURGE_BENCH_C=$ALONE_C PURGE_BENCH_SECONDS=2 \
    "$PURGE_BENCH_BIN" >"$PURGE_OUT"
  sed 's/^/  /' "$PURGE_OUT"
else
  echo "  (no purge_stall beside $OURS_BENCH_BIN: the purge is not measured)"
fi

port=$(free_port)
DYNAMO_PID=$(scripts/dynamodb-local start "$port")
for c in $([ "$PROFILE" = dev ] && echo 4 || echo "10 50"); do
  # A freshly started DynamoDB Local on a busy machine may take longer than
  # the store's 1 s attempt timeout to create the first table: try again.
  for attempt in 1 2 3; do
    BENCH_CHAINS=0 BENCH_CODES=0 BENCH_DYNAMODB_ENDPOINT="http://127.0.0.1:$port" start_bench_server O 2>"$WORK/start.err" && break
    [ "$attempt" = 3 ] && { cat "$WORK/start.err" >&2; exit 1; }
    echo "  (DynamoDB Local not ready for the bench server, attempt $attempt; retrying)"
    sleep 2
  done
  scenario O refresh_token "$c" run
  [ "$WARMUP" -gt 0 ] && load "$URL" "$c" "$((WARMUP / 4))" >/dev/null
  result=$(load "$URL" "$c" "$DYNAMO_REQUESTS")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$O_PID/status")
  stop_bench_server O
  check ours-dynamodb-local refresh_token "$c" "$DYNAMO_REQUESTS" "$result"
  printf 'ours-dynamodb-local\trefresh_token\t%s\t%s\tpeak_rss_kb=%s\n' "$c" "${result#RESULT }" "$hwm" >>"$ROWS"
  echo "  refresh_token (non-rotating) on DynamoDB Local c=$c ${result#RESULT }"
done
scripts/dynamodb-local stop "$DYNAMO_PID"; DYNAMO_PID=

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo
python3 tests/bench/report.py "$ROWS" "$STARTUP" "$BENCH_OUT" "$PURGE_OUT" \
  "profile=$PROFILE requests=$REQUESTS rounds=$ROUNDS warmup=$WARMUP levels=$LEVELS store_fs=$STORE_WHERE dynamodb_requests=$DYNAMO_REQUESTS fsync_per_s=$FSYNC_RATE refresh=$ROTATION formats=$FORMATS load_before=$LOAD_BEFORE load_after=$LOAD_AFTER ours=$OURS_BIN_LABEL"
