"""The apps' own settings: scheduling, reports, the patient record, studies, live rooms."""
from .base import REDIS_URL, VAR_DIR, env

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
