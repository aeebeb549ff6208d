#!/usr/bin/env bash
# Load test of the cached partner-token path (GET /api/partner/token for a
# mutually linked user whose Amazon token is fresh): one store read, one
# decryption, no LWA call. Prints wrk's throughput and latency percentiles.
#
#   tests/bench/partner-token.sh            # release build, 50 connections, 10 s
#   tests/bench/partner-token.sh --smoke    # debug build, 4 connections, 2 s (CI)
#   CONNECTIONS=200 DURATION=30s tests/bench/partner-token.sh
#
# The server and the LWA stand-in run in one process on loopback
# (server/examples/partner_token_bench.rs); wrk runs in another, with 2
# threads, bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."

PROFILE=release
CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-10s}
if [ "${1:-}" = "--smoke" ]; then PROFILE=dev; CONNECTIONS=4; DURATION=2s; fi

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi

cargo build -q --profile "$PROFILE" -p alexa-link-server --features test-support --example partner_token_bench
DIR=$([ "$PROFILE" = dev ] && echo debug || echo release)
BIN=target/$DIR/examples/partner_token_bench

WORK=$(mktemp -d)
mkfifo "$WORK/stdin"
"$BIN" <"$WORK/stdin" >"$WORK/out" 2>"$WORK/err" &
PID=$!
exec 3>"$WORK/stdin"   # holding the fifo open keeps the server serving
cleanup() { exec 3>&-; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 300); do grep -q '^READY ' "$WORK/out" && break; sleep 0.1; done
read -r _ URL AUTH_SCHEME AUTH_VALUE <"$WORK/out" || { cat "$WORK/err" >&2; exit 1; }
[ -n "${AUTH_VALUE:-}" ] || { echo "the bench server did not start" >&2; cat "$WORK/err" >&2; exit 1; }

wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: $AUTH_SCHEME $AUTH_VALUE" "$URL" | tee "$WORK/wrk"

RPS=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk")
P50=$(awk '$1=="50%" {print $2}' "$WORK/wrk")
P99=$(awk '$1=="99%" {print $2}' "$WORK/wrk")
ERRORS=$(awk '/Non-2xx or 3xx responses/ {print $5}' "$WORK/wrk")
SOCKET=$(awk '/Socket errors/ {print $0}' "$WORK/wrk")
echo
echo "partner-token (cached) [$PROFILE, $CONNECTIONS connections, $DURATION]: ${RPS} req/s, p50 ${P50}, p99 ${P99}, non-2xx ${ERRORS:-0}"
exec 3>&-
wait "$PID" || { echo "the bench server failed (did it call LWA?)" >&2; cat "$WORK/err" >&2; exit 1; }
if [ -n "${ERRORS:-}" ] || [ -n "$SOCKET" ]; then echo "errors during the run: ${ERRORS:-0} non-2xx; $SOCKET" >&2; exit 1; fi
