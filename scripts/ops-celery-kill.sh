#!/usr/bin/env bash
# Issue 8's fault run at full size: kill -9 a Celery worker with 1,000 ingest/render/deliver tasks
# in flight, restart it, and assert every effect happened exactly once (tests/ops/test_celery_kill.py,
# which runs 200 in the suite). Prints the run's JSON line; exits non-zero if an assertion failed.
# Uses the suite's environment: DATABASE_URL (a test database is created from it), REDIS_URL, CHANNEL_PREFIX.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
OPS_CELERY_KILL_TASKS=${OPS_CELERY_KILL_TASKS:-1000} OPS_CELERY_KILL_DEADLINE_S=${OPS_CELERY_KILL_DEADLINE_S:-600} \
    "$PYTEST" -q -s -p no:cacheprovider tests/ops/test_celery_kill.py >"$out" 2>&1 || status=$?
grep '^{"test": "celery_kill"' "$out" || tail -40 "$out" >&2
exit $status
