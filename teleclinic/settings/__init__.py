"""Settings, driven by environment variables (django-environ).

With nothing set you get the embedded default: SQLite, the in-memory channel layer,
Celery tasks run in-process, files in ./var/media. Set DATABASE_URL and REDIS_URL for
the production stack (PostgreSQL, Redis channel layer, Celery on Redis).
"""
from .base import *  # noqa: F401,F403  Django's own settings and the shared services (database, Redis, Celery, ...)
from .domain import *  # noqa: F401,F403  the apps' own settings (scheduling, reports, record, studies, live)
