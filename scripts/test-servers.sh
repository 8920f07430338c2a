#!/usr/bin/env bash
# Makes sure the servers the integration tests talk to are installed and running.
# Each helper below is idempotent: it does nothing when the server is already there.
set -euo pipefail
for script in "$(dirname "$0")"/test-servers.d/*.sh; do
  if [ -e "$script" ]; then bash "$script"; fi
done
