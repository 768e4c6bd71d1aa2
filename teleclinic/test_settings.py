"""Settings for the test suite: the machine's real PostgreSQL and Redis unless overridden.

Set DATABASE_URL / REDIS_URL to run several suites side by side (a database name and a
Redis db index each).
"""
import os

# The tests' own role and database, made by scripts/ensure-services.sh (`make test`) whatever the local auth.
os.environ.setdefault("DATABASE_URL", "postgres://teleclinic:teleclinic@127.0.0.1:5432/teleclinic")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

from .settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
