"""What several in-process benchmarks share: a log on stderr, SQL on the PostgreSQL server (to create and drop
their own database), Django set up on a fresh bench database, the nearest-rank percentile, a free port.

Not a benchmark itself (run_all.sh runs bench/*_bench.py); imported as `common` from bench/, beside it.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for tests.ports
from tests.ports import free_port  # noqa: E402,F401  (re-exported: the benchmarks import it from here)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def admin_sql(admin_url: str, statement: str) -> None:
    """One statement on the server's maintenance database, outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)


def setup_django_on_fresh_database(admin_url: str, bench_db: str) -> None:
    """Drop and create `bench_db` on `admin_url`'s server, set Django up on it in this process and migrate."""
    assert bench_db.startswith("tc_bench"), "refusing to run on a database that is not a bench database"
    admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
    admin_sql(admin_url, f'CREATE DATABASE "{bench_db}"')
    os.environ["DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + bench_db
    os.environ.pop("REDIS_URL", None)  # in-memory channel layer: live events go nowhere, cheaply
    os.environ["CELERY_BROKER_URL"] = "memory://"  # timers are queued, never run: no eager side work
    os.environ["DJANGO_SETTINGS_MODULE"] = "teleclinic.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    assert connection.settings_dict["NAME"] == bench_db
    call_command("migrate", verbosity=0, stdout=sys.stderr)


def percentile(values, fraction: float) -> float:
    """The nearest-rank percentile: `fraction` 0.95 for p95."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
