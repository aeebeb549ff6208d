# The measured runs of our bench server and the peer, shared by compare.sh
# and ab.sh: a bounded wrk run, the request each scenario sends, a fresh
# server per run with its warm-up, and the checks that fail a broken run.
# Callers source lib.sh first and set WORK, ROWS (the rows file), WARMUP,
# CODE_WARMUP, CODE_REQUESTS, TIME_BOUND, OURS_ROTATES and BENCH_BIN.

# load URL CONCURRENCY REQUESTS: one bounded wrk run with the BENCH_* request
# settings already exported; prints counted.lua's RESULT line.
load() {
  local url=$1 c=$2 n=$3 threads done_file out
  threads=$((c < 2 ? c : 2))
  done_file=$WORK/done; : >"$done_file"
  out=$WORK/wrk.out
  # counted.lua stops wrk once every thread is done; TIME_BOUND bounds a run
  # that never gets there.
  BENCH_DONE_FILE=$done_file BENCH_REQUESTS=$n BENCH_THREADS=$threads \
    wrk -t"$threads" -c"$c" -d"${TIME_BOUND}s" --timeout 10s --latency -s tests/bench/counted.lua "$url" >"$out" 2>&1 || true
  grep '^RESULT ' "$out" || { echo "wrk failed:" >&2; cat "$out" >&2; return 1; }
}

# pool FILE FIRST COUNT: lines FIRST..FIRST+COUNT-1 of FILE in a new file; prints its path.
pool() {
  local out; out=$(mktemp -p "$WORK")
  tail -n +"$2" "$1" | head -n "$3" >"$out"
  echo "$out"
}

# scenario SERVER(O|P) SCENARIO C PHASE(warm|run): exports what counted.lua
# sends, sets URL.
scenario() {
  local s=$1 c=$3 phase=$4 token_url introspect_url basic refresh access chains codes redirect
  token_url=${s}_TOKEN_URL introspect_url=${s}_INTROSPECT_URL refresh=${s}_REFRESH_TOKEN access=${s}_ACCESS_TOKEN
  chains=${s}_REFRESH_TOKENS_FILE codes=${s}_CODES_FILE redirect=${s}_REDIRECT_URI
  basic=$([ "$s" = O ] && echo O_CLIENT_BASIC || echo P_BASIC)
  export BENCH_METHOD=POST BENCH_BASIC=${!basic} BENCH_EXPECT='"access_token"' BENCH_POOL_FILE= BENCH_CHAIN_FIELD=
  case $2 in
    client_credentials) URL=${!token_url} BENCH_BODY="grant_type=client_credentials&scope=profile" ;;
    refresh_token)
      URL=${!token_url}
      if [ -n "${!chains:-}" ]; then
        # c chains for the warm-up, c others for the measured run.
        BENCH_POOL_FILE=$(pool "${!chains}" $([ "$phase" = warm ] && echo 1 || echo $((c + 1))) "$c")
        BENCH_BODY="grant_type=refresh_token&refresh_token={}" BENCH_CHAIN_FIELD=refresh_token
      else
        BENCH_BODY="grant_type=refresh_token&refresh_token=${!refresh}"
      fi ;;
    authorization_code)
      URL=${!token_url}
      # Each run's own codes, c spare: wrk has up to c requests in flight
      # when a thread reaches its count, and each of those takes a code too.
      BENCH_POOL_FILE=$(pool "${!codes}" $([ "$phase" = warm ] && echo 1 || echo $((CODE_WARMUP + c + 1))) \
        $([ "$phase" = warm ] && echo $((CODE_WARMUP + c)) || echo $((CODE_REQUESTS + c))))
      BENCH_BODY="grant_type=authorization_code&code={}&redirect_uri=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "${!redirect}")" ;;
    introspection) URL=${!introspect_url} BENCH_BODY="token=${!access}" BENCH_EXPECT='"active":true' ;;
  esac
  export BENCH_BODY BENCH_POOL_FILE BENCH_CHAIN_FIELD
}

# start O|P SCENARIO C FORMAT
start() {
  if [ "$1" = O ]; then
    local chains=0 codes=0
    [ "$2" = refresh_token ] && [ "$OURS_ROTATES" = yes ] && chains=$((2 * $3))
    [ "$2" = authorization_code ] && codes=$((CODE_WARMUP + CODE_REQUESTS + 2 * $3))
    BENCH_ACCESS_TOKEN_FORMAT=$4 BENCH_CHAINS=$chains BENCH_CODES=$codes \
      TMPDIR=${OURS_STORE_DIR:-${TMPDIR:-/tmp}} start_bench_server O
  else
    local chains=0
    [ "$2" = refresh_token ] && [ "$OURS_ROTATES" = yes ] && chains=$((2 * $3))
    PEER_CHAINS=$chains start_server P node tests/bench/peer/server.mjs
  fi
}

# measure SERVER(O|P) LABEL SCENARIO CONCURRENCY REQUESTS [FORMAT]: a fresh
# server, a warm-up at the same concurrency, the measured run, the server's
# peak RSS and, for a bench server that prints its METRICS_URL, what its
# embedded store did during the run (store_stats).
measure() {
  local s=$1 label=$2 sc=$3 c=$4 n=$5 fmt=${6:-opaque} pid metrics result hwm stats="" warm=$WARMUP
  [ "$sc" = authorization_code ] && warm=$CODE_WARMUP
  start "$s" "$sc" "$c" "$fmt"
  if [ "$warm" -gt 0 ]; then
    scenario "$s" "$sc" "$c" warm
    result=$(load "$URL" "$c" "$warm"); check "$label warm-up" "$sc" "$c" "$warm" "$result"
  fi
  scenario "$s" "$sc" "$c" run
  metrics=${s}_METRICS_URL; metrics=${!metrics:-}
  [ -n "$metrics" ] && { curl -sf "$metrics" >"$WORK/metrics.before" || metrics=""; }
  result=$(load "$URL" "$c" "$n")
  pid=${s}_PID
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/${!pid}/status")
  if [ -n "$metrics" ] && curl -sf "$metrics" >"$WORK/metrics.after"; then
    stats=" $(store_stats "$WORK/metrics.before" "$WORK/metrics.after")"
  fi
  stop_bench_server "$s"
  check "$label" "$sc" "$c" "$n" "$result"
  printf '%s\t%s\t%s\t%s\tpeak_rss_kb=%s%s\n' "$label" "$sc" "$c" "${result#RESULT }" "$hwm" "$stats" >>"$ROWS"
  printf '  %-20s %-18s c=%-4s %s peak_rss_kb=%s%s\n' "$label" "$sc" "$c" "${result#RESULT }" "$hwm" "$stats"
}

# check LABEL SCENARIO C N RESULT: fails loudly on any error answer or short
# run, of ours and of the peer alike (the peer's store is unbounded, so an
# error there is a broken benchmark too); warns of socket errors (they count as errors in the table).
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

# store_stats BEFORE AFTER: the embedded store's checkpoints, journal writes
# and batches between two /metrics scrapes, as integer key=value fields
# (times in µs; checkpoint_max_le_us is the upper bound of the histogram
# bucket of the longest checkpoint; journal_write_buckets is the run's
# journal writes per bucket, "LE_US:COUNT,...", the empty buckets left out
# and "inf" for those past the last bound: journal fdatasyncs that stall
# for tens of milliseconds on a virtual disk show there, and report.py
# names them beside a p99 they account for).
store_stats() {
  python3 - "$1" "$2" <<'PY'
import re, sys
before, after = (open(f).read() for f in sys.argv[1:3])
def value(text, name):
    m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0
def delta(name):
    return value(after, name) - value(before, name)
def buckets(text, name):
    return re.findall(r"^" + re.escape(name) + r'_bucket\{le="([^"]+)"\} ([0-9.e+-]+)$', text, re.M)
def per_bucket(name):
    old = dict(buckets(before, name))
    seen, out = 0.0, []
    for le, c in buckets(after, name):
        n = float(c) - float(old.get(le, 0)) - seen
        seen += n
        if n > 0:
            out.append(f"{'inf' if le == '+Inf' else round(float(le) * 1e6)}:{int(n)}")
    return ",".join(out)
def max_le(name):
    count = delta(name + "_count")
    old = dict(buckets(before, name))
    for le, c in buckets(after, name):
        if count > 0 and float(c) - float(old.get(le, 0)) >= count:
            return 0 if le == "+Inf" else round(float(le) * 1e6)
    return 0
cp, jw, b = "alexa_link_store_checkpoint_seconds", "alexa_link_store_journal_write_seconds", "alexa_link_store_batch_operations"
print(f"checkpoints={int(delta(cp + '_count'))} checkpoint_sum_us={round(delta(cp + '_sum') * 1e6)}"
      f" checkpoint_max_le_us={max_le(cp)} journal_writes={int(delta(jw + '_count'))}"
      f" journal_write_sum_us={round(delta(jw + '_sum') * 1e6)} journal_write_buckets={per_bucket(jw)}"
      f" batches={int(delta(b + '_count'))}"
      f" batch_operations={int(delta(b + '_sum'))}"
      f" busy_us={round(delta('alexa_link_store_busy_seconds_total') * 1e6)}")
PY
}
