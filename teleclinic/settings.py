"""Settings, driven by environment variables (django-environ).

With nothing set you get the embedded default: SQLite, the in-memory channel layer,
Celery tasks run in-process, files in ./var/media. Set DATABASE_URL and REDIS_URL for
the production stack (PostgreSQL, Redis channel layer, Celery on Redis).
"""
from pathlib import Path
import secrets

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
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

# --- scheduling (issue 3): offers, turnaround targets, rolling roster window ----
# How long an on-demand offer waits for the expert before it goes to the next one, by urgency
# (seconds). A stat case (critical ECG) cannot wait for a busy expert longer than two minutes.
SCHEDULING_OFFER_TIMEOUTS = {
    "stat": env.int("SCHEDULING_OFFER_STAT_SECONDS", default=120),
    "urgent": env.int("SCHEDULING_OFFER_URGENT_SECONDS", default=15 * 60),
    "routine": env.int("SCHEDULING_OFFER_ROUTINE_SECONDS", default=4 * 3600),
}
# Turnaround targets (seconds from the request) that set a consultation's due_at when an
# expert takes it, unless the consultation already carries one. The worklist flags overdue.
SCHEDULING_TURNAROUND = {"stat": 30 * 60, "urgent": 4 * 3600, "routine": 72 * 3600}
# Sessions are generated from rosters this many days ahead (re-run hourly by beat).
SCHEDULING_ROLLING_DAYS = env.int("SCHEDULING_ROLLING_DAYS", default=28)

# --- operations and security (issue 8; docs/security.md) ----------------------
# Login throttling (teleclinic/ratelimit.py): failures per username + client IP, counted in the
# cache (Redis when REDIS_URL is set, so every Daphne process shares the count).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)  # seconds
# Rotating SECRET_KEY: put the old key here (comma-separated) for as long as the sessions and
# password-reset links signed with it should stay valid; see docs/security.md.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# --- reports (issue 6): delivery of signed reports back to the village clinic --------
# Outbound messages besides the live socket: "email" (Django's e-mail backend) and/or "sms".
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))  # for the file backend
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="teleclinic@localhost")
REPORTS_OUTBOUND_CHANNELS = env.list("REPORTS_OUTBOUND_CHANNELS", default=["email"])
# The SMS gateway: any class with send(*, phone, text); the console one prints to stdout.
REPORTS_SMS_BACKEND = env.str("REPORTS_SMS_BACKEND", default="reports.outbound.ConsoleSmsBackend")
# 危急值 closed loop: a critical report unacknowledged this long is escalated to the coordinators.
REPORTS_CRITICAL_ACK_MINUTES = env.float("REPORTS_CRITICAL_ACK_MINUTES", default=15)
# The sweeper re-enqueues an outbox row still pending this long after signing (a lost task,
# a killed worker: Redis only hands an unacknowledged task back after the visibility timeout).
REPORTS_DELIVERY_STALE_SECONDS = env.float("REPORTS_DELIVERY_STALE_SECONDS", default=30)
# Where the PDF renderer gets the ECG trace / key images of a study_ref: a dotted path to a
# function (study_ref) -> (EcgTrace | None, [png bytes]); the studies app's reads the stored study.
REPORTS_STUDY_LOADER = env.str("REPORTS_STUDY_LOADER", default="studies.report_inputs.load_report_inputs")
# (report=, study_ref=): links a new report to the stored study its study_ref names by foreign key
# (studies.ReportStudy), refusing one that names nothing or another patient's or consultation's study
# (reports/study_inputs.py link_study_ref).
REPORTS_STUDY_LINK = "studies.report_inputs.link_report_study"
# (version=): fixes, in the signing transaction, what the signed version's PDF shows of its study (the key images
# chosen then, studies.SignedKeyImage): the PDF is rendered later by a task (reports/study_inputs.py).
REPORTS_STUDY_FREEZE = "studies.report_inputs.freeze_report_inputs"
# (study_ref, consultation id) -> whether the study was attached to that consultation from the patient's record
# (records.models.AttachedStudy, issue 17): a report of the consultation may then read it.
REPORTS_STUDY_ATTACHED = "records.selectors.study_attached"
REPORTS_PATIENT_LINK_MAX_HOURS = env.int("REPORTS_PATIENT_LINK_MAX_HOURS", default=24 * 30)
# SMTP, when EMAIL_BACKEND is django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)  # a hung mail server must not hold a delivery forever

# --- the patient record (issue 17): who reads it (directory/access.py RECORD_ACCESS), results recognised
# An expert reads the whole record of a patient while a case of theirs is open and this many days after it ends.
RECORD_EXPERT_GRACE_DAYS = env.int("RECORD_EXPERT_GRACE_DAYS", default=30)
# A referral's receiving coordinators and slot expert read the record this many days after it ends.
RECORD_REFERRAL_GRACE_DAYS = env.int("RECORD_REFERRAL_GRACE_DAYS", default=30)
# A break-glass (emergency) read opens the record to its reader for this long.
RECORD_BREAK_GLASS_HOURS = env.float("RECORD_BREAK_GLASS_HOURS", default=4)
# Break-glass grants one user may take in 24 hours: an emergency is rare; more answers 429 (ask a coordinator).
RECORD_BREAK_GLASS_PER_DAY = env.int("RECORD_BREAK_GLASS_PER_DAY", default=5)
# A new consultation is told of a study of the kind it asks for that the record holds from this many days back.
RECORD_RECOGNISE_DAYS = env.int("RECORD_RECOGNISE_DAYS", default=30)

# --- studies (uploads, ingest, ECG critical values) --------------------------
# tus uploads: a declared Upload-Length above this is refused with 413 at creation.
STUDIES_MAX_UPLOAD_BYTES = env.int("STUDIES_MAX_UPLOAD_BYTES", default=512 * 1024 * 1024)
# An unfinished upload expires (410) this long after creation; beat purges its bytes.
STUDIES_UPLOAD_EXPIRY_SECONDS = env.int("STUDIES_UPLOAD_EXPIRY_SECONDS", default=24 * 3600)
# Ingest runs in a Celery pool process under an address-space budget (RLIMIT_AS, see
# studies/limits.py) and a soft time limit (hard limit 30 s later), so a hostile file
# can neither exhaust memory nor hang a worker.
STUDIES_INGEST_MEMORY_MB = env.int("STUDIES_INGEST_MEMORY_MB", default=1536)
STUDIES_INGEST_SOFT_TIME_LIMIT = env.int("STUDIES_INGEST_SOFT_TIME_LIMIT", default=120)
# A received upload not ingested this long is re-enqueued by beat's sweep (studies/schedules.py);
# above the soft time limit, so a slow but running ingest is rarely started twice (harmless if it is).
STUDIES_INGEST_STALE_SECONDS = env.int("STUDIES_INGEST_STALE_SECONDS", default=150)
# ECG critical values (issue 4): rate < 40 or > 150 bpm, QTc > 500 ms, irregular + rapid; and the
# rhythm criteria of issue 15 (studies/formats/ecg/rhythm.py decides the rhythm): AF or flutter with
# a ventricular rate > 110, a run of >= 3 ventricular beats faster than 100/min, complete AV block,
# a pause >= 3 s. Any of these raises the consultation to stat.
STUDIES_ECG_CRITICAL = {
    "min_rate_bpm": env.float("ECG_CRITICAL_MIN_RATE", default=40.0),
    "max_rate_bpm": env.float("ECG_CRITICAL_MAX_RATE", default=150.0),
    "max_qtc_ms": env.float("ECG_CRITICAL_MAX_QTC", default=500.0),
    "irregular_nrmssd": env.float("ECG_CRITICAL_IRREGULAR_NRMSSD", default=0.10),
    "irregular_rapid_rate_bpm": env.float("ECG_CRITICAL_IRREGULAR_RATE", default=110.0),
    "af_rvr_rate_bpm": env.float("ECG_CRITICAL_AF_RATE", default=110.0),
    "vt_run_beats": env.int("ECG_CRITICAL_VT_RUN_BEATS", default=3),
    "long_pause_ms": env.float("ECG_CRITICAL_PAUSE_MS", default=3000.0),
    "complete_av_block": env.bool("ECG_CRITICAL_COMPLETE_AV_BLOCK", default=True),
}
# Browser origins other than our own allowed to run tus uploads (tus-js-client on another host).
STUDIES_CORS_ORIGINS = env.list("STUDIES_CORS_ORIGINS", default=[])

# --- live rooms (live/): ICE, TURN, relay placement, links ----------------------
# ICE servers handed to the relay and to browsers, as RTCIceServer dicts, e.g.
# '[{"urls": ["stun:stun.example.cn:3478"]}]'. Empty means host candidates only: aiortc
# would otherwise ask a public STUN server, which a hospital network cannot reach.
RTC_ICE_SERVERS = env.json("RTC_ICE_SERVERS", default=[])
# Offer a 127.0.0.1 candidate from the relay (tests; Chromium needs
# --allow-loopback-in-peer-connection). Never in production.
RTC_LOOPBACK = env.bool("RTC_LOOPBACK", default=False)
# coturn with --use-auth-secret: browsers get "<expiry>:<user>" / base64(HMAC-SHA1) credentials
# valid for TURN_TTL seconds (coturn's TURN REST API scheme); nothing is stored.
TURN_SECRET = env.str("TURN_SECRET", default="")
TURN_URLS = env.list("TURN_URLS", default=[])
TURN_TTL = env.int("TURN_TTL", default=3600)
# "embedded": the web process hosts the relay (started on first use; the in-memory layer
# reaches nothing else). "workers": `manage.py relay_worker` processes over the Redis layer.
LIVE_RELAY_MODE = env.str("LIVE_RELAY_MODE", default="workers" if REDIS_URL else "embedded")
# A relay worker beats every LIVE_RELAY_HEARTBEAT s; one silent for LIVE_RELAY_WORKER_TIMEOUT s
# (a kill -9, a crashed host) is dead: the live workers release its rooms and tell their clients
# to publish again, which places each room on a live worker. Short, because the call is frozen
# until then; a beat is one UPDATE, so beating every second costs nothing.
LIVE_RELAY_HEARTBEAT = env.float("LIVE_RELAY_HEARTBEAT", default=1.0)
LIVE_RELAY_WORKER_TIMEOUT = env.float("LIVE_RELAY_WORKER_TIMEOUT", default=4.0)
# Every this many seconds a serving process reads its rooms' last seq (one query) and sends a
# socket the events the channel layer lost and no later event revealed (live/resync.py).
ROOM_RESYNC_SECONDS = env.float("ROOM_RESYNC_SECONDS", default=2.0)
# The same for report arrivals on the notification sockets (notifications/consumers.py).
NOTIFY_RESYNC_SECONDS = env.float("NOTIFY_RESYNC_SECONDS", default=5.0)
LIVE_QUALITY_INTERVAL = env.float("LIVE_QUALITY_INTERVAL", default=2.0)  # relay quality reports, seconds
LIVE_JOIN_TOKEN_TTL = env.int("LIVE_JOIN_TOKEN_TTL", default=4 * 3600)  # a patient link: one clinic afternoon
# A media connection that stays `disconnected` this long is replaced by the page (it publishes again).
LIVE_MEDIA_RECONNECT_SECONDS = env.float("LIVE_MEDIA_RECONNECT_SECONDS", default=5.0)
LIVE_TICKET_TTL = 60  # a socket ticket: seconds between the page fetching it and the socket opening
# The room of a booked live consultation opens this long before its slot (beat, live/schedules.py):
# time for the village doctor to invite the patient and for the phone to pass its camera check.
LIVE_ROOM_OPEN_BEFORE_SECONDS = env.int("LIVE_ROOM_OPEN_BEFORE_SECONDS", default=300)
# Live ECG in a room (docs/signalling.md, "Live ECG"). A replay sends a chunk every
# LIVE_ECG_CHUNK_SECONDS: 4 a second keeps the trace smooth and is 4 small INSERTs a second.
LIVE_ECG_CHUNK_SECONDS = env.float("LIVE_ECG_CHUNK_SECONDS", default=0.25)
# A stream is cut at LIVE_ECG_MAX_SECONDS (a rhythm strip during a call, not a Holter): it bounds
# the rows it holds and the measurement of the study it becomes.
LIVE_ECG_MAX_SECONDS = env.int("LIVE_ECG_MAX_SECONDS", default=600)
# A device may run ahead of the wall clock by this much (clock drift, a resent backlog); more is refused.
LIVE_ECG_AHEAD_SECONDS = env.float("LIVE_ECG_AHEAD_SECONDS", default=10.0)
# A live stream silent this long (the sender's page gone for good, the process replaying it killed)
# is ended and saved by beat's sweep; a 4G drop shorter than this resumes where it was.
LIVE_ECG_IDLE_SECONDS = env.int("LIVE_ECG_IDLE_SECONDS", default=60)
# A socket that (re)joins during a stream first gets at most this much of what it missed.
LIVE_ECG_BACKFILL_SECONDS = env.float("LIVE_ECG_BACKFILL_SECONDS", default=30.0)
