#!/usr/bin/env bash
# Runs the real-browser end-to-end tests of the login and consent pages
# (linking.test.mjs with the --dev server; backends.test.mjs: one login per
# identity backend, using the slapd and oidc-provider scripts/test starts).
#
# Needs the server already built (`cargo build -p alexa-link-server`, or set
# ALEXA_LINK_SERVER_BIN); this script builds nothing in Rust.
# Env passed through to the test: ALEXA_LINK_SERVER_BIN, CHROMIUM,
# BROWSER_ARTIFACTS (screenshots; default: the temp dir).
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

# The driver: playwright-core at the version pinned in package-lock.json.
# Reinstall only when node_modules is missing or older than the lockfile,
# so repeated runs stay fast and offline.
if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund
  # npm ci recreates node_modules; touch it so the check above sees it as
  # up to date even if the lockfile's mtime is in the future.
  touch node_modules
fi

# The test itself (node's built-in runner); `exec` hands its exit code to
# the caller unchanged.
exec node --test --test-reporter=spec linking.test.mjs backends.test.mjs
