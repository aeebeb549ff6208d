#!/usr/bin/env bash
# Instructions per token request, counted by valgrind's callgrind: a
# deterministic figure for before/after comparisons of one hot-path change,
# unaffected by what else runs on the machine (wall-clock figures on a
# shared machine are not; tests/bench/compare.sh gives those).
#
#   tests/bench/profile.sh BENCH_SERVER SCENARIO [REQUESTS] [CONNECTIONS] [OUT]
#
# BENCH_SERVER is a release bench server (`cargo build --release -p
# alexa-link-server --features test-support --example bench_server`),
# SCENARIO client_credentials or refresh_token (rotating: one chain per
# connection), REQUESTS 2000 and CONNECTIONS 50 by default. The server
# starts under callgrind with instrumentation off (start-up and the real
# linking flow are not counted); client_credentials gets 200 uncounted
# warm-up requests; instrumentation is on only around the measured wrk run.
# Prints the instructions of the whole process (every thread: runtime,
# store writer, blocking pool) per answered request, and leaves the profile
# in OUT (default $TMPDIR/alexa-link-<scenario>.callgrind) for
# `callgrind_annotate`. The embedded store; the access token format is
# FORMAT (opaque by default, or sealed or jwt).
#
# Callgrind runs the process on a CPU without SHA extensions, so SHA-256
# (client secrets, token hashes, HKDF) weighs more here than on a CPU
# that has them; read the hashing share with that in mind.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$1 SCENARIO=$2 REQUESTS=${3:-2000} C=${4:-50}
FORMAT=${FORMAT:-opaque}
OUT=${5:-${TMPDIR:-/tmp}/alexa-link-$SCENARIO-$FORMAT.callgrind}
case $SCENARIO in client_credentials | refresh_token) ;; *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;; esac
case $FORMAT in opaque | sealed | jwt) ;; *) echo "unknown FORMAT $FORMAT (opaque, sealed or jwt)" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || { echo "installing valgrind (Debian)"; apt-get install -y -qq valgrind >/dev/null; }
PROFILE=release
. tests/bench/lib.sh
ensure_wrk
WORK=$(mktemp -d)
trap 'stop_bench_server O >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

chains=0
[ "$SCENARIO" = refresh_token ] && chains=$C
BENCH_ACCESS_TOKEN_FORMAT=$FORMAT BENCH_CHAINS=$chains BENCH_CODES=0 \
  start_server O valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" "$BIN"
# valgrind's own pid is the profiled process.
export BENCH_METHOD=POST BENCH_BASIC=$O_CLIENT_BASIC BENCH_EXPECT='"access_token"' BENCH_POOL_FILE= BENCH_CHAIN_FIELD=
if [ "$SCENARIO" = refresh_token ]; then
  BENCH_POOL_FILE=$WORK/chains
  head -n "$C" "$O_REFRESH_TOKENS_FILE" >"$BENCH_POOL_FILE"
  BENCH_BODY="grant_type=refresh_token&refresh_token={}" BENCH_CHAIN_FIELD=refresh_token
else
  BENCH_BODY="grant_type=client_credentials&scope=profile"
fi
export BENCH_BODY BENCH_POOL_FILE BENCH_CHAIN_FIELD

# run N: one bounded wrk run (one thread); prints counted.lua's RESULT line.
run() {
  : >"$WORK/done"
  # counted.lua stops wrk once its thread is done.
  BENCH_DONE_FILE=$WORK/done BENCH_REQUESTS=$1 BENCH_THREADS=1 \
    wrk -t1 -c"$C" -d600s --timeout 60s -s tests/bench/counted.lua "$O_TOKEN_URL" >"$WORK/wrk.out" 2>&1 || true
  grep '^RESULT ' "$WORK/wrk.out" || { cat "$WORK/wrk.out" >&2; return 1; }
}

[ "$SCENARIO" = client_credentials ] && run 200 >/dev/null
callgrind_control -i on "$O_PID" >/dev/null 2>&1
result=$(run "$REQUESTS")
callgrind_control -i off "$O_PID" >/dev/null 2>&1
stop_bench_server O
responses=$(sed -E 's/.*responses=([0-9]+).*/\1/' <<<"$result")
bad=$(sed -E 's/.* bad=([0-9]+).*/\1/' <<<"$result")
[ "$bad" = 0 ] || { echo "error answers: $result" >&2; exit 1; }
total=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$SCENARIO format=$FORMAT c=$C responses=$responses instructions=$total per_request=$((total / responses)) profile=$OUT"
