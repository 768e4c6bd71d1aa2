"""Benchmark of report delivery and PDF rendering; prints one JSON object.

1. Report signed -> the village clinic's /ws/notifications/ socket receives "report.arrived"
   with the PDF ready: p50/p95 over 100 reports, one at a time, with a real Celery worker
   (prefork, 2 processes) rendering the real 12-lead ECG and delivering, over Redis. The product's
   defaults: each report's ECG is a stored EcgRecord (pydicom's waveform_ecg.dcm, kept through the
   studies app's ecg_signal_store) and the PDF gets its trace from REPORTS_STUDY_LOADER's default,
   the studies app's loader (no test loader); the run counts the PDFs that carry the trace.
   The socket is the real NotificationConsumer on the Redis channel layer, driven in this
   process by Channels' WebsocketCommunicator (no Daphne in the path).
2. PDF render time of an ECG report (pydicom's waveform_ecg.dcm) and an imaging report
   (a CT_small.dcm frame), in-process, after one warm-up render.

Creates and drops its own database tc_bench_reports; Redis from REDIS_URL (default db 0),
on a private queue and channel prefix. Runtime about a minute.
"""
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path(tempfile.gettempdir())  # the machine's own temporary directory
sys.path.insert(0, str(ROOT))

from common import admin_sql, percentile  # noqa: E402  (bench/, beside this file)
DB_NAME = "tc_bench_reports"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REPORTS = int(os.environ.get("BENCH_REPORTS", "100"))
ENV = {
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    "CHANNEL_PREFIX": "bench-reports",
    "CELERY_QUEUE": "bench-reports",
    "DJANGO_SETTINGS_MODULE": "teleclinic.settings",
    "MEDIA_ROOT": str(SCRATCH / "tc-bench-reports-media"),
    "REPORTS_OUTBOUND_CHANNELS": "email",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)


def _setup_world(count: int):
    """A lead hospital, a village clinic and its doctor, an expert, and `count` filled-in ECG drafts."""
    import datetime as dt

    from consult.models import Consultation
    from directory.models import Expert, Organisation, Patient, Specialty, User
    from reports.services import drafting

    lead = Organisation.objects.create(code="lead", name="县人民医院", kind="lead_hospital")
    village = Organisation.objects.create(code="v1", name="东风村卫生室", kind="village_clinic", parent=lead)
    cardiology = Specialty.objects.create(code="cardiology", name="心血管内科")
    doctor = User.objects.create_user("vdoc", role="village_doctor", organisation=village, email="v@x.example")
    expert_user = User.objects.create_user("expert", role="expert", organisation=lead, display_name="张明")
    expert = Expert.objects.create(user=expert_user, title="主任医师")
    expert.specialties.set([cardiology])
    measurements = {"heart_rate_bpm": 72, "pr_ms": 160, "qrs_ms": 94, "qt_ms": 384, "qtc_ms": 419}
    content = {"rhythm": "窦性心律", "findings": "II、III、aVF 导联 ST 段抬高", "conclusion": "急性下壁心肌梗死可能"}
    report_ids = []
    for i in range(count):
        patient = Patient.objects.create(name=f"患者{i}", sex="F", birth_date=dt.date(1956, 3, 14),
                                         home_clinic=village, health_record_no=f"HR-{i:05d}")
        consultation = Consultation.objects.create(
            patient=patient, requesting_org=village, requested_by=doctor, specialty=cardiology, urgency="stat",
            reason="胸闷", assigned_expert=expert, state="assigned")
        record = _stored_ecg(doctor, consultation)
        report = drafting.report_start(consultation_id=consultation.pk, kind="ecg", by=expert_user,
                                       study_ref=f"ecg:{record.pk}", measurements=measurements)
        drafting.draft_save(report_id=report.pk, by=expert_user, content=content)
        report_ids.append(report.pk)
    return doctor, expert_user, report_ids


def _stored_ecg(doctor, consultation):
    """pydicom's 12-lead waveform_ecg.dcm stored for the consultation as the studies app keeps an ECG."""
    import numpy as np
    from django.db import transaction

    from studies.formats.ecg.model import Ecg
    from studies.services.ingest import Source, ecg_measure, ecg_signal_store
    from studies.services.storage import files_or_nothing
    from tests.reports.realdata import real_ecg

    trace = real_ecg()
    ecg = Ecg(leads={name: np.rint(samples).astype(np.int32) for name, samples in trace.leads.items()},
              sampling_rate=trace.sampling_rate, source_format="dicom")
    with files_or_nothing() as files, transaction.atomic():
        return ecg_signal_store(parsed=ecg_measure(ecg), files=files, source=Source(
            by=doctor, organisation=doctor.organisation, consultation=consultation, patient=consultation.patient))


def _cookie(user) -> bytes:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _delivery_latencies(doctor, expert, report_ids) -> list[float]:
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from reports.services import drafting
    from teleclinic.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=[
        (b"cookie", await sync_to_async(_cookie)(doctor)), (b"origin", b"http://localhost")])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    await communicator.receive_json_from(timeout=10)  # hello
    latencies = []
    try:
        for report_id in report_ids:
            began = time.perf_counter()
            await sync_to_async(drafting.report_sign)(report_id=report_id, by=expert)
            while True:
                frame = await communicator.receive_json_from(timeout=30)
                if frame.get("type") == "report.arrived" and frame["report"] == report_id and frame["pdf"]:
                    latencies.append(time.perf_counter() - began)
                    break
    finally:
        await communicator.disconnect()
    return latencies


def _render_times(repeats: int = 20) -> dict:
    from reports.pdf import ReportDocument, render_report_pdf
    from tests.reports.realdata import ct_frame_png, real_ecg

    doc = ReportDocument(
        organisation="县人民医院", title="心电图诊断报告 ECG report",
        patient=[("姓名 Name", "王秀英"), ("性别 Sex", "女"), ("健康档案号 Record", "HR-1")],
        study=[("申请机构 Clinic", "东风村卫生室")], measurements=[("QTc", "419 ms")],
        sections=[("结论 Conclusion", "急性下壁心肌梗死可能"), ("所见 Findings", "ST 段抬高。" * 40)],
        signer="张明 主任医师", signed_at="2026-11-25 20:40", version=1, verification_code="K7Q2M9XAPB",
        verify_url="http://localhost:8000/api/reports/verify/K7Q2M9XAPB/")
    ecg, ct = real_ecg(), ct_frame_png()
    cold = time.perf_counter()
    render_report_pdf(doc, ecg=ecg)
    cold = time.perf_counter() - cold
    out = {"first_render_in_process_s": round(cold, 3)}
    for name, kwargs in (("ecg", {"ecg": ecg}), ("imaging", {"key_images": [ct, ct]})):
        times, size = [], 0
        for _ in range(repeats):
            began = time.perf_counter()
            size = len(render_report_pdf(doc, **kwargs))
            times.append(time.perf_counter() - began)
        out[name] = {"p50_ms": round(statistics.median(times) * 1000, 1), "max_ms": round(max(times) * 1000, 1),
                     "renders": repeats, "pdf_bytes": size}
    return out


def _pdfs_with_trace(report_ids: list[int]) -> str:
    """How many delivered PDFs carry the ECG page: two pages, no 'could not be attached' note (poppler)."""
    from reports.models import ReportVersion
    from tests.reports.pdf_checks import MISSING_TRACE, pdf_pages, pdf_text

    versions = list(ReportVersion.objects.filter(report_id__in=report_ids).exclude(pdf=""))
    traced = sum(pdf_pages(Path(v.pdf.path)) >= 2 and MISSING_TRACE not in pdf_text(Path(v.pdf.path))
                 for v in versions)
    return f"{traced}/{len(report_ids)}"


def main() -> dict:
    load_before = [round(x, 2) for x in os.getloadavg()]
    admin_sql(f"{PG}/postgres", f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"{PG}/postgres", f"CREATE DATABASE {DB_NAME}")
    worker = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from teleclinic.celery import app

        app.control.purge()
        doctor, expert, report_ids = _setup_world(REPORTS)
        log = open(SCRATCH / "tc-bench-reports-worker.log", "w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "teleclinic", "worker", "-l", "warning", "-c", "2", "-Q",
             ENV["CELERY_QUEUE"], "--without-gossip", "--without-mingle", "-n", "bench-reports@%h"],
            cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for_worker(app)
        latencies = asyncio.run(_delivery_latencies(doctor, expert, report_ids))
        traced = _pdfs_with_trace(report_ids)
        renders = _render_times()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        admin_sql(f"{PG}/postgres", f"DROP DATABASE IF EXISTS {DB_NAME}")
    from django.conf import settings

    return {
        "bench": "reports",
        "signed_to_socket_with_pdf": {
            "reports": len(latencies), "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1),
            "goal_p95_ms": 2000, "worker": "celery prefork -c 2, Redis broker and channel layer",
            "path": "sign (commit) -> render_pdf task (real 12-lead ECG) -> deliver task -> socket"},
        "study_loader": settings.REPORTS_STUDY_LOADER,
        "pdfs_with_trace": traced,
        "pdf_render": renders,
        "cpu_cores": os.cpu_count(), "load_average_before": load_before,
    }


def _wait_for_worker(app, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise RuntimeError("the Celery worker did not answer within 60 s")


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
