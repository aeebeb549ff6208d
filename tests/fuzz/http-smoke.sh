#!/usr/bin/env bash
# HTTP-level fuzz smoke against the real binary in --dev mode, on loopback:
# tests/fuzz/http_smoke.py sends mutated copies of real requests to every
# public endpoint, bounded in requests and time. Fails on any 5xx other
# than the documented upstream 502/503, on a well-formed request left
# without an answer, on a panic in the server's log, or when the server is
# not healthy afterwards (/healthz on the admin port).
#
# Usage: tests/fuzz/http-smoke.sh [path/to/alexa-link-server]
# Env:   HTTP_FUZZ_REQUESTS (3000), HTTP_FUZZ_SECONDS (90), HTTP_FUZZ_SEED (random;
#        printed, so a failing run can be replayed)
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${1:-${ALEXA_LINK_SERVER_BIN:-target/debug/alexa-link-server}}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- server log ---" >&2; tail -n 30 "$WORK/stderr" >&2 || true; exit 1; }

[ -x "$BIN" ] || cargo build -p alexa-link-server
RUST_LOG=info "$BIN" --dev --port 0 --admin-listen 127.0.0.1:0 >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "Admin:" "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
field() { sed -n "s/^ *$1: *//p" "$WORK/stdout" | head -n 1; }
AUTHORIZE=$(field "Authorization URI")
BASE=${AUTHORIZE%/oauth/authorize}
CLIENT_ID=$(field "Client ID")
SECRET=$(field "Client secret")
ADMIN=$(sed -n 's|^ *Admin: \(http://[^/]*\)/readyz.*|\1|p' "$WORK/stdout")
REDIRECT=$(grep -m1 -o 'https://pitangui.amazon.com/api/skill/link/[A-Z0-9]*' "$WORK/stdout")
[ -n "$BASE" ] && [ -n "$SECRET" ] && [ -n "$ADMIN" ] || fail "could not read the banner"
case "$BASE" in http://127.0.0.1:*) ;; *) fail "not a loopback server: $BASE" ;; esac

status=0
python3 tests/fuzz/http_smoke.py --base "$BASE" --client-id "$CLIENT_ID" --secret "$SECRET" \
  --redirect "$REDIRECT" --requests "${HTTP_FUZZ_REQUESTS:-3000}" \
  --seconds "${HTTP_FUZZ_SECONDS:-90}" ${HTTP_FUZZ_SEED:+--seed "$HTTP_FUZZ_SEED"} \
  --failures "${TMPDIR:-/tmp}/alexa-link-http-fuzz-failures.txt" | tee "$WORK/report.json" || status=$?
[ "$status" -eq 0 ] || fail "mutated requests got a 5xx or no answer (requests in ${TMPDIR:-/tmp}/alexa-link-http-fuzz-failures.txt)"

kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited"
curl -fsS --max-time 5 "$ADMIN/healthz" >/dev/null || fail "/healthz after the run"
# And it still serves a real request.
curl -fsS --max-time 5 "$BASE/.well-known/oauth-authorization-server" >/dev/null || fail "metadata after the run"
if grep -n "panicked" "$WORK/stderr"; then fail "a panic in the server log"; fi
echo "http fuzz smoke: ok ($(cat "$WORK/report.json"))"
