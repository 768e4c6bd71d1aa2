#!/usr/bin/env bash
# The JavaScript clients the tests run unmodified against the server (tus-js-client), pinned by
# tests/js/package-lock.json and installed into tests/js/node_modules (ignored by git) when missing
# or when the lock file changed since the last install. Needs node and npm (install-system-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/../tests/js"

stamp=node_modules/.package-lock.json  # npm writes it on every install: newer than the lock = up to date
if [ ! -e "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    echo "installing the tests' JavaScript clients (npm ci in tests/js)"
    npm ci --no-audit --no-fund --loglevel=error
fi
