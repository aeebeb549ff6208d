#!/usr/bin/env bash
# Token-endpoint throughput on the embedded store and on DynamoDB Local, in
# one run: client_credentials grants (client authentication, token minting,
# one conditional write each) driven by wrk. Prints both and their ratio.
#
#   tests/bench/token-endpoint.sh           # release, 50 connections, 10 s each
#   tests/bench/token-endpoint.sh --smoke   # debug, 4 connections, 2 s each (CI)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh

PROFILE=release CONNECTIONS=${CONNECTIONS:-50} DURATION=${DURATION:-10s}
if [ "${1:-}" = "--smoke" ]; then PROFILE=dev CONNECTIONS=4 DURATION=2s; fi
ensure_wrk
build_bench_server

LUA=$(mktemp --suffix .lua)
DYNAMO_PID=
cleanup() { stop_bench_server S || true; [ -n "$DYNAMO_PID" ] && scripts/dynamodb-local stop "$DYNAMO_PID"; rm -f "$LUA"; }
trap cleanup EXIT

run() { # run LABEL
  local label=$1 out; out=$(mktemp)
  start_bench_server S
  cat >"$LUA" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=profile"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $S_BASIC"
LUA
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$S_TOKEN_URL" >"$out"
  stop_bench_server S
  read -r RPS P50 P99 ERRORS SOCKET < <(wrk_summary "$out"); rm -f "$out"
  printf '%-16s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$label" "$RPS" "$P50" "$P99" "$ERRORS"
  eval "${label//[^a-z]/_}_RPS=$RPS"
  [ "$ERRORS" = 0 ] && [ "$SOCKET" = none ] || { echo "errors during the $label run" >&2; exit 1; }
}

echo "token endpoint, client_credentials [$PROFILE, $CONNECTIONS connections, $DURATION each]"
run embedded
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DYNAMO_PID=$(scripts/dynamodb-local start "$port")
BENCH_DYNAMODB_ENDPOINT="http://127.0.0.1:$port" run dynamodb-local
echo "ratio embedded/dynamodb-local: $(python3 -c "print(f'{$embedded_RPS / $dynamodb_local_RPS:.2f}')")"
