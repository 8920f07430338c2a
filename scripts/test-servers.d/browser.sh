#!/usr/bin/env bash
# Installs what the portal's browser tests need: Debian's Chromium (driven by playwright-core; no browser
# download happens, the tests use /usr/bin/chromium). Idempotent.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
