#!/usr/bin/env bash
# Starts or stops the test OpenID Provider (provider.mjs, npm oidc-provider
# at the version pinned in package-lock.json) on a free loopback port (or,
# with OIDC_HOST / OIDC_TLS_CERT / OIDC_TLS_KEY, as provider.mjs says).
#
#   eval "$(tests/oidc/provider.sh start)"   # prints export lines (ALEXA_LINK_OIDC_*)
#   tests/oidc/provider.sh stop "$ALEXA_LINK_OIDC_PID"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

start() {
  if [[ ! -d node_modules/oidc-provider || package-lock.json -nt node_modules ]]; then
    npm ci --no-audit --no-fund >&2
    touch node_modules
  fi
  local out
  out="$(mktemp /tmp/alexa-link-oidc.XXXXXX)"
  node provider.mjs 0 >"$out" 2>"$out.log" &
  local pid=$!
  for _ in $(seq 100); do
    if grep -q issuer "$out" 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$out.log" >&2; exit 1; fi
    sleep 0.1
  done
  local issuer
  issuer="$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$out")"
  rm -f "$out" "$out.log"
  [[ -n "$issuer" ]] || { echo "oidc-provider did not start" >&2; kill "$pid"; exit 1; }
  echo "export ALEXA_LINK_OIDC_PID=$pid"
  echo "export ALEXA_LINK_OIDC_ISSUER=$issuer"
}

stop() {
  local pid=${1:?usage: provider.sh stop PID}
  kill "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop PID" >&2; exit 2 ;;
esac
