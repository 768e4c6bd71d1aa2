"""Reads of reports with permission checks and audit: the expert, the clinic, the patient, the public check."""
import datetime as dt

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from audit.services import audit_record, audit_record_many
from directory.access import access_get, VIEW, scoped
from directory.models import User
from teleclinic.errors import Gone, NotFound

from .models import Delivery, PatientLink, Report, ReportVersion
from .events import CLINIC_ROLES, report_event

VERSION_RELATED = ("report__consultation__patient", "report__consultation__requesting_org",
                   "report__consultation__requested_by", "report__consultation__specialty",
                   "report__consultation__assigned_expert__user__organisation", "signed_by", "delivery")


def report_get(*, user: User, report_id, request=None, interface: str = "api") -> Report:
    report = access_get(user, Report.objects.select_related("consultation"), pk=report_id,
                        not_found="No such report in your reach.")
    audit_record(actor=user, action="read", obj=report, interface=interface, request=request,
                 consultation_id=report.consultation_id)
    return report


def report_draft_visible(*, user: User, report: Report) -> bool:
    """Drafts are the expert's working copy: only the author sees them."""
    return report.author_id == user.id


def report_list(*, user: User, consultation_id: int | None = None) -> QuerySet[Report]:
    rows = scoped(user, Report.objects.select_related("consultation"), VIEW)
    if consultation_id is not None:
        rows = rows.filter(consultation_id=consultation_id)
    return rows.order_by("-created_at", "-id")


def report_versions(*, report: Report) -> list[ReportVersion]:
    """Every signed version stays readable, oldest first (call after report_get checked access)."""
    return list(report.versions.select_related("signed_by", "delivery").order_by("number"))


def version_get(*, user: User, report_id, number, request=None, interface: str = "api") -> ReportVersion:
    version = access_get(user, ReportVersion.objects.select_related(*VERSION_RELATED), report_id=report_id,
                         number=number, not_found="No such report version in your reach.")
    audit_record(actor=user, action="read", obj=version, interface=interface, request=request,
                 consultation_id=version.report.consultation_id)
    return version


def deliveries_pending(*, user: User) -> QuerySet[Delivery]:
    """Signed reports for the user's clinic not yet acknowledged, oldest first (critical ones first)."""
    if user.role not in CLINIC_ROLES:
        return Delivery.objects.none()
    rows = scoped(user, Delivery.objects.select_related("version__report"), VIEW)
    return rows.exclude(state=Delivery.State.ACKNOWLEDGED).order_by("-critical", "created_at", "id")


def deliveries_received(*, user: User, query: str = "", patient_id: int | None = None,
                        consultation_id: int | None = None, since: dt.date | None = None,
                        until: dt.date | None = None, unacknowledged: bool | None = None) -> QuerySet[Delivery]:
    """Every signed report version delivered to the clinics in the user's reach, acknowledged or not:
    the unacknowledged first (critical ones first among them), then the newest signature first.

    `query` is a patient's name (a part), health-record number or whole resident ID number; `since`
    and `until` are days of the signature (inclusive) in the service's time zone."""
    rows = scoped(user, Delivery.objects.select_related(
        "version__report__consultation__patient", "version__report__consultation__specialty"), VIEW)
    patient = "version__report__consultation__patient"
    if query:
        rows = rows.filter(Q(**{f"{patient}__name__icontains": query})
                           | Q(**{f"{patient}__health_record_no__iexact": query})
                           | Q(**{f"{patient}__id_number": query.replace(" ", "").upper()}))
    if patient_id is not None:
        rows = rows.filter(**{f"{patient}_id": patient_id})
    if consultation_id is not None:
        rows = rows.filter(version__report__consultation_id=consultation_id)
    if since is not None:
        rows = rows.filter(version__signed_at__gte=_day_start(since))
    if until is not None:
        rows = rows.filter(version__signed_at__lt=_day_start(until + dt.timedelta(days=1)))
    if unacknowledged is not None:
        acknowledged = Q(state=Delivery.State.ACKNOWLEDGED)
        rows = rows.exclude(acknowledged) if unacknowledged else rows.filter(acknowledged)
    rank = Case(When(state=Delivery.State.ACKNOWLEDGED, then=Value(2)), When(critical=True, then=Value(0)),
                default=Value(1), output_field=IntegerField())
    return rows.annotate(rank=rank).order_by("rank", "-version__signed_at", "-id")


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_deliveries_listed(*, user: User, deliveries, request=None) -> None:
    audit_record_many(actor=user, action="read", objs=[d.version.report for d in deliveries], interface="api",
                      request=request)


def pending_report_events(*, user: User) -> list[dict]:
    """What a clinic's socket is sent on (re)connect: every pending report, as 'report.pending' frames.

    Ids and flags only (no patient data), so nothing here is a read of the record.
    """
    rows = deliveries_pending(user=user).select_related("version__report")[:200]
    return [report_event(delivery, delivery.version, "report.pending") for delivery in rows]


def version_verify(*, code: str) -> ReportVersion:
    """The public check behind the QR code: proves a printed report is genuine and current."""
    version = ReportVersion.objects.select_related("report", "signed_by").filter(verification_code=code).first()
    if version is None:
        raise NotFound("No report carries this verification code.")
    return version


def patient_link_open(*, token: str, request=None) -> ReportVersion:
    link = PatientLink.objects.select_related("version__report").filter(token=token).first()
    if link is None:
        raise NotFound("This link is not valid.")
    if link.revoked_at or link.expires_at <= timezone.now():
        raise Gone("This link has expired; ask your doctor for a new one.", code="expired")
    version = link.version
    audit_record(actor=None, action="read", obj=version, interface="link", request=request,
                 consultation_id=version.report.consultation_id, detail={"patient_link": link.pk})
    return version


def quality_reads(*, user: User, request=None) -> list:
    """The second reads assigned to this expert and not yet recorded, each with the version read."""
    from .models import QualitySample

    rows = list(QualitySample.objects.filter(second_reader__user=user, read_at__isnull=True)
                .select_related("version__report__consultation"))
    audit_record_many(actor=user, action="read", objs=[sample.version for sample in rows], interface="api",
                      request=request)
    return rows


def arrivals_since(*, user_ids: list[int], since) -> list[tuple[int, dict]]:
    """Reports delivered (not yet acknowledged) since `since`, as (user id, 'report.arrived' payload)
    for each of `user_ids` the delivery was sent to: the clinic's doctors and the requesting doctor,
    as delivery_deliver chose them. What notifications/consumers.py resends when the live nudge
    was lost. Ids and flags only, as pending_report_events."""
    rows = list(Delivery.objects.filter(state=Delivery.State.DELIVERED, delivered_at__gte=since)
                .select_related("version__report__consultation").order_by("delivered_at", "id")[:200])
    if not rows:
        return []
    users = list(User.objects.filter(pk__in=user_ids, is_active=True).values_list("pk", "role", "organisation_id"))
    out = []
    for delivery in rows:
        requester = delivery.version.report.consultation.requested_by_id
        for user_id, role, organisation_id in users:
            if user_id == requester or (role in CLINIC_ROLES and organisation_id == delivery.organisation_id):
                out.append((user_id, report_event(delivery, delivery.version, "report.arrived")))
    return out
