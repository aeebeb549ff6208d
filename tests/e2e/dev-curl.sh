#!/usr/bin/env bash
# End-to-end check of the real binary in --dev mode, driven with curl the way
# Alexa and a phone browser would: metadata, authorize -> login -> consent ->
# code -> token -> refresh -> revoke. Then the logs (at debug level) are
# searched for every secret value the flow handled: none may appear.
#
# Usage: tests/e2e/dev-curl.sh [path/to/alexa-link-server]
set -euo pipefail

BIN=${1:-${ALEXA_LINK_SERVER_BIN:-target/debug/alexa-link-server}}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- server log ---" >&2; tail -n 30 "$WORK/stderr" >&2 || true; exit 1; }

RUST_LOG=debug "$BIN" --dev --port 0 --admin-listen 127.0.0.1:0 >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "Admin:" "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
grep -q "DEMO MODE" "$WORK/stdout" || fail "the demo banner did not appear"

field() { sed -n "s/^ *$1: *//p" "$WORK/stdout" | head -n 1; }
AUTHORIZE=$(field "Authorization URI")
TOKEN=$(field "Access Token URI")
CLIENT_ID=$(field "Client ID")
SECRET=$(field "Client secret")
BASE=${AUTHORIZE%/oauth/authorize}
ADMIN=$(sed -n 's|^ *Admin: \(http://[^/]*\)/readyz.*|\1|p' "$WORK/stdout")
REDIRECT=$(grep -m1 -o 'https://pitangui.amazon.com/api/skill/link/[A-Z0-9]*' "$WORK/stdout")
[ -n "$BASE" ] && [ -n "$SECRET" ] && [ -n "$REDIRECT" ] || fail "could not read the banner"

curl -fsS "$ADMIN/readyz" >/dev/null || fail "/readyz"
curl -fsS "$BASE/.well-known/oauth-authorization-server" >"$WORK/meta.json" || fail "metadata"
[ "$(jq -r .token_endpoint "$WORK/meta.json")" = "$TOKEN" ] || fail "metadata token_endpoint"
[ "$(jq -r '.code_challenge_methods_supported[0]' "$WORK/meta.json")" = "S256" ] || fail "metadata PKCE"
[ "$(jq -r '.authorization_response_iss_parameter_supported' "$WORK/meta.json")" = "true" ] || fail "metadata iss"

# PKCE pair, as the client makes it.
VERIFIER=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -binary -sha256 | base64 | tr '+/' '-_' | tr -d '=\n')
STATE=state-$RANDOM
hidden() { # NAME FILE: a hidden input's value, HTML entities decoded
  python3 -c 'import html,re,sys; m=re.search(r"name=\"%s\" value=\"([^\"]*)\"" % sys.argv[1], open(sys.argv[2]).read()); print(html.unescape(m.group(1)) if m else "")' "$1" "$2"
}
JAR="$WORK/cookies"
Q="response_type=code&client_id=$CLIENT_ID&scope=profile&state=$STATE&code_challenge=$CHALLENGE&code_challenge_method=S256"
curl -fsS -c "$JAR" -b "$JAR" "$AUTHORIZE?$Q" --data-urlencode "redirect_uri=$REDIRECT" -G >"$WORK/login.html" || fail "login page"
grep -q 'name="password"' "$WORK/login.html" || fail "no login form"
LOGIN_STATUS=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -c "$JAR" -b "$JAR" "$BASE/oauth/login" \
  --data-urlencode "request=$(hidden request "$WORK/login.html")" \
  --data-urlencode "csrf=$(hidden csrf "$WORK/login.html")" \
  --data-urlencode "username=user" --data-urlencode "password=password")
[ "${LOGIN_STATUS%% *}" = 303 ] || fail "login answered $LOGIN_STATUS"
curl -fsS -c "$JAR" -b "$JAR" "${LOGIN_STATUS#* }" >"$WORK/consent.html" || fail "consent page"
grep -q 'value="allow"' "$WORK/consent.html" || fail "no consent form"
LOCATION=$(curl -sS -o /dev/null -w '%{redirect_url}' -c "$JAR" -b "$JAR" "$BASE/oauth/consent" \
  --data-urlencode "request=$(hidden request "$WORK/consent.html")" \
  --data-urlencode "csrf=$(hidden csrf "$WORK/consent.html")" \
  --data-urlencode "decision=allow")
# RFC 9207: the response names the issuer (the public URL), after the state.
ISS=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$BASE")
case "$LOCATION" in "$REDIRECT?code=alc_"*"&state=$STATE&iss=$ISS") ;; *) fail "unexpected redirect: $LOCATION" ;; esac
CODE=$(printf '%s' "$LOCATION" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')

curl -fsS -u "$CLIENT_ID:$SECRET" "$TOKEN" -d grant_type=authorization_code -d "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" -d "code_verifier=$VERIFIER" >"$WORK/tokens.json" || fail "code exchange"
ACCESS=$(jq -r .access_token "$WORK/tokens.json"); REFRESH=$(jq -r .refresh_token "$WORK/tokens.json")
[[ "$ACCESS" == ala_* && "$REFRESH" == alr_* ]] || fail "token response: $(cat "$WORK/tokens.json")"

# Alexa may also send the client secret in the body.
curl -fsS "$TOKEN" -d grant_type=refresh_token -d "refresh_token=$REFRESH" \
  -d "client_id=$CLIENT_ID" -d "client_secret=$SECRET" >"$WORK/refreshed.json" || fail "refresh"
NEW_REFRESH=$(jq -r .refresh_token "$WORK/refreshed.json")
NEW_ACCESS=$(jq -r .access_token "$WORK/refreshed.json")
[[ "$NEW_REFRESH" == alr_* && "$NEW_REFRESH" != "$REFRESH" ]] || fail "refresh did not rotate"

# A replayed code is refused with an OAuth error.
REPLAY=$(curl -sS -u "$CLIENT_ID:$SECRET" "$TOKEN" -d grant_type=authorization_code -d "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" -d "code_verifier=$VERIFIER")
[ "$(printf '%s' "$REPLAY" | jq -r .error)" = invalid_grant ] || fail "replay answered $REPLAY"

curl -fsS -u "$CLIENT_ID:$SECRET" "$BASE/oauth/revoke" -d "token=$NEW_REFRESH" || fail "revoke"
ACTIVE=$(curl -fsS -u "$CLIENT_ID:$SECRET" "$BASE/oauth/introspect" -d "token=$NEW_ACCESS" | jq -r .active)
[ "$ACTIVE" = false ] || fail "revoked grant's access token is still active"

# The audit log: one JSON line per security event on its own target, even
# though the other logs are text.
grep -F '"target":"alexa_link::audit"' "$WORK/stderr" >"$WORK/audit.jsonl" || fail "no audit lines"
jq -e . "$WORK/audit.jsonl" >/dev/null || fail "an audit line is not JSON"
for event in link_created code_redeemed; do
  jq -se --arg e "$event" --arg c "$CLIENT_ID" 'any(.[]; .event == $e and .client_id == $c and .outcome == "success")' \
    "$WORK/audit.jsonl" >/dev/null || fail "no $event audit line"
done
jq -se 'any(.[]; .event == "grant_revoked" and .reason == "code_replay" and .level == "WARN")' \
  "$WORK/audit.jsonl" >/dev/null || fail "no grant_revoked code_replay audit line"
# Read whole before matching: `grep -q` stops at the match, and under
# pipefail curl's write into the closed pipe then fails the check.
curl -fsS "$ADMIN/metrics" >"$WORK/metrics" || fail "no /metrics"
grep -q 'alexa_link_audit_events_total{event="code_redeemed",outcome="success"} 1' "$WORK/metrics" \
  || fail "audit events are not counted"

# Nothing secret in the logs, even at debug level.
for secret in "$SECRET" "$CODE" "$ACCESS" "$REFRESH" "$NEW_ACCESS" "$NEW_REFRESH" "$VERIFIER" "password"; do
  if grep -qF -- "$secret" "$WORK/stderr"; then fail "a secret value appears in the log"; fi
done
echo "dev-curl: the --dev server linked, refreshed, refused a replay and revoked over curl; logs hold no secrets"
