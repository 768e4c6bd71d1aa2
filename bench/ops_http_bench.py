"""HTTP under 50 concurrent users against ONE Daphne process: patient search and the consultation
list (the worklist of a village clinic), with /healthz as the baseline measured in the same run.

Prints one JSON object. Bounded: ~15 s per target. Creates and drops its own database tc_bench_ops.
Env: BENCH_USERS (50), BENCH_SECONDS (15).
"""
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ops_common  # noqa: E402

USERS = int(__import__("os").environ.get("BENCH_USERS", "50"))
SECONDS = float(__import__("os").environ.get("BENCH_SECONDS", "15"))
PATIENTS, CONSULTATIONS = 5000, 2000


def seed() -> tuple[str, list[str]]:
    """The demo community plus 5,000 patients and 2,000 consultations in vdoc01's clinic."""
    import datetime as dt

    from rest_framework.authtoken.models import Token

    from consult.models import Consultation
    from directory import demo
    from directory.models import Patient, Specialty, User

    demo.seed()
    doctor = User.objects.get(username="vdoc01")
    rng = random.Random(8)
    Patient.objects.bulk_create([
        Patient(name=rng.choice(demo.SURNAMES) + rng.choice(demo.GIVEN[Patient.Sex.FEMALE]), sex=Patient.Sex.FEMALE,
                birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000)),
                phone=f"139{n:08d}", home_clinic=doctor.organisation, health_record_no=f"BENCH-{n:06d}")
        for n in range(PATIENTS)], batch_size=1000)
    patients = list(Patient.objects.filter(home_clinic=doctor.organisation).values_list("id", flat=True))
    cardiology = Specialty.objects.get(code="cardiology")
    Consultation.objects.bulk_create([
        Consultation(patient_id=rng.choice(patients), requesting_org=doctor.organisation, requested_by=doctor,
                     specialty=cardiology, reason="胸闷三天", urgency=rng.choice(["stat", "urgent", "routine"]))
        for _ in range(CONSULTATIONS)], batch_size=1000)
    token = Token.objects.get_or_create(user=doctor)[0].key
    return token, list(demo.SURNAMES[:20])


async def load(base: str, token: str, make_path, seconds: float) -> dict:
    import aiohttp

    latencies, statuses, stop_at = [], {}, time.monotonic() + seconds
    headers = {"Authorization": f"Token {token}"}
    connector = aiohttp.TCPConnector(limit=USERS)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def user(n: int):
            rng = random.Random(n)
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    async with session.get(make_path(rng)) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    status = type(exc).__name__
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[str(status)] = statuses.get(str(status), 0) + 1

        began = time.monotonic()
        await asyncio.gather(*(user(n) for n in range(USERS)))
        elapsed = time.monotonic() - began
    return {**ops_common.percentiles(latencies), "requests_per_s": round(len(latencies) / elapsed, 1),
            "statuses": statuses}


def main() -> None:
    ops_common.setup_django()
    started = time.monotonic()
    try:
        token, surnames = seed()
        with tempfile.TemporaryDirectory() as tmp, ops_common.daphne_process(Path(tmp) / "daphne.log") as daphne:
            base = f"http://127.0.0.1:{daphne.port}"
            targets = {
                "healthz_baseline": lambda rng: "/healthz",
                "patient_search": lambda rng: f"/api/patients/?q={rng.choice(surnames)}",
                "consultation_list": lambda rng: "/api/consultations/",
            }
            asyncio.run(load(base, token, targets["patient_search"], 2))  # warm-up
            results = {name: asyncio.run(load(base, token, path, SECONDS)) for name, path in targets.items()}
    finally:
        ops_common.drop_database()
    print(json.dumps({
        "bench": "ops_http", "concurrent_users": USERS, "seconds_per_target": SECONDS, "daphne_processes": 1,
        "data": {"patients_in_clinic": PATIENTS, "consultations_in_clinic": CONSULTATIONS, "page_size": 50},
        "note": "each search/list request also writes one audit row per listed record (up to 50)",
        "results": results, "baseline": results["healthz_baseline"], "machine": ops_common.machine(),
        "wall_s": round(time.monotonic() - started, 1),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
