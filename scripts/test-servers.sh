#!/usr/bin/env bash
# Makes sure the servers the integration tests talk to are installed and running.
# Each helper in test-servers.d/ is idempotent: it does nothing when its server is already there.
set -euo pipefail

for helper in "$(dirname "$0")"/test-servers.d/*.sh; do
  [ -e "$helper" ] || continue
  bash "$helper"
done
