"""kill -9 a Celery worker with ingest, render and deliver tasks in flight: each effect happens exactly once.

Real tasks on a private queue: ECG uploads (CSV and DICOM waveform) completed through the tus
service, each queueing studies' ingest; reports signed through the reports services, each
queueing render_pdf, which queues deliver. The worker (a prefork pool of two, in its own process
group) is SIGKILLed with its children when about half the work is done. The tasks it held
stay in Redis's unacknowledged set until the visibility timeout (an hour), so what brings
them back is what beat runs: the outbox sweep (reports) and the stalled-ingest sweep (studies),
called here whenever progress stalls. Every duplicate run that causes must be a no-op.

OPS_CELERY_KILL_TASKS sets the number of tasks (200 here, so the suite stays fast);
scripts/ops-celery-kill.sh runs the issue's 1,000 and prints the figures as JSON.
"""
import io
import json
import os
import re
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from reports.models import Delivery, ReportVersion
from reports.services import drafting
from reports.services.delivery import deliveries_sweep
from studies.models import EcgRecord, Instance, ReportStudy, Upload
from studies.services.ingest import uploads_ingest_stalled
from studies.services.uploads import upload_append, upload_create
from tests.conftest import postgres_url
from tests.reports.conftest import MEASUREMENTS, fill
from tests.reports.pdf_checks import assert_pdf_shows
from tests.reports.realdata import stored_real_ecg_ref
from tests.reports.workers import (kill_group, reports_tasks_routed_to, start_worker, stop_worker,
                                   wait_for_other_sessions_to_end)
from tests.studies.ecgfiles import ecg_csv

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TASKS = int(os.environ.get("OPS_CELERY_KILL_TASKS", "200"))
DEADLINE_S = float(os.environ.get("OPS_CELERY_KILL_DEADLINE_S", "240"))
STALL_S = 3.0  # no progress this long: run the sweeps, as beat would (every 15 s / 60 s in production)


def _dicom_ecg() -> bytes:
    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _complete_uploads(doctor, consultation, count: int, first: int = 0) -> list[str]:
    """`count` ECG uploads sent whole through the tus service (every third a DICOM waveform); their ids."""
    csv, ids = ecg_csv(), []
    for i in range(first, first + count):
        blob, name = (_dicom_ecg(), "ecg.dcm") if i % 3 == 2 else (csv, "ecg.csv")
        upload = upload_create(by=doctor, length=len(blob), metadata={
            "filename": name, "kind": "ecg", "consultation": str(consultation.pk)})
        upload_append(upload_id=upload.pk, by=doctor, offset=0, body=io.BytesIO(blob), checksum=None)
        ids.append(str(upload.pk))
    return ids


def _sign_reports(expert, assigned, count: int) -> list[int]:
    """`count` ECG reports signed, each naming a real stored ECG of its consultation (the product's loader
    draws its trace); their version ids."""
    ids = []
    for _ in range(count):
        consultation = assigned()
        report = drafting.report_start(consultation_id=consultation.pk, kind="ecg", by=expert,
                                       study_ref=stored_real_ecg_ref(consultation), measurements=MEASUREMENTS)
        drafting.draft_save(report_id=report.pk, by=expert, content=fill("ecg"))
        ids.append(drafting.report_sign(report_id=report.pk, by=expert).pk)
    return ids


def _effects_done() -> int:
    """Tasks whose effect is committed: ingested uploads, rendered PDFs, delivered outbox rows."""
    return (Upload.objects.exclude(state__in=[Upload.State.RECEIVING, Upload.State.RECEIVED]).count()
            + ReportVersion.objects.exclude(pdf="").count()
            + Delivery.objects.filter(state=Delivery.State.DELIVERED).count())


def _in_flight(log: Path) -> list[str]:
    text = log.read_text()
    received = re.findall(r"Task ([\w.]+)\[([0-9a-f-]+)\] received", text)
    return [name for name, task_id in received if f"[{task_id}] succeeded" not in text]


def _freeze_with_running_tasks(worker, log: Path, deadline_s: float = 20) -> None:
    """Stop the worker's process group (SIGSTOP) at a moment its log shows a task received and not finished.

    Checking the log and then killing races the task's end (the queue may be nearly drained on a loaded
    machine): frozen, the worker cannot finish the task between the check and the kill."""
    end = time.monotonic() + deadline_s
    while True:
        os.killpg(worker.pid, signal.SIGSTOP)
        time.sleep(0.05)  # let a log line being written when the signal came land in the file
        if _in_flight(log) or time.monotonic() > end:
            return
        os.killpg(worker.pid, signal.SIGCONT)
        time.sleep(0.01)


def _wait_until(total: int, *, sweep: bool, deadline_s: float) -> dict:
    """Wait until `total` effects are done; with `sweep`, run beat's sweeps whenever progress stalls."""
    end, sweeps = time.monotonic() + deadline_s, 0
    last, last_change = -1, time.monotonic()
    while (done := _effects_done()) < total and time.monotonic() < end:
        if done != last:
            last, last_change = done, time.monotonic()
        elif sweep and time.monotonic() - last_change > STALL_S:
            sweeps += 1
            deliveries_sweep(stale_after_s=0)
            uploads_ingest_stalled(stale_after_s=0)
            last_change = time.monotonic()
        time.sleep(0.2)
    return {"done": done, "sweeps": sweeps}


def _emails_by_message_id(mail_dir: Path) -> Counter:
    ids = Counter()
    for path in mail_dir.glob("*"):
        ids.update(re.findall(r"Message-ID: <(delivery-\d+)@", path.read_text(errors="replace")))
    return ids


def test_a_worker_killed_with_hundreds_of_tasks_in_flight_leaves_every_effect_done_exactly_once(
        people, assigned, cardiology, settings, tmp_path):
    # given a worker environment on the test database, e-mail written to files, and a private queue
    media, mail = tmp_path / "media", tmp_path / "mail"
    settings.MEDIA_ROOT = str(media)
    worker_env = {"MEDIA_ROOT": str(media), "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                  "EMAIL_FILE_PATH": str(mail), "REPORTS_OUTBOUND_CHANNELS": "email",
                  "LOG_LEVEL": "INFO"}  # the product's study loader: the reports read their stored ECGs
    doctor = people["village_doctor"]
    doctor.email = "vdoc@clinic.example"
    doctor.save()
    uploads_n, reports_n = TASKS * 2 // 50 * 10, TASKS * 3 // 100 * 10  # 40 % ingest, 30 % render, 30 % deliver
    queue, logs, workers = f"ops-kill-{uuid.uuid4().hex[:8]}", [tmp_path / "w1.log", tmp_path / "w2.log"], []
    database_url = postgres_url()
    with reports_tasks_routed_to(queue, patterns=("reports.*", "studies.*")):
        # and the tasks queued: uploads completed (ingest queued) and reports signed (render queued, then deliver)
        started = time.monotonic()
        upload_ids, version_ids, consultation = [], [], assigned()
        for batch in range(10):  # interleaved, so the kill finds both kinds of work in the queue
            upload_ids += _complete_uploads(doctor, consultation, uploads_n // 10, first=len(upload_ids))
            version_ids += _sign_reports(people["expert"], assigned, reports_n // 10)
        setup_s = time.monotonic() - started
        total = uploads_n + 2 * reports_n
        try:
            # when the worker is SIGKILLed with its pool when about half the effects are done
            started = time.monotonic()
            workers.append(start_worker(database_url=database_url, queue=queue, log=logs[0], env=worker_env,
                                        concurrency=2))
            _wait_until(total // 2, sweep=False, deadline_s=DEADLINE_S)
            _freeze_with_running_tasks(workers[0], logs[0])  # on a loaded machine it may be between two tasks
            kill_group(workers[0])
            at_kill, in_flight = _effects_done(), _in_flight(logs[0])
            # and a new worker starts, with beat's sweeps running
            workers.append(start_worker(database_url=database_url, queue=queue, log=logs[1], env=worker_env,
                                        concurrency=2))
            after = _wait_until(total, sweep=True, deadline_s=DEADLINE_S)
            # let duplicate runs the sweeps queued finish too: they must change nothing
            time.sleep(2)
            run_s = time.monotonic() - started
        finally:
            for proc in workers:
                stop_worker(proc)
            wait_for_other_sessions_to_end()
    # then the kill hit running tasks, half-way
    assert in_flight and 0 < at_kill < total, (in_flight, at_kill)
    # and each upload was ingested exactly once: one ECG record (and one DICOM instance for a waveform), none failed
    uploads = {str(u.pk): u for u in Upload.objects.filter(pk__in=upload_ids)}
    assert Counter(u.state for u in uploads.values()) == {Upload.State.INGESTED: uploads_n}
    ecgs = Counter(str(pk) for pk in EcgRecord.objects.filter(upload__isnull=False).values_list("upload_id", flat=True))
    dicom_ids = [uid for i, uid in enumerate(upload_ids) if i % 3 == 2]
    read = ReportStudy.objects.filter(report__versions__in=version_ids).values_list("ecg_id", flat=True)
    assert EcgRecord.objects.exclude(pk__in=read).count() == uploads_n and Instance.objects.count() == len(dicom_ids)
    assert all(ecgs[uid] == 1 for uid in upload_ids if uid not in dicom_ids)
    assert sorted(uploads[uid].result["instance"] for uid in dicom_ids) == sorted(
        Instance.objects.values_list("sop_instance_uid", flat=True))
    # and each signed version has one PDF, in one file
    versions = ReportVersion.objects.filter(pk__in=version_ids)
    assert all(v.pdf and (media / v.pdf.name).exists() for v in versions)
    assert_pdf_shows(media / versions[0].pdf.name, texts=["窦性心律"], ecg_trace=True)  # drawn from the stored ECG
    pdf_files = Counter(p.parent.name for p in (media / "reports").glob("*/*.pdf"))
    assert sorted(pdf_files.values()) == [1] * reports_n, pdf_files
    # and exactly one delivery per version, delivered once, with exactly one e-mail
    deliveries = list(Delivery.objects.filter(version_id__in=version_ids))
    assert sorted(d.version_id for d in deliveries) == sorted(version_ids)
    assert all(d.state == Delivery.State.DELIVERED and d.attempts == 1 for d in deliveries)
    assert _emails_by_message_id(mail) == Counter({f"delivery-{d.pk}": 1 for d in deliveries})
    print(json.dumps({"test": "celery_kill", "tasks": total, "ingest": uploads_n, "render": reports_n,
                      "deliver": reports_n, "effects_done_at_kill": at_kill, "in_flight_at_kill": in_flight,
                      "sweeps_after_restart": after["sweeps"], "setup_s": round(setup_s, 1),
                      "run_s": round(run_s, 1), "effects_done": after["done"]}))
