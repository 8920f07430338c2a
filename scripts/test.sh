#!/usr/bin/env bash
# The whole test suite: installs and starts what the integration tests need, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund
bash scripts/test-servers.sh
npx tsc -p tsconfig.json --noEmit
# The crash-safety test kills the compiled CLI (dist/): build it from the sources under test.
npm run build --silent
npx vitest run "$@"
