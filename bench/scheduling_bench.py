"""Scheduling benchmarks: booking under contention, and assignment decision latency. Prints one JSON object.

Runs on its own PostgreSQL database (created and dropped here; BENCH_ADMIN_URL points at the server):
1. 32 concurrent clients (threads, each with its own connection) book 1,000 slots through
   `booking_create` until every slot is taken: bookings/s, 409s, and double bookings (must be 0);
   baseline: one client booking 200 slots alone in the same run.
2. 500 experts and 10,000 open consultations: p50/p99 of the assignment decision (the candidates
   query) and of a whole `assignment_request`, against the p50/p99 of a single indexed query over
   the same consultations table (an expert's open-case count), reported as ratios.
Bounded to about two minutes on a busy two-core machine.
"""
import datetime as dt
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import admin_sql, log, percentile, setup_django_on_fresh_database  # noqa: E402  (bench/, beside this file)

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = "tc_bench_sched"
CLIENTS, SLOTS, BASELINE_SLOTS = 32, 1000, 200
EXPERTS, OPEN_CONSULTATIONS, SAMPLES = 500, 10_000, 300


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# --- fixtures -------------------------------------------------------------------------------
def make_community(n_villages: int):
    from directory.models import Organisation, Specialty

    lead = Organisation.objects.create(code="lead", name="县人民医院", kind="lead_hospital")
    town = Organisation.objects.create(code="town", name="镇卫生院", kind="township_centre", parent=lead)
    villages = [Organisation.objects.create(code=f"v{i}", name=f"村{i}", kind="village_clinic", parent=town)
                for i in range(n_villages)]
    return lead, villages, Specialty.objects.create(code="cardiology", name="心血管内科")


def make_experts(lead, specialty, count: int):
    from directory.models import Expert, User

    users = User.objects.bulk_create([User(username=f"expert{i}", role="expert", organisation=lead)
                                      for i in range(count)])
    experts = Expert.objects.bulk_create([Expert(user=u, max_open_assignments=40, on_call=(i % 3 == 0))
                                          for i, u in enumerate(users)])
    Expert.specialties.through.objects.bulk_create(
        [Expert.specialties.through(expert_id=e.pk, specialty_id=specialty.pk) for e in experts])
    return experts


def make_slots(expert, specialty, lead, count: int, offset_days: int):
    from scheduling.models import CloudClinicSession, Roster, Slot

    roster = Roster.objects.create(expert=expert, specialty=specialty, organisation=lead, weekdays=[1],
                                   start_time=dt.time(8), end_time=dt.time(12), slot_minutes=10, capacity=20,
                                   valid_from=dt.date.today(), created_by=expert.user)
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=offset_days)).replace(microsecond=0)
    ids = []
    for s in range(count // 20):
        session = CloudClinicSession.objects.create(
            roster=roster, expert=expert, specialty=specialty, organisation=lead,
            starts_at=start + dt.timedelta(hours=4 * s), ends_at=start + dt.timedelta(hours=4 * s + 4))
        rows = Slot.objects.bulk_create([
            Slot(session=session, starts_at=session.starts_at + dt.timedelta(minutes=10 * i),
                 ends_at=session.starts_at + dt.timedelta(minutes=10 * (i + 1))) for i in range(20)])
        ids += [r.pk for r in rows]
    return ids


# --- 1. booking under contention -----------------------------------------------------------
def bench_booking(lead, villages, specialty, expert) -> dict:
    from django.db import connection, connections

    from directory.models import Patient, User
    from scheduling.services import SlotTaken, booking_create

    doctors = [User.objects.create(username=f"vdoc{i}", role="village_doctor", organisation=villages[i])
               for i in range(CLIENTS)]
    patients = [Patient.objects.create(name=f"患者{i}", sex="F", birth_date=dt.date(1960, 1, 1),
                                       home_clinic=villages[i], health_record_no=f"B-{i}") for i in range(CLIENTS)]

    # baseline: one client alone, 200 slots
    base_slots = make_slots(expert, specialty, lead, BASELINE_SLOTS, offset_days=30)
    t0 = time.perf_counter()
    for slot_id in base_slots:
        booking_create(slot_id=slot_id, patient_id=patients[0].pk, by=doctors[0])
    baseline_rate = BASELINE_SLOTS / (time.perf_counter() - t0)

    slot_ids = make_slots(expert, specialty, lead, SLOTS, offset_days=2)
    remaining, lock = set(slot_ids), threading.Lock()
    counts = {"won": 0, "conflict": 0, "error": 0}
    start = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        rng = random.Random(i)
        try:
            for _ in range(100):  # the server is shared: wait for a free connection before the start
                try:
                    connection.ensure_connection()
                    break
                except Exception:  # noqa: BLE001 - "too many clients"; retried
                    time.sleep(0.2)
            start.wait()
            while True:
                with lock:
                    if not remaining:
                        return
                    slot_id = rng.choice(tuple(remaining))
                try:
                    booking_create(slot_id=slot_id, patient_id=patients[i].pk, by=doctors[i])
                    outcome = "won"
                except SlotTaken:
                    outcome = "conflict"
                except Exception as exc:  # noqa: BLE001 - counted, shown on stderr
                    log("booking error:", repr(exc))
                    outcome = "error"
                with lock:
                    counts[outcome] += 1
                    remaining.discard(slot_id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM (SELECT slot_id FROM scheduling_booking WHERE status IN "
                    "('booked','arrived') GROUP BY slot_id HAVING count(*) > 1) d")
        doubles = cur.fetchone()[0]
        cur.execute("SELECT count(DISTINCT slot_id) FROM scheduling_booking WHERE slot_id = ANY(%s)", [slot_ids])
        booked_slots = cur.fetchone()[0]
    return {
        "clients": CLIENTS, "slots": SLOTS, "slots_booked": booked_slots, "bookings_won": counts["won"],
        "conflicts_409": counts["conflict"], "errors": counts["error"], "double_bookings": doubles,
        "seconds": round(elapsed, 3), "bookings_per_s": round(counts["won"] / elapsed, 1),
        "baseline_single_client_bookings_per_s": round(baseline_rate, 1),
    }


# --- 2. assignment decision latency --------------------------------------------------------
def bench_assignment(lead, villages, specialty) -> dict:
    from django.db import connection
    from django.utils import timezone

    from consult.models import Consultation
    from directory.models import Patient, User
    from scheduling.models import CloudClinicSession, Roster
    from scheduling.services import assignment_request
    from scheduling.services.assignments import OPEN_WORK, candidates

    experts = make_experts(lead, specialty, EXPERTS)
    now = timezone.now()
    roster = Roster.objects.create(expert=experts[0], specialty=specialty, organisation=lead, weekdays=[1],
                                   start_time=dt.time(8), end_time=dt.time(12), slot_minutes=10, capacity=20,
                                   valid_from=dt.date.today(), created_by=experts[0].user)
    # a third on call, a third in a cloud-clinic session now, a third off duty
    CloudClinicSession.objects.bulk_create([
        CloudClinicSession(roster=roster, expert=e, specialty=specialty, organisation=lead,
                           starts_at=now - dt.timedelta(hours=1, seconds=i), ends_at=now + dt.timedelta(hours=3))
        for i, e in enumerate(experts) if i % 3 == 1])
    doctor = User.objects.create(username="requester", role="village_doctor", organisation=villages[0])
    patients = Patient.objects.bulk_create([
        Patient(name=f"p{i}", sex="M", birth_date=dt.date(1950, 1, 1), home_clinic=villages[i % len(villages)],
                health_record_no=f"A-{i}") for i in range(3000)])
    rng = random.Random(7)
    rows = []
    for i in range(OPEN_CONSULTATIONS):
        assigned = i % 5 != 0  # 8,000 being read, 2,000 waiting for an expert
        rows.append(Consultation(
            patient=patients[i % len(patients)], requesting_org_id=patients[i % len(patients)].home_clinic_id,
            requested_by=doctor, specialty=specialty, urgency=rng.choice(["stat", "urgent", "routine"]),
            reason="bench", state="assigned" if assigned else "requested",
            assigned_expert=rng.choice(experts) if assigned else None))
    Consultation.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: visibility map set, stats fresh
    waiting = list(Consultation.objects.filter(state="requested").order_by("pk")[:SAMPLES * 2])

    def timed(fn, n):
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t0)
        return out

    # warm the plans and caches equally for every measurement
    candidates(consultation=waiting[0], now=now).first()
    decision = timed(lambda i: candidates(consultation=waiting[i], now=timezone.now()).first(), SAMPLES)
    baseline = timed(lambda i: Consultation.objects.filter(
        assigned_expert_id=experts[i % EXPERTS].pk, state__in=OPEN_WORK).count(), SAMPLES)
    whole = timed(lambda i: assignment_request(consultation_id=waiting[SAMPLES + i].pk), SAMPLES)
    p = {name: (percentile(v, 0.5), percentile(v, 0.99)) for name, v in
         (("decision", decision), ("baseline", baseline), ("request", whole))}
    return {
        "experts": EXPERTS, "open_consultations": Consultation.objects.exclude(state="closed").count(),
        "samples": SAMPLES,
        "decision_p50_ms": ms(p["decision"][0]), "decision_p99_ms": ms(p["decision"][1]),
        "assignment_request_p50_ms": ms(p["request"][0]), "assignment_request_p99_ms": ms(p["request"][1]),
        "baseline_indexed_count_p50_ms": ms(p["baseline"][0]), "baseline_indexed_count_p99_ms": ms(p["baseline"][1]),
        "decision_vs_baseline_p50_ratio": round(p["decision"][0] / p["baseline"][0], 1),
        "decision_vs_baseline_p99_ratio": round(p["decision"][1] / p["baseline"][1], 1),
    }


def main() -> None:
    started = time.perf_counter()
    setup_django_on_fresh_database(ADMIN_URL, BENCH_DB)
    try:
        from directory.models import Expert, User

        lead, villages, specialty = make_community(CLIENTS)
        booking_expert = Expert.objects.create(
            user=User.objects.create(username="booked-expert", role="expert", organisation=lead))
        booking_expert.specialties.add(specialty)
        log("booking under contention ...")
        booking = bench_booking(lead, villages, specialty, booking_expert)
        log("assignment decision latency ...")
        assignment = bench_assignment(lead, villages, specialty)
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    print(json.dumps({"bench": "scheduling", "database": "postgresql", "booking_contention": booking,
                      "assignment_decision": assignment, "total_seconds": round(time.perf_counter() - started, 1)},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
