"""Django's own settings and the services every app shares: database, Redis, Celery, auth and API,
i18n, files, security, logging. The environment (`env`) and the var/ directory are defined here."""
from pathlib import Path
import secrets

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent  # the checkout: teleclinic/settings/base.py
VAR_DIR = Path(environ.Env().str("TELECLINIC_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    REDIS_URL=(str, ""),
    SECURE=(bool, False),
)


def _secret_key() -> str:
    """SECRET_KEY from the environment; the embedded default keeps a generated one in var/."""
    if env.str("SECRET_KEY", default=""):
        return env.str("SECRET_KEY")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",  # must precede staticfiles so `runserver` is Daphne's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "directory",
    "audit",
    "consult",
    "scheduling",
    "studies",
    "live",
    "reports",
    "notifications",
    "records",
    "frontend",
    "oauth2_provider",  # OAuth2 client credentials of FHIR system clients (fhirapi/auth.py)
    "fhirapi",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "teleclinic.middleware.RejectNulBytesMiddleware",
    "teleclinic.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "teleclinic.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "teleclinic.middleware.SyncChainMiddleware",  # innermost: the chain above runs in sync mode, without hops
]

ROOT_URLCONF = "teleclinic.urls"
ASGI_APPLICATION = "teleclinic.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'teleclinic.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the Celery-eager web process and readers work side by side; the timeout
    # waits out a concurrent writer instead of failing with "database is locked". IMMEDIATE takes
    # the write lock when a transaction begins: a DEFERRED one that reads and then writes cannot be
    # granted the lock while another writer holds it, and SQLite fails it at once whatever the timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": env.int("SQLITE_TIMEOUT", default=30), "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"})
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # DB_POOL=true for the ASGI (Daphne) processes: a pool of open connections (psycopg_pool)
    # instead of a new connection for every database call. Under ASGI, Django runs each call in a
    # thread that may not live on, so persistent connections (CONN_MAX_AGE) would leak: Django's
    # docs recommend the driver's pool there. scripts/scaled.sh and docker-compose.yml set it.
    # Off by default: Celery workers and the test suite keep one connection per thread as before.
    if env.bool("DB_POOL", default=False) and DATABASES["default"]["CONN_MAX_AGE"] == 0:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2, "timeout": 20,  # a call waits this long for a free connection, then fails
            # every socket thread, plus Django's request threads and the authentication of sockets
            "max_size": env.int("DB_POOL_MAX_SIZE", default=env.int("SOCKET_DB_THREADS", default=8) + 8)}
# WebSocket consumers' database work (authentication, room events) runs on this many threads per
# ASGI process (teleclinic/socket_db.py): enough to keep PostgreSQL busy while some wait on it.
SOCKET_DB_THREADS = env.int("SOCKET_DB_THREADS", default=8)
# The ASGI processes' garbage collector thresholds (teleclinic/gc_tuning.py): collected far less
# often than CPython's (700, 10, 10), whose full collections held a 600-socket process 100 ms and
# more. Empty: CPython's thresholds.
ASGI_GC_THRESHOLDS = env.list("ASGI_GC_THRESHOLDS", cast=int, default=[50_000, 20, 20])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "directory.User"

# --- Redis: channel layer, cache, Celery broker -----------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    # The pub/sub layer: RedisChannelLayer drops silently past 100 queued messages per
    # process and its pool caps at 100 connections; the pub/sub layer held twice the
    # clients with no loss when measured here. What must not be lost goes through the DB.
    # The same Redis listed CHANNEL_LAYER_CONNECTIONS times: the layer keeps one connection per
    # listed host and sends one message at a time on each (a lock held for the whole round trip),
    # so one connection caps a process's fan-out; channels and groups are spread over the
    # connections by name, and all of them reach the same server, so any process finds them.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL] * env.int("CHANNEL_LAYER_CONNECTIONS", default=4),
                       "prefix": env.str("CHANNEL_PREFIX", default="tc")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "teleclinic.channel_layer.ThreadSafeInMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or env.str("CELERY_BROKER_URL", default=""))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# Late acknowledgement + reject on worker loss: a task whose worker is killed mid-run is
# delivered again; every task is written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="teleclinic")
CELERY_BEAT_SCHEDULE: dict = {}  # apps add their periodic tasks in their AppConfig.ready

# --- auth, API ------------------------------------------------------------
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# An API token (POST /api/auth/token/) is refused this long after it was issued; a new login gets a
# new one, and logout or a password change revokes it at once. 12 h: one working day of a script
# or viewer, so a leaked token is not good for ever.
API_TOKEN_TTL_SECONDS = env.int("API_TOKEN_TTL_SECONDS", default=12 * 3600)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "teleclinic.auth.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "teleclinic.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "teleclinic.api.Pagination",
    "PAGE_SIZE": 50,
}
# OAuth2 (django-oauth-toolkit) for FHIR system clients only: the client-credentials grant, one
# read scope; the token endpoint is /fhir/auth/token (fhirapi). Secrets are stored hashed.
OAUTH2_PROVIDER = {
    "SCOPES": {"system/*.read": "read every FHIR resource in the client's reach"},
    "DEFAULT_SCOPES": ["system/*.read"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("FHIR_TOKEN_TTL_SECONDS", default=3600),
    # RFC 9700 (OAuth 2.0 Security BCP): only client credentials are used here, so every legacy behaviour
    # is off: no implicit or password grant, tokens only in the Authorization header, stored hashed, ...
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOW_URI_WILDCARDS": False,
    "PKCE_REQUIRED": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Teleclinic API",
    "DESCRIPTION": "Remote consultation for county medical communities (医共体).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that several output serializers share (a session and an expert's calendar session),
    # and fields named alike in several models (`kind`), need one name each, or drf-spectacular warns
    # of a collision it cannot resolve by the component's name.
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "scheduling.models.Booking.Status",
        "DeclineCodeEnum": "scheduling.models.Assignment.DeclineCode",  # an offer's decline: `code` in, `decline_code` out
        "DeliveryStateEnum": "reports.models.Delivery.State",
        "ComputedSourceEnum": [("computed", "computed")],  # the ECG's computed statements and measurements
        "ReportKindEnum": "reports.models.Report.Kind",
        "SessionStateEnum": "scheduling.models.CloudClinicSession.State",
        "SlotKindEnum": "scheduling.models.Slot.Kind",
    },
}

# The site's public address (scheme://host[:port], no trailing path): the base of links that leave the
# site, such as the verification QR code on every report PDF. `manage.py rundemo` sets it to the
# address it prints when it is unset. REPORTS_PUBLIC_BASE_URL is its former name.
SITE_URL = env.str("SITE_URL", default=env.str("REPORTS_PUBLIC_BASE_URL", default="http://localhost:8000"))

# --- i18n: Chinese first, English second ------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- files ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing root
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step
# The OHIF Viewer's prebuilt files, installed by scripts/install-ohif.sh (not committed), served at /ohif/.
OHIF_ROOT = Path(env.str("OHIF_ROOT", default=str(BASE_DIR / "var" / "ohif")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

# --- security (production sets SECURE=true behind TLS) ----------------------
SECURE = env("SECURE")
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
# URLs we hand out (DICOMweb RetrieveURL and BulkDataURI, FHIR endpoints) are built from the request's
# host and port. Behind a proxy that rewrites Host (nginx's `$host` drops the port), set these so that
# the client's X-Forwarded-Host (and X-Forwarded-Port) are used; only when the proxy sets them itself.
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
USE_X_FORWARDED_PORT = env.bool("USE_X_FORWARDED_PORT", default=False)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}

# --- operations and security (issue 8; docs/security.md) ----------------------
# Login throttling (teleclinic/ratelimit.py): failures per username + client IP, counted in the
# cache (Redis when REDIS_URL is set, so every Daphne process shares the count).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)  # seconds
# Rotating SECRET_KEY: put the old key here (comma-separated) for as long as the sessions and
# password-reset links signed with it should stay valid; see docs/security.md.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
