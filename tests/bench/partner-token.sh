#!/usr/bin/env bash
# Load test of the cached partner-token path (GET /api/partner/token for a
# mutually linked user whose Amazon token is fresh): one store read, one
# decryption, no LWA call. Prints wrk's throughput and latency percentiles.
#
#   tests/bench/partner-token.sh            # release build, 50 connections, 10 s
#   tests/bench/partner-token.sh --smoke    # debug build, 4 connections, 2 s (CI)
#   CONNECTIONS=200 DURATION=30s tests/bench/partner-token.sh
#
# The server and the LWA stand-in run in one process on loopback; wrk runs
# in another with 2 threads, bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh

PROFILE=release CONNECTIONS=${CONNECTIONS:-50} DURATION=${DURATION:-10s}
if [ "${1:-}" = "--smoke" ]; then PROFILE=dev CONNECTIONS=4 DURATION=2s; fi
ensure_wrk
build_bench_server
trap 'stop_bench_server S || true' EXIT
start_bench_server S

wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Basic $S_BASIC" "$S_PARTNER_URL" | tee /tmp/partner-token-wrk.$$
read -r RPS P50 P99 ERRORS SOCKET < <(wrk_summary /tmp/partner-token-wrk.$$); rm -f /tmp/partner-token-wrk.$$
echo
echo "partner-token (cached) [$PROFILE, $CONNECTIONS connections, $DURATION]: $RPS req/s, p50 $P50, p99 $P99, non-2xx $ERRORS"
stop_bench_server S
[ "$ERRORS" = 0 ] && [ "$SOCKET" = none ] || { echo "errors during the run" >&2; exit 1; }
