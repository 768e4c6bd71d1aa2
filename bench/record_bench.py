"""Benchmark of the patient record page's API (issue 17); prints one JSON object.

One patient with 200 consultations, 500 studies (300 ECGs, 150 imaging studies, 50 photos) and
300 reports (one signed version each, 50 of them amended: 350 versions), 20 referrals and 40
follow-ups, among 100,000 patients whose other records fill the same tables (bulk_create seeding).
Timed: GET /api/records/patients/<id>/timeline/ (first page of 50, each row audited), the same
filtered to reports, and the tenth page by cursor, through Django's test client in this process,
as the patient's village doctor; p50/p95 over BENCH_RUNS requests each. Baseline in the same run:
one indexed primary-key read of a patient (Patient.objects.get(pk=...)). Goal: p95 < 150 ms.

Creates and drops its own PostgreSQL database tc_bench_record (or BENCH_DB; BENCH_PG, default
postgres://postgres@127.0.0.1:5432). Runtime: a few minutes, most of it seeding.
"""
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import admin_sql, percentile  # noqa: E402  (bench/, beside this file)
DB_NAME = os.environ.get("BENCH_DB", "tc_bench_record")  # one of its own for each person sharing a server
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
KEEP = os.environ.get("BENCH_KEEP") == "1"  # keep the seeded database, and use it again when it is there
PROFILE = os.environ.get("BENCH_PROFILE") == "1"  # print the timeline's cProfile to stderr
os.environ.update({
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "DJANGO_SETTINGS_MODULE": "teleclinic.settings",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
    "LOG_LEVEL": "WARNING",
})
os.environ.pop("REDIS_URL", None)  # in-memory channel layer and cache: the database is what is measured


def _ms(values: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(values) * 1000, 2), "p95_ms": round(percentile(values, 0.95) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2), "n": len(values)}


def _seed():
    """The community, 100,000 patients with a background of records, and the one patient with a long record."""
    from consult.models import Consultation
    from directory.models import Expert, Organisation, Patient, Specialty, User
    from reports.models import Delivery, Report, ReportVersion
    from scheduling.models import FollowUpTask, Referral
    from studies.models import EcgRecord, ImagingStudy, Photo, Series

    lead = Organisation.objects.create(code="lead", name="县人民医院", kind="lead_hospital")
    towns = [Organisation.objects.create(code=f"t{i}", name=f"镇{i}卫生院", kind="township_centre", parent=lead)
             for i in range(5)]
    villages = [Organisation.objects.create(code=f"v{i}", name=f"村{i}卫生室", kind="village_clinic",
                                            parent=towns[i % 5]) for i in range(50)]
    cardiology = Specialty.objects.create(code="cardiology", name="心血管内科")
    radiology = Specialty.objects.create(code="radiology", name="放射科")
    doctor = User.objects.create_user("vdoc", role="village_doctor", organisation=villages[0])
    tdoc = User.objects.create_user("tdoc", role="township_doctor", organisation=towns[0])
    expert_user = User.objects.create_user("expert", role="expert", organisation=lead)
    expert = Expert.objects.create(user=expert_user)
    expert.specialties.set([cardiology, radiology])
    batch = 5000
    Patient.objects.bulk_create(
        [Patient(name=f"患者{i}", sex="F" if i % 2 else "M", birth_date=dt.date(1940, 1, 1) + dt.timedelta(days=i % 25000),
                 id_number=f"430521{19400101 + i % 100:08d}{i % 10000:04d}", home_clinic=villages[i % 50],
                 health_record_no=f"HR-{i:07d}") for i in range(PATIENTS)], batch_size=batch)
    ids = list(Patient.objects.order_by("id").values_list("id", flat=True))
    target = Patient.objects.get(health_record_no="HR-0000000")  # of villages[0]: the doctor's patient
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    # the background: other patients' consultations, ECGs, imaging studies and reports
    others = ids[1:]
    cases = Consultation.objects.bulk_create(
        [Consultation(patient_id=others[i % len(others)], requesting_org=villages[i % 50], requested_by=doctor,
                      specialty=cardiology, reason="胸闷", state="closed", assigned_expert=expert)
         for i in range(50000)], batch_size=batch)
    EcgRecord.objects.bulk_create(
        [EcgRecord(patient_id=c.patient_id, consultation=c, source_format="csv", sampling_rate=500,
                   lead_names=["I"], n_samples=5000, samples_file="x.npz") for c in cases], batch_size=batch)
    ImagingStudy.objects.bulk_create(
        [ImagingStudy(study_instance_uid=f"2.25.1.{i}", patient_id=c.patient_id, consultation=c,
                      organisation=villages[0]) for i, c in enumerate(cases[:20000])], batch_size=batch)
    reports = Report.objects.bulk_create(
        [Report(consultation=c, kind="ecg", author=expert_user, state="signed", latest_version=1)
         for c in cases[:30000]], batch_size=batch)
    ReportVersion.objects.bulk_create(
        [ReportVersion(report=r, patient_id=r.consultation.patient_id, number=1, content={"conclusion": "正常"},
                       signed_by=expert_user,
                       signed_at=base, verification_code=f"B{r.pk:09d}") for r in reports], batch_size=batch)

    # the patient with the long record
    mine = Consultation.objects.bulk_create(
        [Consultation(patient=target, requesting_org=villages[0] if i % 2 else towns[0],
                      requested_by=doctor if i % 2 else tdoc, specialty=cardiology if i % 3 else radiology,
                      reason=f"第{i}次就诊", state="closed", assigned_expert=expert) for i in range(200)])
    for i, c in enumerate(mine):
        c.created_at = base + dt.timedelta(days=i)
    Consultation.objects.bulk_update(mine, ["created_at"])
    ecgs = [EcgRecord(patient=target, consultation=mine[i % 200], source_format="csv", sampling_rate=500,
                      lead_names=["I"], n_samples=5000, samples_file="x.npz") for i in range(300)]
    EcgRecord.objects.bulk_create(ecgs)
    studies = [ImagingStudy(study_instance_uid=f"2.25.2.{i}", patient=target, consultation=mine[i % 200],
                            organisation=towns[0], description="胸部CT") for i in range(150)]
    ImagingStudy.objects.bulk_create(studies)
    Series.objects.bulk_create([Series(series_instance_uid=f"2.25.3.{i}", study=s, modality="CT", series_number=1)
                                for i, s in enumerate(studies)])
    photos = [Photo(patient=target, consultation=mine[i % 200], file="p.jpg", media_type="image/jpeg", size=1)
              for i in range(50)]
    Photo.objects.bulk_create(photos)
    for i, row in enumerate([*ecgs, *studies, *photos]):
        row.created_at = base + dt.timedelta(days=i % 200, hours=1 + i % 20)
    EcgRecord.objects.bulk_update(ecgs, ["created_at"])
    ImagingStudy.objects.bulk_update(studies, ["created_at"])
    Photo.objects.bulk_update(photos, ["created_at"])
    kinds = ["ecg"] * 200 + ["imaging"] * 100
    my_reports = Report.objects.bulk_create(
        [Report(consultation=mine[i % 200], kind=kinds[i], author=expert_user, state="signed",
                latest_version=2 if i < 50 else 1) for i in range(300)])
    versions = [ReportVersion(report=r, patient=target, number=n, content={"conclusion": "结论"}, signed_by=expert_user,
                              signed_at=base + dt.timedelta(days=i % 200, hours=5 + n),
                              verification_code=f"M{r.pk:08d}{n}", amendment_reason="" if n == 1 else "更正")
                for i, r in enumerate(my_reports) for n in range(1, r.latest_version + 1)]
    ReportVersion.objects.bulk_create(versions)
    Delivery.objects.bulk_create([Delivery(version=v, organisation=villages[0]) for v in versions])
    referrals = Referral.objects.bulk_create(
        [Referral(direction="down" if i % 2 else "up", state="sent", patient=target, consultation=mine[i * 10],
                  from_org=lead, to_org=villages[0], created_by=expert_user) for i in range(20)])
    FollowUpTask.objects.bulk_create(
        [FollowUpTask(referral=referrals[i % 20], patient=target, organisation=villages[0], title="复查",
                      due_on=dt.date(2026, 1, 1) + dt.timedelta(days=7 * i)) for i in range(40)])
    return doctor, target, len(versions)


def _timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return times


def main() -> dict:
    load_before = [round(x, 2) for x in os.getloadavg()]
    reuse = KEEP and _exists()
    if not reuse:
        admin_sql(f"{PG}/postgres", f"DROP DATABASE IF EXISTS {DB_NAME}")
        admin_sql(f"{PG}/postgres", f"CREATE DATABASE {DB_NAME}")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        call_command("migrate", verbosity=0)
        seeded = time.perf_counter()
        from directory.models import Patient, User
        from reports.models import ReportVersion

        if reuse:
            doctor, patient = User.objects.get(username="vdoc"), Patient.objects.get(health_record_no="HR-0000000")
            n_versions = ReportVersion.objects.filter(report__consultation__patient=patient).count()
        else:
            doctor, patient, n_versions = _seed()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        seed_s = time.perf_counter() - seeded

        client = Client()
        client.force_login(doctor)
        url = f"/api/records/patients/{patient.pk}/timeline/"

        def page(params=None):
            response = client.get(url, params or {})
            assert response.status_code == 200, response.content[:300]
            return response.json()

        first = page()
        assert len(first["results"]) == 50
        cursor = None
        for _ in range(9):
            cursor = page({"cursor": cursor} if cursor else {})["next_cursor"]
        if PROFILE:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            for _ in range(20):
                page()
            profile.disable()
            pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
        pk_reads = []
        timeline, reports, deep = [], [], []
        for _ in range(RUNS):  # interleaved, so that a busy moment of the machine hits all alike
            pk_reads += _timed(lambda: Patient.objects.get(pk=patient.pk), 1)
            timeline += _timed(page, 1)
            reports += _timed(lambda: page({"kind": "report"}), 1)
            deep += _timed(lambda: page({"cursor": cursor}), 1)
        total = sum(1 for _ in iter_pages(page))
        result = {
            "bench": "record_bench",
            "patients": PATIENTS, "record": {"consultations": 200, "studies": 500, "reports": 300,
                                             "report_versions": n_versions, "referrals": 20, "follow_ups": 40},
            "timeline_items": total,
            "timeline_first_page": _ms(timeline), "timeline_reports_only": _ms(reports),
            "timeline_tenth_page": _ms(deep),
            "baseline_pk_read": _ms(pk_reads),
            "goal_p95_ms": 150,
            "goal_met": all(percentile(x, 0.95) < 0.150 for x in (timeline, reports, deep)),
            "seed_s": round(seed_s, 1),
            "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }
        return result
    finally:
        from django.db import connections

        connections.close_all()
        if not KEEP:
            admin_sql(f"{PG}/postgres", f"DROP DATABASE IF EXISTS {DB_NAME}")


def _exists() -> bool:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is not None


def iter_pages(page):
    cursor = None
    while True:
        body = page({"cursor": cursor, "limit": 200} if cursor else {"limit": 200})
        yield from body["results"]
        cursor = body["next_cursor"]
        if not cursor:
            return


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False, indent=2))
