#!/usr/bin/env bash
# Runs the real-browser end-to-end tests of the login and consent pages
# (linking.test.mjs with the --dev server; backends.test.mjs: one login per
# identity backend, using the slapd and oidc-provider scripts/test starts;
# app_to_app.test.mjs: App-to-App's web variant against the in-repo
# Amazon stand-ins, server/examples/app_to_app_demo.rs; i18n.test.mjs: the
# pages in every language on a 360 px phone, and the branding).
#
# Needs the server already built (`cargo build -p alexa-link-server`, or set
# ALEXA_LINK_SERVER_BIN); the only Rust it builds is the App-to-App demo
# example (test-support code, so never part of the server binary), unless
# A2A_DEMO_BIN names one.
# Env passed through to the test: ALEXA_LINK_SERVER_BIN, A2A_DEMO_BIN,
# CHROMIUM, BROWSER_ARTIFACTS (screenshots; default: the temp dir),
# SCREENSHOTS_DIR (i18n.test.mjs also writes the README's screenshots there:
# SCREENSHOTS_DIR=$PWD/docs/screenshots tests/browser/run.sh).
set -euo pipefail

# Work from this script's folder whatever the caller's current directory,
# so the relative paths (package.json, default server binary) resolve.
cd "$(dirname "${BASH_SOURCE[0]}")"

# The browser: Debian's chromium. playwright-core never downloads browsers,
# and no other browser source is reachable, so install the distro package
# if it is missing (needs root, as on CI and the dev machines).
if [[ -z "${CHROMIUM:-}" ]] && ! command -v chromium >/dev/null 2>&1; then
  echo "run.sh: installing chromium from Debian" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

# Fonts for the scripts the pages are translated into that Debian's
# default font (DejaVu: Latin, Arabic) lacks: Devanagari (Hindi) and
# Japanese. Small packages; without them the screenshots show boxes.
if command -v fc-list >/dev/null 2>&1 && { [[ -z "$(fc-list :lang=hi family)" ]] || [[ -z "$(fc-list :lang=ja family)" ]]; }; then
  echo "run.sh: installing fonts-lohit-deva and fonts-vlgothic from Debian" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-lohit-deva fonts-vlgothic
fi

# The driver: playwright-core at the version pinned in package-lock.json.
# Reinstall only when node_modules is missing or older than the lockfile,
# so repeated runs stay fast and offline.
if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund
  # npm ci recreates node_modules; touch it so the check above sees it as
  # up to date even if the lockfile's mtime is in the future.
  touch node_modules
fi

if [[ -z "${A2A_DEMO_BIN:-}" ]]; then
  (cd ../.. && cargo build -q -p alexa-link-server --features test-support --example app_to_app_demo)
fi

# The test itself (node's built-in runner); `exec` hands its exit code to
# the caller unchanged.
exec node --test --test-reporter=spec linking.test.mjs backends.test.mjs app_to_app.test.mjs i18n.test.mjs
