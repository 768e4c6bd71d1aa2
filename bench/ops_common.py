"""What the ops benchmarks share: their own database (tc_bench_ops), seeding, one Daphne process.

Not a benchmark itself (run_all.sh runs bench/*_bench.py). Every target is on 127.0.0.1.
"""
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from common import free_port  # noqa: F401  (bench/, beside this file; the ops benchmarks call ops_common.free_port)

ROOT = Path(__file__).resolve().parent.parent
# Several engineers share the machine: with CHANNEL_PREFIX/REDIS_URL set (as for their tests), the
# bench takes a database of its own and their Redis db, and leaves that db's other keys alone.
_OWNER = "".join(ch for ch in os.environ.get("CHANNEL_PREFIX", "") if ch.isalnum()).lower()
BENCH_DB = os.environ.get("BENCH_OPS_DB", "tc_bench_ops" + (f"_{_OWNER}" if _OWNER else ""))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DATABASE_URL = f"{SERVER}/{BENCH_DB}"
_DEDICATED_REDIS = "BENCH_REDIS_URL" in os.environ or not os.environ.get("REDIS_URL")
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"
PREFIX = f"benchops{_OWNER}"


def session_cookie(user) -> str:
    """A logged-in session for `user` (Django's session store, as a login makes), as a Cookie header value."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                  HASH_SESSION_KEY: user.get_session_auth_hash()})
    store.create()
    return f"sessionid={store.session_key}"


def seed_village_doctor(prefix: str):
    """A lead hospital, a village clinic under it and the clinic's doctor (codes and username start with
    `prefix`): (the village clinic, the doctor's API token)."""
    from rest_framework.authtoken.models import Token

    from directory.models import Organisation, User

    lead = Organisation.objects.create(code=f"{prefix}-lead", name="县医院", kind=Organisation.Kind.LEAD_HOSPITAL)
    village = Organisation.objects.create(code=f"{prefix}-vil", name="村卫生室", kind=Organisation.Kind.VILLAGE_CLINIC,
                                          parent=lead)
    doctor = User.objects.create_user(f"{prefix}-doc", password="x", role=User.Role.VILLAGE_DOCTOR,
                                      organisation=village)
    return village, Token.objects.create(user=doctor).key


def seed_rooms_of_3(rooms: int) -> list[tuple[int, list[str]]]:
    """`rooms` open live rooms, each with its 3 staff admitted (the village doctor hosting, the
    assigned expert, a second expert): per room, (room id, the 3 session cookies)."""
    from consult.models import Consultation
    from directory.models import Expert, Organisation, Patient, Specialty, User
    from live.models import Participant
    from live.services import rooms as room_services
    from django.utils import timezone

    from scheduling.models import Assignment

    lead = Organisation.objects.create(code="bench-lead", name="县医院", kind="lead_hospital")
    village = Organisation.objects.create(code="bench-vil", name="村卫生室", kind="village_clinic", parent=lead)
    specialty = Specialty.objects.create(code="cardiology", name="心血管内科")

    def user(name: str, role: str, org) -> User:
        return User.objects.create_user(name, password=None, role=role, organisation=org)  # unusable: fast

    seeded = []
    for n in range(rooms):
        doctor = user(f"vdoc{n}", "village_doctor", village)
        experts = [user(f"exp{n}-{k}", "expert", lead) for k in range(2)]
        expert = Expert.objects.create(user=experts[0])
        second = Expert.objects.create(user=experts[1])
        patient = Patient.objects.create(name=f"患者{n}", sex="F", birth_date="1960-01-01", home_clinic=village,
                                         health_record_no=f"B-{n}")
        consultation = Consultation.objects.create(patient=patient, requesting_org=village, requested_by=doctor,
                                                   specialty=specialty, mode="live", reason="bench",
                                                   assigned_expert=expert)
        # the second expert may be in the room only while they may see the case: an open offer (issue 13)
        Assignment.objects.create(consultation=consultation, expert=second,
                                  expires_at=timezone.now() + dt.timedelta(hours=1))
        room, _ = room_services.room_open(by=doctor, consultation_id=consultation.pk)
        Participant.objects.create(room=room, user=experts[1], role="second_expert", state="admitted",
                                   display_name=str(experts[1]))
        seeded.append((room.pk, [session_cookie(u) for u in (doctor, *experts)]))
    return seeded


def bench_env() -> dict:
    return dict(os.environ, DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, CHANNEL_PREFIX=PREFIX,
                DJANGO_SETTINGS_MODULE="teleclinic.settings", PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING")


def setup_django() -> None:
    """Recreate the bench database, migrate it and set Django up in this process on it."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ.update(bench_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    import redis

    if _DEDICATED_REDIS:  # a db of the bench's own; a borrowed one keeps its keys (own channel prefix)
        redis.Redis.from_url(REDIS_URL).flushdb()


def many_clients_process() -> None:
    """This bench process holds hundreds of simulated clients' sockets: CPython's default garbage
    collection would stop its loop 50-130 ms at a time (measured), and every client's receipt in that
    time would count as server latency. It collects as the serving processes do (ASGI_GC_THRESHOLDS,
    teleclinic/gc_tuning.py)."""
    from teleclinic.gc_tuning import collect_less_often

    collect_less_often()


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


@contextmanager
def daphne_process(log_path: Path, app: str = "teleclinic.asgi:application", **env):
    """One Daphne process on the bench database (serving `app`, with `env` added); yields it, with
    its `port`."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), app]
    with open(log_path, "w") as out:
        # DB_POOL: connections from a pool, as scripts/scaled.sh and docker-compose.yml run Daphne
        proc = subprocess.Popen(command, cwd=ROOT, env={**bench_env(), "DB_POOL": os.environ.get("DB_POOL", "true"),
                                                        **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Daphne did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
        proc.port = port
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def percentiles(samples_ms: list[float]) -> dict:
    if not samples_ms:
        return {"n": 0}
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1], 2), "mean_ms": round(statistics.fmean(ordered), 2)}


def machine(load_before: tuple[float, ...] | None = None) -> dict:
    """The machine a run shared: its CPUs and load (with `load_before`, the load at the run's start and end)."""
    if load_before is None:
        return {"cpus": os.cpu_count(), "loadavg_1m_at_start": round(os.getloadavg()[0], 2)}
    return {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load_before],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}


class CpuMeter:
    """CPU use of some processes from now until read(): busy, and waiting for a CPU (runnable but
    not running: another user's load on the shared machine, not our code), in % of one core."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.began = time.monotonic()
        self.before = {name: (_cpu_s(pid), _runqueue_wait_s(pid)) for name, pid in pids.items()}

    def read(self) -> dict:
        wall = time.monotonic() - self.began
        out = {}
        for name, pid in self.pids.items():
            cpu, wait = self.before[name]
            out[f"{name}_cpu_s"] = round(_cpu_s(pid) - cpu, 2)
            out[f"{name}_cpu_percent"] = round(100 * (_cpu_s(pid) - cpu) / wall, 1)
            out[f"{name}_waiting_for_cpu_percent"] = round(100 * (_runqueue_wait_s(pid) - wait) / wall, 1)
        return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _runqueue_wait_s(pid: int) -> float:
    """Seconds the process's threads have waited on a run queue (schedstat field 2, summed)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError):
            pass  # a thread that ended meanwhile
    return total / 1e9
