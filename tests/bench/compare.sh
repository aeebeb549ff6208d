#!/usr/bin/env bash
# Our server against a well-known peer, side by side in one run: panva's
# oidc-provider (tests/bench/peer/) with an equivalent client, opaque tokens,
# non-rotating refresh tokens and its in-memory adapter; ours with the
# embedded store (server/examples/bench_server.rs). Both are driven by wrk
# with the same Lua script (tests/bench/counted.lua): the same request count
# at each concurrency level, for the client_credentials grant, the
# refresh_token grant and introspection. Runs alternate between the servers
# (ours first, then the peer first, ...), each on a freshly started server
# after a warm-up, so drift on a noisy machine hits both alike.
#
# Then, on our server alone: exec -> /readyz 200 and idle RSS (startup.sh),
# the cached /api/partner/token path, and the refresh grant on DynamoDB Local.
#
# Prints a table with our/peer ratios and the targets, and writes it as JSON
# (BENCH_OUT, default under $TMPDIR; never in the repository). Fails when any
# response of any run is an error (not a 200 with the expected body) or a run
# falls short of its count; socket errors (wrk's timeout is 10 s, twice
# Alexa's 4.5 s) are counted as errors in the table and the JSON.
#
# Our store lives in a temporary directory on disk, and every write is
# fsynced before the answer, as in production. OURS_STORE_DIR=/dev/shm puts
# it on tmpfs instead, for a like-for-like look at the peer's in-memory
# adapter (the run's header says so).
#
#   tests/bench/compare.sh           # release build, 20000 requests per run, levels 1 10 50 200
#   tests/bench/compare.sh --smoke   # debug build, 200 requests, levels 1 10 (CI)
#   REQUESTS=50000 LEVELS="50 200" tests/bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh

PROFILE=release
REQUESTS=${REQUESTS:-20000}
WARMUP=${WARMUP:-2000}
LEVELS=${LEVELS:-"1 10 50 200"}
DYNAMO_REQUESTS=${DYNAMO_REQUESTS:-2000}
TIME_BOUND=${TIME_BOUND:-120}   # seconds; a run still going then fails
STARTUP_ARGS=()
if [ "${1:-}" = "--smoke" ]; then
  PROFILE=dev REQUESTS=200 WARMUP=20 LEVELS="1 10" DYNAMO_REQUESTS=100 TIME_BOUND=30
  STARTUP_ARGS=(--smoke)
fi
BENCH_OUT=${BENCH_OUT:-${TMPDIR:-/tmp}/alexa-link-bench-$(date -u +%Y%m%dT%H%M%SZ).json}

ensure_wrk
command -v node >/dev/null || { echo "node is required for the peer" >&2; exit 1; }
if [ ! -d tests/bench/peer/node_modules/oidc-provider ]; then
  echo "installing the peer (npm ci in tests/bench/peer)"
  (cd tests/bench/peer && npm ci --silent --no-audit --no-fund)
fi
echo "building the bench server ($PROFILE)"
build_bench_server

WORK=$(mktemp -d)
ROWS=$WORK/rows.tsv
: >"$ROWS"
DYNAMO_PID=
cleanup() {
  stop_bench_server O >/dev/null 2>&1 || true
  stop_bench_server P >/dev/null 2>&1 || true
  [ -n "$DYNAMO_PID" ] && scripts/dynamodb-local stop "$DYNAMO_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT

# load URL CONCURRENCY REQUESTS: one bounded wrk run with the BENCH_* request
# settings already exported; prints counted.lua's RESULT line.
load() {
  local url=$1 c=$2 n=$3 threads done_file out pid
  threads=$((c < 2 ? c : 2))
  done_file=$WORK/done; : >"$done_file"
  out=$WORK/wrk.out
  BENCH_DONE_FILE=$done_file BENCH_REQUESTS=$n BENCH_THREADS=$threads \
    wrk -t"$threads" -c"$c" -d"${TIME_BOUND}s" --timeout 10s --latency -s tests/bench/counted.lua "$url" >"$out" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(wc -l <"$done_file")" -ge "$threads" ]; then kill -INT "$pid" 2>/dev/null || true; break; fi
    sleep 0.02
  done
  wait "$pid" || true
  grep '^RESULT ' "$out" || { echo "wrk failed:" >&2; cat "$out" >&2; return 1; }
}

# scenario SERVER(O|P) SCENARIO: exports what counted.lua sends, sets URL.
scenario() {
  local s=$1 token_url introspect_url basic refresh access
  token_url=${s}_TOKEN_URL introspect_url=${s}_INTROSPECT_URL refresh=${s}_REFRESH_TOKEN access=${s}_ACCESS_TOKEN
  basic=$([ "$s" = O ] && echo O_CLIENT_BASIC || echo P_BASIC)
  export BENCH_METHOD=POST BENCH_BASIC=${!basic} BENCH_EXPECT='"access_token"'
  case $2 in
    client_credentials) URL=${!token_url} BENCH_BODY="grant_type=client_credentials&scope=profile" ;;
    refresh_token) URL=${!token_url} BENCH_BODY="grant_type=refresh_token&refresh_token=${!refresh}" ;;
    introspection) URL=${!introspect_url} BENCH_BODY="token=${!access}" BENCH_EXPECT='"active":true' ;;
  esac
  export BENCH_BODY
}

start() { # start O|P
  if [ "$1" = O ]; then TMPDIR=${OURS_STORE_DIR:-${TMPDIR:-/tmp}} start_bench_server O; else start_server P node tests/bench/peer/server.mjs; fi
}

# measure SERVER(O|P) LABEL SCENARIO CONCURRENCY REQUESTS: a fresh server,
# a warm-up at the same concurrency, the measured run, the server's peak RSS.
measure() {
  local s=$1 label=$2 sc=$3 c=$4 n=$5 pid result hwm
  start "$s"
  scenario "$s" "$sc"
  [ "$WARMUP" -gt 0 ] && { result=$(load "$URL" "$c" "$WARMUP"); check "$label warm-up" "$sc" "$c" "$WARMUP" "$result"; }
  result=$(load "$URL" "$c" "$n")
  pid=${s}_PID
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/${!pid}/status")
  stop_bench_server "$s"
  check "$label" "$sc" "$c" "$n" "$result"
  printf '%s\t%s\t%s\t%s\tpeak_rss_kb=%s\n' "$label" "$sc" "$c" "${result#RESULT }" "$hwm" >>"$ROWS"
  printf '  %-20s %-18s c=%-4s %s peak_rss_kb=%s\n' "$label" "$sc" "$c" "${result#RESULT }" "$hwm"
}

# check LABEL SCENARIO C N RESULT: fails loudly on any error answer or short
# run; warns of socket errors (they count as errors in the table).
check() {
  local responses bad sock
  responses=$(sed -E 's/.*responses=([0-9]+).*/\1/' <<<"$5")
  bad=$(sed -E 's/.* bad=([0-9]+).*/\1/' <<<"$5")
  sock=$(sed -E 's/.*socket_errors=([0-9]+).*/\1/' <<<"$5")
  if [ "$bad" != 0 ] || [ "$responses" -lt "$4" ]; then
    echo "FAILED: $1 $2 at $3 connections: $responses/$4 responses, $bad error answers: ${5#RESULT }" >&2
    exit 1
  fi
  [ "$sock" = 0 ] || echo "  warning: $1 $2 at $3 connections: socket errors: ${5#RESULT }" >&2
}

STORE_WHERE=$(df --output=fstype "${OURS_STORE_DIR:-${TMPDIR:-/tmp}}" | tail -n 1)
echo "== ours vs peer [$PROFILE, $REQUESTS requests per run after $WARMUP warm-up, levels $LEVELS, our store on $STORE_WHERE]"
i=0
for sc in client_credentials refresh_token introspection; do
  for c in $LEVELS; do
    if [ $((i % 2)) = 0 ]; then order="O P"; else order="P O"; fi
    for s in $order; do
      if [ "$s" = O ]; then measure O ours "$sc" "$c" "$REQUESTS"; else measure P peer "$sc" "$c" "$REQUESTS"; fi
    done
    i=$((i + 1))
  done
done

echo "== ours alone"
STARTUP=$(tests/bench/startup.sh "${STARTUP_ARGS[@]}" | tail -n 1)
echo "  $STARTUP"

ALONE_C=$([ "$PROFILE" = dev ] && echo 4 || echo 50)
start_bench_server O
export BENCH_METHOD=GET BENCH_BASIC=$O_BASIC BENCH_EXPECT='"access_token"' BENCH_BODY=
[ "$WARMUP" -gt 0 ] && load "$O_PARTNER_URL" "$ALONE_C" "$WARMUP" >/dev/null
result=$(load "$O_PARTNER_URL" "$ALONE_C" "$REQUESTS")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$O_PID/status")
stop_bench_server O
check ours-alone partner_token_cached "$ALONE_C" "$REQUESTS" "$result"
printf 'ours-alone\tpartner_token_cached\t%s\t%s\tpeak_rss_kb=%s\n' "$ALONE_C" "${result#RESULT }" "$hwm" >>"$ROWS"
echo "  partner_token_cached c=$ALONE_C ${result#RESULT }"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DYNAMO_PID=$(scripts/dynamodb-local start "$port")
for c in $([ "$PROFILE" = dev ] && echo 4 || echo "10 50"); do
  # A freshly started DynamoDB Local on a busy machine may take longer than
  # the store's 1 s attempt timeout to create the first table: try again.
  for attempt in 1 2 3; do
    BENCH_DYNAMODB_ENDPOINT="http://127.0.0.1:$port" start_bench_server O 2>"$WORK/start.err" && break
    [ "$attempt" = 3 ] && { cat "$WORK/start.err" >&2; exit 1; }
    echo "  (DynamoDB Local not ready for the bench server, attempt $attempt; retrying)"
    sleep 2
  done
  scenario O refresh_token
  [ "$WARMUP" -gt 0 ] && load "$URL" "$c" "$((WARMUP / 4))" >/dev/null
  result=$(load "$URL" "$c" "$DYNAMO_REQUESTS")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$O_PID/status")
  stop_bench_server O
  check ours-dynamodb-local refresh_token "$c" "$DYNAMO_REQUESTS" "$result"
  printf 'ours-dynamodb-local\trefresh_token\t%s\t%s\tpeak_rss_kb=%s\n' "$c" "${result#RESULT }" "$hwm" >>"$ROWS"
  echo "  refresh_token on DynamoDB Local c=$c ${result#RESULT }"
done
scripts/dynamodb-local stop "$DYNAMO_PID"; DYNAMO_PID=

echo
python3 tests/bench/report.py "$ROWS" "$STARTUP" "$BENCH_OUT" \
  "profile=$PROFILE requests=$REQUESTS warmup=$WARMUP levels=$LEVELS store_fs=$STORE_WHERE dynamodb_requests=$DYNAMO_REQUESTS"
