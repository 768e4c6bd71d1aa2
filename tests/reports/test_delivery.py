"""The outbox: render once, deliver once, acknowledge with the time, escalate critical reports once."""
import datetime as dt
import inspect
import io

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from consult.models import Consultation
from reports.models import Delivery, Report, ReportVersion
from reports.outbound import ConsoleSmsBackend, Message, send_message
from reports.services import delivery as svc
from teleclinic.errors import NotFound, NotPermitted


@pytest.fixture(autouse=True)
def _real_study_inputs(settings, tmp_path):
    settings.REPORTS_STUDY_LOADER = "tests.reports.realdata.load_study"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.REPORTS_OUTBOUND_CHANNELS = ["email"]


@pytest.fixture
def clinic_emails(people):
    for key in ("village_doctor", "other_village_doctor"):
        people[key].email = f"{people[key].username}@clinic.example"
        people[key].save()


@pytest.mark.django_db
def test_a_rolled_back_signature_leaves_nothing_to_publish(signed_report, django_capture_on_commit_callbacks):
    # given a signature inside a transaction that then fails
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                signed_report("ecg")
                raise RuntimeError("the request failed after signing")
    # then no version, no outbox row and no task or event is waiting to go out
    assert callbacks == []
    assert not ReportVersion.objects.exists() and not Delivery.objects.exists()


@pytest.mark.django_db
def test_a_committed_signature_starts_exactly_one_render(signed_report, django_capture_on_commit_callbacks):
    # when a report is started, filled in and signed in one committed go
    with django_capture_on_commit_callbacks() as callbacks:
        signed_report("ecg")
    # then exactly one Celery job waits for the commit, and it is the render (the outbox's first step);
    # the rest are live events (the requester's console told the reading started), never a task
    assert _tasks_enqueued(callbacks) == ["reports.render_pdf"]
    assert len(callbacks) == 2


def _tasks_enqueued(callbacks) -> list[str]:
    """The names of the tasks that teleclinic.events.enqueue_on_commit registered among on-commit callbacks."""
    names = []
    for callback in callbacks:
        task = inspect.getclosurevars(callback).nonlocals.get("task")
        if task is not None:
            names.append(task.name)
    return names


@pytest.mark.django_db
def test_delivery_sends_once_even_when_run_twice(people, signed_report, clinic_emails):
    # given a signed report whose PDF is rendered
    version = signed_report("ecg")
    assert svc.version_render_pdf(version_id=version.pk) is True
    assert svc.version_render_pdf(version_id=version.pk) is False  # a second run renders nothing
    delivery = version.delivery
    # when the delivery runs twice (a retried task)
    first = svc.delivery_deliver(delivery_id=delivery.pk)
    second = svc.delivery_deliver(delivery_id=delivery.pk)
    # then one e-mail went to the clinic's doctors, and the row says delivered
    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["vdoc@clinic.example"]  # not village A2
    assert mail.outbox[0].extra_headers["Message-ID"].startswith(f"<delivery-{delivery.pk}@")
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED and delivery.delivered_at is not None


@pytest.mark.django_db
def test_a_delivery_waits_for_its_pdf(signed_report):
    version = signed_report("ecg")
    assert svc.delivery_deliver(delivery_id=version.delivery.pk) is False
    assert Delivery.objects.get().state == Delivery.State.PENDING


@pytest.mark.django_db
def test_the_sweeper_restarts_stale_pending_rows_only(signed_report, django_capture_on_commit_callbacks):
    # given one report pending for a minute and one just signed
    old, new = signed_report("ecg"), signed_report("imaging")
    Delivery.objects.filter(pk=old.delivery.pk).update(created_at=timezone.now() - dt.timedelta(minutes=1))
    # when the sweeper runs with a 30 s threshold, then only the stale one is restarted
    with django_capture_on_commit_callbacks(execute=False):
        assert svc.deliveries_sweep(stale_after_s=30) == 1


@pytest.mark.django_db
def test_acknowledgement_records_who_and_when_and_keeps_the_first(people, signed_report):
    # given a delivered report
    version = signed_report("ecg")
    before = timezone.now()
    # when the requesting clinic's doctor acknowledges it, then the township doctor above it
    first = svc.delivery_acknowledge(delivery_id=version.delivery.pk, by=people["village_doctor"])
    again = svc.delivery_acknowledge(delivery_id=version.delivery.pk, by=people["township_doctor"])
    # then the first acknowledgement stands and the consultation is closed
    assert first.acknowledged_by == people["village_doctor"] and first.acknowledged_at >= before
    assert again.acknowledged_by == people["village_doctor"] and again.acknowledged_at == first.acknowledged_at
    assert Consultation.objects.get(pk=version.report.consultation_id).state == Consultation.State.CLOSED


@pytest.mark.django_db
def test_only_the_requesting_clinic_acknowledges(people, community, signed_report):
    from tests.factories import UserFactory

    version = signed_report("ecg")
    stranger = UserFactory(username="vdoc-b1", organisation=community.village_b1)
    with pytest.raises(NotFound):
        svc.delivery_acknowledge(delivery_id=version.delivery.pk, by=stranger)
    with pytest.raises(NotPermitted):
        svc.delivery_acknowledge(delivery_id=version.delivery.pk, by=people["expert"])


@pytest.mark.django_db
def test_a_critical_report_unacknowledged_in_time_is_escalated_once(people, signed_report, settings):
    # given a 10-minute limit, a critical report signed 11 minutes ago, and others that must not escalate
    settings.REPORTS_CRITICAL_ACK_MINUTES = 10
    people["coordinator"].email = "coord@lead.example"
    people["coordinator"].save()
    critical, routine, acknowledged = signed_report("ecg", critical=True), signed_report("imaging"), signed_report(
        "consultation", critical=True)
    svc.delivery_acknowledge(delivery_id=acknowledged.delivery.pk, by=people["village_doctor"])
    eleven_ago = timezone.now() - dt.timedelta(minutes=11)
    Delivery.objects.update(created_at=eleven_ago)
    # when the periodic check runs twice
    escalated = svc.critical_escalate_overdue(), svc.critical_escalate_overdue()
    # then only the critical, unacknowledged one is escalated, once, to the community's coordinator
    assert escalated == (1, 0)
    assert Delivery.objects.get(pk=critical.delivery.pk).escalated_at is not None
    assert Delivery.objects.filter(escalated_at__isnull=False).count() == 1
    assert [m.to for m in mail.outbox] == [["coord@lead.example"]] and "危急值" in mail.outbox[0].subject


@pytest.mark.django_db
def test_a_critical_report_within_its_limit_is_not_escalated(signed_report, settings):
    settings.REPORTS_CRITICAL_ACK_MINUTES = 10
    signed_report("ecg", critical=True)
    assert svc.critical_escalate_overdue() == 0


def test_console_sms_backend_writes_one_line_per_message(settings):
    # given the SMS channel with the console gateway
    settings.REPORTS_OUTBOUND_CHANNELS = ["sms"]
    stream = io.StringIO()
    settings.REPORTS_SMS_BACKEND = "reports.outbound.ConsoleSmsBackend"
    backend = ConsoleSmsBackend(stream=stream)
    # when a message goes to two phones (one listed twice)
    backend.send(phone="13800000001", text="报告已送达 http://clinic.example/api/reports/shared/s3cr3t-t0ken/ 请查收")
    # then the log line holds neither the phone number nor the link's secret (a bearer token)
    assert stream.getvalue() == "SMS to 138****0001: 报告已送达 http://clinic.example/… 请查收\n"
    sent = send_message(Message(key="k", subject="s", text="t", emails=[], phones=["1", "2", "1"]))
    assert sent == 2


@pytest.mark.django_db
def test_the_ecg_pdf_of_a_signed_version_is_attached_once(signed_report):
    version = signed_report("ecg")
    svc.version_render_pdf(version_id=version.pk)
    version.refresh_from_db()
    data = version.pdf.read()
    assert data.startswith(b"%PDF") and len(version.pdf_sha256) == 64
    assert Report.objects.get(pk=version.report_id).state == Report.State.SIGNED


def test_the_sweeper_and_the_escalation_are_on_the_beat_schedule():
    from teleclinic.celery import app, beat_schedule

    schedule = beat_schedule()
    assert schedule["reports-sweep-outbox"]["task"] == "reports.sweep_outbox"
    assert schedule["reports-escalate-critical"]["task"] == "reports.escalate_critical"
    assert {"reports.sweep_outbox", "reports.escalate_critical"} <= set(app.tasks)


@pytest.mark.django_db
def test_an_ecg_report_without_a_trace_says_so_on_the_pdf(signed_report, settings):
    import subprocess

    # given a study loader that finds no trace
    settings.REPORTS_STUDY_LOADER = "reports.study_inputs.no_study_inputs"
    version = signed_report("ecg")
    # when the PDF is rendered, then it has one page and says the trace is missing
    svc.version_render_pdf(version_id=version.pk)
    version.refresh_from_db()
    text = subprocess.run(["pdftotext", version.pdf.path, "-"], capture_output=True, text=True, timeout=60).stdout
    assert "心电波形未能附入" in text and "\f" not in text.rstrip("\f")
