"""Render, deliver, acknowledge, escalate: the report's way back to the village clinic.

Exactly once: the outbox row is written with the signature; the deliver step runs under that
row's lock (skipped by a concurrent run), writes its marks first and sends last, just before
its commit: a run killed before the sends leaves the row pending for the sweeper (nothing
went out), and a second run finds a committed row delivered. The live event is sent inside
that transaction, not on commit, because what it announces (the signed version and its PDF)
is already committed; an event after the commit could be lost to a kill. The event is best
effort (a channel layer that is down must not roll back a delivery whose message went out:
the clinic's socket reads its pending list on reconnect). What remains is the
commit round trip itself: a process killed after sending and before the database confirms
the commit sends again (at least once; e-mails carry a stable Message-ID and events the
delivery id, so receivers can drop the repeat).
"""
import datetime as dt
import hashlib

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from consult.lifecycle import Transition, allows
from consult.locks import lock_consultation
from consult.services import do_close
from directory.access import CHANGE, scoped
from directory.models import User
from teleclinic.errors import NotFound, NotPermitted
from teleclinic.events import enqueue_on_commit, send_best_effort, send_event_on_commit

from ..documents import build_document, verify_url
from ..events import CLINIC_ROLES, report_event
from ..models import Delivery, ReportVersion
from ..outbound import Message, send_message
from ..pdf import render_report_pdf
from ..study_inputs import load_study_inputs
from .locks import lock_delivery_or_skip, lock_version


def version_render_pdf(*, version_id: int) -> bool:
    """Render and attach the PDF of a signed version once; then start its delivery. False if done already."""
    version = ReportVersion.objects.select_related(
        "report__consultation__patient", "report__consultation__requesting_org", "report__consultation__requested_by",
        "report__consultation__assigned_expert__user__organisation", "signed_by").filter(pk=version_id).first()
    if version is None:
        return False
    if version.pdf:
        enqueue_on_commit("reports.deliver", version.delivery.pk)
        return False
    ecg, images = load_study_inputs(version.report.study_ref, report_id=version.report_id, version_id=version.pk)
    document = build_document(version)
    if version.report.kind == "ecg" and ecg is None:
        document.sections.append(("波形 Trace", "心电波形未能附入，请扫码查看在线版本。The trace could not be attached; "
                                                "see the online version."))
    pdf = render_report_pdf(document, ecg=ecg if version.report.kind == "ecg" else None,
                            key_images=images if version.report.kind == "imaging" else [])
    with transaction.atomic():
        locked = lock_version(version_id)
        if locked.pdf:
            return False
        name = default_storage.save(f"reports/{version.report_id}/v{version.number}-{version.verification_code}.pdf",
                                    ContentFile(pdf))
        locked.pdf.name, locked.pdf_sha256, locked.pdf_rendered_at = name, hashlib.sha256(pdf).hexdigest(), timezone.now()
        locked.save(update_fields=["pdf", "pdf_sha256", "pdf_rendered_at"])
        enqueue_on_commit("reports.deliver", version.delivery.pk)
    return True


def delivery_deliver(*, delivery_id: int) -> bool:
    """Send the report to the requesting clinic (outbound message + live event), once. False if not sent now."""
    with transaction.atomic():
        delivery = lock_delivery_or_skip(delivery_id)
        if delivery is None or delivery.state != Delivery.State.PENDING:
            return False
        version = ReportVersion.objects.select_related("report__consultation").get(pk=delivery.version_id)
        if not version.pdf:
            return False  # the render task starts the delivery when the PDF is attached
        doctors = clinic_doctors(delivery.organisation_id, also=version.report.consultation.requested_by_id)
        delivery.state, delivery.delivered_at, delivery.attempts = Delivery.State.DELIVERED, timezone.now(), delivery.attempts + 1
        delivery.save(update_fields=["state", "delivered_at", "attempts"])
        audit_record(actor=None, action="update", obj=version, interface="task",
                     consultation_id=version.report.consultation_id, detail={"delivered": delivery.pk})
        # Sends last, then the commit (see the module docstring).
        send_message(_arrival_message(delivery, version, doctors))
        # Best effort: the message went out already, so a channel layer that is down must not roll the
        # delivery back and send it again on the retry; the clinic's socket reads its pending list.
        send_best_effort(user_ids=[u.pk for u in doctors], payload=report_event(delivery, version, "report.arrived"))
    return True


def deliveries_sweep(*, stale_after_s: float | None = None, limit: int = 500) -> int:
    """Re-start outbox rows still pending after a while (a lost task, a killed worker). Safe any time."""
    stale = settings.REPORTS_DELIVERY_STALE_SECONDS if stale_after_s is None else stale_after_s
    cutoff = timezone.now() - dt.timedelta(seconds=stale)
    rows = (Delivery.objects.filter(state=Delivery.State.PENDING, created_at__lte=cutoff)
            .select_related("version").order_by("id")[:limit])
    for delivery in rows:
        if delivery.version.pdf:
            enqueue_on_commit("reports.deliver", delivery.pk)
        else:
            enqueue_on_commit("reports.render_pdf", delivery.version_id)
    return len(rows)


def delivery_acknowledge(*, delivery_id: int, by: User, request=None) -> Delivery:
    """A doctor of the requesting clinic confirms the report was read; the first time is kept."""
    if by.role not in CLINIC_ROLES:
        raise NotPermitted("Only the requesting clinic's doctors acknowledge a report.")
    if not scoped(by, Delivery.objects.all(), CHANGE).filter(pk=delivery_id).exists():
        raise NotFound("No such report delivery in your reach.")
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("version__report").get(pk=delivery_id)
        if delivery.state == Delivery.State.ACKNOWLEDGED:
            return delivery
        delivery.state, delivery.acknowledged_at, delivery.acknowledged_by = Delivery.State.ACKNOWLEDGED, timezone.now(), by
        delivery.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        report = delivery.version.report
        consultation = lock_consultation(report.consultation_id)
        # An acknowledged older version leaves the case open for the latest one.
        if delivery.version.number == report.latest_version and allows(consultation.state, Transition.CLOSE):
            do_close(consultation=consultation, by=by, request=request, detail={"delivery": delivery.pk})
        audit_record(actor=by, action="update", obj=delivery.version, interface="api", request=request,
                     consultation_id=report.consultation_id, detail={"acknowledged": delivery.pk})
        send_event_on_commit(user_ids=[report.author_id], payload=report_event(delivery, delivery.version,
                                                                                "report.acknowledged"))
    return delivery


def critical_escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """危急值 closed loop: escalate each critical report unacknowledged past the limit, once."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.REPORTS_CRITICAL_ACK_MINUTES)
    ids = list(Delivery.objects.filter(critical=True, acknowledged_at__isnull=True, escalated_at__isnull=True,
                                       created_at__lte=cutoff).order_by("id").values_list("id", flat=True)[:500])
    return sum(_escalate_one(delivery_id, now) for delivery_id in ids)


def _escalate_one(delivery_id: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        delivery = lock_delivery_or_skip(delivery_id)
        if delivery is None or delivery.escalated_at or delivery.acknowledged_at:
            return False
        version = ReportVersion.objects.select_related("report__consultation").get(pk=delivery.version_id)
        community = delivery.organisation.community_id
        coordinators = list(User.objects.filter(role=User.Role.COORDINATOR, is_active=True,
                                                organisation__community_id=community).order_by("id"))
        delivery.escalated_at = now
        delivery.save(update_fields=["escalated_at"])
        audit_record(actor=None, action="update", obj=version, interface="task",
                     consultation_id=version.report.consultation_id, detail={"escalated": delivery.pk})
        minutes = settings.REPORTS_CRITICAL_ACK_MINUTES
        # Sends last, then the commit, as in delivery_deliver.
        send_message(Message(key=f"escalation-{delivery.pk}", subject="【危急值未确认】Critical report not acknowledged",
                             text=f"危急值报告 #{version.report_id} v{version.number} 已签发 {minutes:g} 分钟仍未被"
                                  f"{delivery.organisation.name}确认，请电话联系。",
                             emails=[u.email for u in coordinators if u.email],
                             phones=[u.phone for u in coordinators if u.phone]))
        send_best_effort(user_ids=[u.pk for u in coordinators],
                         payload=report_event(delivery, version, "report.critical_unacknowledged"))
    return True


def clinic_doctors(organisation_id: int, also: int | None = None) -> list[User]:
    """The requesting clinic's active doctors (and the requesting doctor wherever they sit)."""
    rows = User.objects.filter(is_active=True, role__in=CLINIC_ROLES, organisation_id=organisation_id)
    if also:
        rows = rows | User.objects.filter(pk=also, is_active=True)
    return list(rows.distinct().order_by("id"))


def _arrival_message(delivery: Delivery, version: ReportVersion, doctors: list[User]) -> Message:
    label = "更正报告" if version.number > 1 else "诊断报告"
    prefix = "【危急值】" if version.critical else ""
    return Message(key=f"delivery-{delivery.pk}", subject=f"{prefix}会诊 #{version.report.consultation_id} {label}已送达",
                   text=f"报告 #{version.report_id} 第 {version.number} 版已签发，请登录查看并确认：{verify_url(version)}",
                   emails=[u.email for u in doctors if u.email], phones=[u.phone for u in doctors if u.phone])
