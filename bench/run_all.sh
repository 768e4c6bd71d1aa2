#!/usr/bin/env bash
# Runs every benchmark under bench/; each prints one JSON object with its figures and baselines.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p bench/results
status=0
for script in bench/*_bench.py; do
    name=$(basename "$script" .py)
    echo "== $name" >&2
    if $PY "$script" > "bench/results/$name.json"; then
        cat "bench/results/$name.json"
    else
        echo "{\"bench\": \"$name\", \"error\": \"failed, see stderr\"}"
        status=1
    fi
done
exit $status
