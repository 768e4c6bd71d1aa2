# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run test check install install-test system-deps services bench scaled

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	bash scripts/install-ohif.sh || echo "OHIF Viewer not installed (needs npm); the built-in viewer still works" >&2
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Debian packages first: a fresh machine may lack python3-venv, PostgreSQL, Redis, node...
install-test: system-deps $(VENV)/.installed-test
	bash scripts/install-test-js.sh

system-deps:
	bash scripts/install-system-deps.sh

## The whole system on its embedded default (SQLite, in-memory layer, in-process jobs), demo seeded.
run: install
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL $(PY) manage.py rundemo

## Install what the tests need, start PostgreSQL and Redis if down, run the whole suite.
test: install-test
	bash scripts/ensure-services.sh
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## The machine-checked contracts (pyproject.toml): ruff's rules, mypy on the apps, import-linter's contracts.
check: install-test
	$(VENV)/bin/ruff check .
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## Benchmarks: JSON figures with their baselines.
bench: install-test
	BENCH_DEPS=1 bash scripts/install-system-deps.sh
	bash scripts/ensure-services.sh
	bash bench/run_all.sh

## The scaled-out stack on this machine: 2 Daphne behind nginx, 2 Celery workers, beat (relay workers
## when present), on the machine's PostgreSQL and Redis. Prints the address; Ctrl-C stops it all.
scaled: install
	bash scripts/ensure-services.sh
	PYTHON=$(PY) bash scripts/scaled.sh
