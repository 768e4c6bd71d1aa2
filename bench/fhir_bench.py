"""FHIR search benchmark: a hospital system's search of one patient's DiagnosticReports. Prints one JSON object.

On its own PostgreSQL database (created and dropped here; BENCH_ADMIN_URL points at the server):
100,000 patients across 100 village clinics under 10 townships, 60,000 consultations and 30,000
signed reports of other patients, and the patient searched: 200 consultations, 500 imaging studies,
300 reports (200 ECG, 100 imaging), all seeded with bulk_create. A system client registered on the
patient's township (fhirapi.services.client_register) takes an OAuth2 token at /fhir/auth/token and
searches through Django's full request path (middleware, DOT token check, access scope, audit rows,
JSON rendering), in process:
- `GET /fhir/DiagnosticReport?patient=<id>` (first page of 20, total counted),
- the same with `_count=100&_include=DiagnosticReport:patient`,
- the third page (`_offset=40`), as a client following `next` links does,
- `GET /fhir/DiagnosticReport?patient=<id>&date=ge2026-01-01&category=EC`;
p50/p95 of each over SAMPLES runs, against one indexed primary-key read (a patient by id, ORM) in the
same run. The plan of the search query is checked for index scans (no sequential scan of the big tables).
Goal: p95 < 150 ms.
"""
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import admin_sql, log, percentile, setup_django_on_fresh_database  # noqa: E402  (bench/, beside this file)

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DB", "tc_bench_fhir")  # one of its own for each person sharing a server
PATIENTS, VILLAGES, TOWNS = 100_000, 100, 10
OTHER_CONSULTATIONS, OTHER_REPORTS = 60_000, 30_000
MINE_CONSULTATIONS, MINE_STUDIES, MINE_ECG, MINE_IMAGING = 200, 500, 200, 100
SAMPLES = int(os.environ.get("FHIR_BENCH_SAMPLES", "200"))
GOAL_MS = 150


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def seed():
    from consult.models import Consultation
    from directory.models import Organisation, Patient, Specialty, User
    from reports.models import Report, ReportVersion
    from studies.models import ImagingStudy

    started = time.perf_counter()
    lead = Organisation.objects.create(code="lead", name="县人民医院", kind="lead_hospital")
    towns = Organisation.objects.bulk_create([
        Organisation(code=f"t{i}", name=f"镇{i}", kind="township_centre", parent=lead, community=lead)
        for i in range(TOWNS)])
    villages = Organisation.objects.bulk_create([
        Organisation(code=f"v{i}", name=f"村{i}", kind="village_clinic", parent=towns[i % TOWNS], community=lead)
        for i in range(VILLAGES)])
    specialty = Specialty.objects.create(code="cardiology", name="心血管内科")
    doctor = User.objects.create(username="vdoc", role="village_doctor", organisation=villages[0])
    expert = User.objects.create(username="expert", role="expert", organisation=lead)
    birth = dt.date(1960, 1, 1)
    patients = Patient.objects.bulk_create([
        Patient(name=f"患者{i}", sex="F" if i % 2 else "M", birth_date=birth + dt.timedelta(days=i % 20000),
                home_clinic=villages[i % VILLAGES], health_record_no=f"HR{i:07d}")
        for i in range(PATIENTS)], batch_size=5000)
    mine = patients[0]  # in village 0, under town 0
    log(f"  {PATIENTS} patients in {time.perf_counter() - started:.1f} s")

    def consultations(for_patients, created):
        rows = [Consultation(patient=p, requesting_org_id=p.home_clinic_id, requested_by=doctor, specialty=specialty,
                             reason="胸闷", state="reported", created_at=created(i))
                for i, p in enumerate(for_patients)]
        made = Consultation.objects.bulk_create(rows, batch_size=5000)
        # created_at is auto_now_add: set the spread of dates afterwards, in one statement per batch
        return made

    base = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    others = consultations([patients[1 + (i * 7919) % (PATIENTS - 1)] for i in range(OTHER_CONSULTATIONS)],
                           lambda i: base)
    my_consultations = consultations([mine] * MINE_CONSULTATIONS, lambda i: base)
    from django.db import connection

    with connection.cursor() as cursor:  # spread the consultations over two years
        cursor.execute("UPDATE consult_consultation SET created_at = %s + (id %% 730) * interval '1 day'", [base])
    log(f"  consultations at {time.perf_counter() - started:.1f} s")

    def reports(pairs):
        made = Report.objects.bulk_create([Report(consultation=c, kind=kind, author=expert, state="signed",
                                                  latest_version=1) for c, kind in pairs], batch_size=5000)
        signed = base + dt.timedelta(days=400)
        ReportVersion.objects.bulk_create([
            ReportVersion(report=r, patient_id=r.consultation.patient_id, number=1, signed_by=expert, signed_at=signed + dt.timedelta(minutes=r.pk),
                          verification_code=f"V{r.pk:012d}",
                          content={"conclusion": "窦性心律", "rate_bpm": 72, "qtc_ms": 420} if r.kind == "ecg"
                          else {"impression": "未见明显异常"})
            for r in made], batch_size=5000)

    reports([(c, "ecg") for c in others[:OTHER_REPORTS]])
    reports([(c, "ecg") for c in my_consultations[:MINE_ECG]]
            + [(c, "imaging") for c in my_consultations[:MINE_IMAGING]])
    ImagingStudy.objects.bulk_create([
        ImagingStudy(study_instance_uid=f"1.2.826.0.1.3680043.{i}", patient=mine,
                     consultation=my_consultations[i % MINE_CONSULTATIONS], organisation=villages[0],
                     study_date=dt.date(2025, 1, 1) + dt.timedelta(days=i % 700), description="CT")
        for i in range(MINE_STUDIES)], batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"  seeded in {time.perf_counter() - started:.1f} s")
    return mine, towns[0]


def token_client(town):
    from django.test import Client

    from fhirapi.services import client_register

    application, secret = client_register(name="bench HIS", organisation=town)
    client = Client()
    response = client.post("/fhir/auth/token", {"grant_type": "client_credentials", "scope": "system/*.read",
                                                "client_id": application.client_id, "client_secret": secret})
    assert response.status_code == 200, response.content
    return Client(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")


def timed(fn, samples):
    fn()  # warm
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"p50_ms": ms(percentile(times, 0.5)), "p95_ms": ms(percentile(times, 0.95)), "samples": samples}


def plan_of_search(patient, town):
    """EXPLAIN of the search's page query, as the client's scope builds it."""
    from directory.access import VIEW, scoped
    from directory.models import User
    from fhirapi.resources import DIAGNOSTIC_REPORT
    from django.db import connection

    user = User.objects.get(role="system")
    query = DIAGNOSTIC_REPORT.params["patient"].to_q("patient", "", str(patient.pk))
    rows = scoped(user, DIAGNOSTIC_REPORT.search_queryset(), VIEW).filter(query).order_by(*DIAGNOSTIC_REPORT.order)
    sql, params = rows[:20].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    seq = [line.strip() for line in plan.splitlines() if "Seq Scan" in line]
    return plan, seq


def main() -> None:
    started = time.perf_counter()
    setup_django_on_fresh_database(ADMIN_URL, BENCH_DB)
    try:
        from directory.models import Patient

        log("seeding ...")
        patient, town = seed()
        client = token_client(town)
        pid = patient.pk

        def get(path):
            def call():
                response = client.get(path)
                assert response.status_code == 200, response.content[:300]
                return response
            return call

        first = get(f"/fhir/DiagnosticReport?patient={pid}")
        body = first().json()
        assert body["total"] == MINE_ECG + MINE_IMAGING, body["total"]
        other_ids = list(Patient.objects.order_by("?").values_list("pk", flat=True)[:SAMPLES])
        state = {"i": 0}

        def pk_read():
            state["i"] = (state["i"] + 1) % len(other_ids)
            Patient.objects.get(pk=other_ids[state["i"]])

        log("measuring ...")
        figures = {
            "search_first_page_20": timed(first, SAMPLES),
            "search_100_with_include_patient": timed(
                get(f"/fhir/DiagnosticReport?patient={pid}&_count=100&_include=DiagnosticReport:patient"),
                max(SAMPLES // 4, 20)),
            "search_third_page": timed(get(f"/fhir/DiagnosticReport?patient={pid}&_count=20&_offset=40"), SAMPLES),
            "search_date_and_category": timed(
                get(f"/fhir/DiagnosticReport?patient={pid}&date=ge2026-01-01&category=EC"), SAMPLES),
        }
        baseline = timed(pk_read, SAMPLES)
        plan, seq_scans = plan_of_search(patient, town)
        log(plan)
    finally:
        from django.db import connections

        connections.close_all()
        if not os.environ.get("FHIR_BENCH_KEEP"):  # FHIR_BENCH_KEEP=1 leaves the database to look into
            admin_sql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    p95 = figures["search_first_page_20"]["p95_ms"]
    print(json.dumps({
        "bench": "fhir", "database": "postgresql",
        "data": {"patients": PATIENTS, "patient_consultations": MINE_CONSULTATIONS, "patient_studies": MINE_STUDIES,
                 "patient_reports": MINE_ECG + MINE_IMAGING, "other_consultations": OTHER_CONSULTATIONS,
                 "other_reports": OTHER_REPORTS},
        "client": "OAuth2 system client (client credentials), in-process Django test client, audit rows written",
        "figures": figures, "baseline_pk_read": baseline,
        "ratio_p95": round(p95 / baseline["p95_ms"], 1) if baseline["p95_ms"] else None,
        "goal_p95_ms": GOAL_MS, "goal_met": p95 < GOAL_MS,
        "sequential_scans_in_plan": seq_scans, "load_average": os.getloadavg(),
        "total_seconds": round(time.perf_counter() - started, 1)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
