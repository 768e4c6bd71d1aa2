"""Reads of scheduling data that apply the access scopes and audit every read of patient data."""
import datetime as dt

from django.db.models import Case, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record, audit_record_many
from consult.models import Consultation, Urgency
from directory.access import access_get, VIEW, is_admin, scoped
from directory.models import Expert, User
from studies.selectors import studies_by_consultation
from teleclinic.errors import NotFound, NotPermitted

from .models import (Assignment, Booking, CalendarFeed, CloudClinicSession, FollowUpTask, OnCallShift, Referral, Roster,
                     RosterException, Slot)
from .services.calendar import token_hash

LIVE = (Booking.Status.BOOKED, Booking.Status.ARRIVED)


def _get(user: User, queryset: QuerySet, pk, what: str):
    return access_get(user, queryset, pk=pk, not_found=f"No such {what} in your reach.")


def roster_list(*, user: User) -> QuerySet[Roster]:
    return scoped(user, Roster.objects.select_related("expert__user", "specialty"), VIEW).order_by("id")


def roster_exceptions(*, user: User, roster_id, since: dt.date | None = None) -> QuerySet[RosterException]:
    """A roster's leave days and extra sessions from `since` (today by default), for whoever sees the roster."""
    roster = _get(user, Roster.objects.all(), roster_id, "roster")
    return roster.exceptions.filter(date__gte=since or timezone.localdate()).order_by("date", "id")


def oncall_list(*, user: User, start=None, end=None) -> QuerySet[OnCallShift]:
    """The on-call shifts of the user's community not over by `start` (now) and starting before `end`."""
    rows = OnCallShift.objects.select_related("expert__user", "specialty")
    if not is_admin(user):
        if user.organisation_id is None:
            return rows.none()
        rows = rows.filter(expert__user__organisation__community_id=user.organisation.community_id)
    rows = rows.filter(ends_at__gt=start or timezone.now())
    return (rows.filter(starts_at__lt=end) if end else rows).order_by("starts_at", "id")


def session_list(*, user: User, expert_id=None, specialty: str = "", start=None, end=None) -> QuerySet:
    rows = scoped(user, CloudClinicSession.objects.select_related("expert__user", "specialty"), VIEW)
    if expert_id:
        rows = rows.filter(expert_id=expert_id)
    if specialty:
        rows = rows.filter(specialty__code=specialty)
    return _window(rows, start, end).order_by("starts_at", "id")


def _window(rows, start, end):
    start = start or timezone.now()
    rows = rows.filter(ends_at__gt=start)
    return rows.filter(starts_at__lt=end) if end else rows


def slot_list(*, user: User, specialty: str = "", expert_id=None, start=None, end=None,
              free_only: bool = False) -> QuerySet[Slot]:
    taken = Booking.objects.filter(slot=OuterRef("pk"), status__in=LIVE)
    rows = scoped(user, Slot.objects.select_related("session__expert__user", "session__specialty"), VIEW) \
        .filter(session__state=CloudClinicSession.State.SCHEDULED).annotate(taken=Exists(taken))
    if specialty:
        rows = rows.filter(session__specialty__code=specialty)
    if expert_id:
        rows = rows.filter(session__expert_id=expert_id)
    if free_only:
        rows = rows.filter(taken=False)
    return _window(rows, start, end).order_by("starts_at", "id")


def slot_get(*, user: User, slot_id) -> Slot:
    taken = Booking.objects.filter(slot=OuterRef("pk"), status__in=LIVE)
    return _get(user, Slot.objects.select_related("session__expert__user", "session__specialty")
                .annotate(taken=Exists(taken)), slot_id, "slot")


def session_get(*, user: User, session_id) -> CloudClinicSession:
    return _get(user, CloudClinicSession.objects.select_related("expert__user", "specialty", "organisation"),
                session_id, "schedule")


def booking_list(*, user: User, status: str = "") -> QuerySet[Booking]:
    rows = scoped(user, Booking.objects.select_related("slot__session__expert__user", "slot__session__specialty",
                                                       "patient"), VIEW)
    return (rows.filter(status=status) if status else rows).order_by("slot__starts_at", "id")


def booking_get(*, user: User, booking_id, request=None, interface: str = "api") -> Booking:
    booking = _get(user, Booking.objects.select_related("slot__session__expert__user", "slot__session__specialty",
                                                        "patient"), booking_id, "appointment")
    audit_record(actor=user, action="read", obj=booking, interface=interface, request=request)
    return booking


def audit_listed(*, user: User, rows, request, interface: str = "api") -> None:
    audit_record_many(actor=user, action="read", objs=rows, interface=interface, request=request)


def expert_calendar(*, user: User, start=None, end=None) -> list[CloudClinicSession]:
    """The caller's own sessions with their live bookings (each booking read is audited by the caller)."""
    expert = Expert.objects.filter(user=user).first()
    if expert is None:
        return []
    live = Booking.objects.filter(status__in=LIVE).select_related("patient")
    slots = Slot.objects.prefetch_related(Prefetch("bookings", queryset=live, to_attr="live_bookings"))
    rows = _window(CloudClinicSession.objects.filter(expert=expert).select_related("specialty"), start, end)
    return list(rows.prefetch_related(Prefetch("slots", queryset=slots)).order_by("starts_at"))


def calendar_feed_sessions(*, token: str, days_back: int = 7) -> tuple[Expert, list[CloudClinicSession]]:
    """The sessions behind an iCalendar feed token; NotFound for an unknown (or rotated) token."""
    feed = CalendarFeed.objects.select_related("expert__user").filter(token_sha256=token_hash(token)).first()
    if feed is None:
        raise NotFound("Unknown calendar feed.")
    since = timezone.now() - dt.timedelta(days=days_back)
    live = Exists(Booking.objects.filter(slot=OuterRef("pk"), status__in=LIVE))
    sessions = CloudClinicSession.objects.filter(expert=feed.expert, ends_at__gt=since).select_related(
        "specialty", "organisation").prefetch_related(
        Prefetch("slots", queryset=Slot.objects.annotate(taken=live))).order_by("starts_at")
    return feed.expert, list(sessions)


URGENCY_ORDER = Case(*[When(urgency=u, then=Value(rank)) for u, rank in
                       ((Urgency.STAT, 0), (Urgency.URGENT, 1), (Urgency.ROUTINE, 2))],
                     default=Value(3), output_field=IntegerField())


def worklist_for(expert_user: User, *, request=None, interface: str = "api") -> list[dict]:
    """The expert's reading worklist: assigned and offered consultations, by urgency then due time.

    Each item: {"consultation", "status" ("assigned"|"offered"), "assignment" (the open offer or None),
    "overdue" (past its turnaround target), "slot_starts_at" (booked cloud-clinic time or None),
    "studies" (what there is to read: studies.selectors.studies_by_consultation)}.
    """
    now = timezone.now()
    offers = {a.consultation_id: a for a in Assignment.objects.filter(expert__user=expert_user, status=Assignment.Status.OFFERED)}
    assigned = Q(assigned_expert__user=expert_user, state__in=("assigned", "in_progress"))
    rows = list(
        Consultation.objects.filter(assigned | Q(pk__in=list(offers)))
        .select_related("patient", "specialty", "requesting_org")
        .annotate(rank=URGENCY_ORDER).order_by("rank", F("due_at").asc(nulls_last=True), "created_at", "id"))
    slot_times = dict(Booking.objects.filter(consultation__in=rows, status__in=LIVE)
                      .values_list("consultation_id", "slot__starts_at"))
    studies = studies_by_consultation([c.pk for c in rows])
    audit_record_many(actor=expert_user, action="read", objs=rows, interface=interface, request=request)
    return [{"consultation": c, "status": "offered" if c.pk in offers else "assigned",
             "assignment": offers.get(c.pk), "overdue": bool(c.due_at and c.due_at < now),
             "slot_starts_at": slot_times.get(c.pk), "studies": studies.get(c.pk, [])} for c in rows]


def assignment_list(*, user: User, status: str = "", consultation: int | None = None) -> QuerySet[Assignment]:
    rows = scoped(user, Assignment.objects.select_related("consultation", "expert__user"), VIEW)
    if consultation is not None:
        rows = rows.filter(consultation_id=consultation)
    return (rows.filter(status=status) if status else rows).order_by("-offered_at", "-id")


def referral_list(*, user: User, direction: str = "") -> QuerySet[Referral]:
    rows = scoped(user, Referral.objects.select_related("patient", "booking__slot", "from_org", "to_org"), VIEW)
    return (rows.filter(direction=direction) if direction else rows).order_by("-created_at", "-id")


def referral_get(*, user: User, referral_id, request=None) -> Referral:
    referral = _get(user, Referral.objects.select_related("patient", "booking__slot", "from_org", "to_org")
                    .prefetch_related("follow_ups"), referral_id, "referral")
    audit_record(actor=user, action="read", obj=referral, interface="api", request=request)
    return referral


def followup_list(*, user: User, state: str = "open") -> QuerySet[FollowUpTask]:
    rows = scoped(user, FollowUpTask.objects.select_related("patient", "referral"), VIEW)
    return (rows.filter(state=state) if state else rows).order_by("due_on", "id")


def experts_to_assign(*, user: User, specialty: str, consultation_id: int | None = None) -> list[Expert]:
    """The experts of one specialty in the user's community a coordinator may give a case to, each
    annotated with `load` (cases held plus offers pending), `on_duty` (in a session or on call
    now) and `declined` (declined an offer of `consultation_id`); those who declined last, then on
    duty first, then least loaded. Coordinators and admins only; 404 for an unknown specialty."""
    from directory.access import is_admin
    from directory.models import Specialty

    from .services.assignments import expert_load, on_duty_experts

    if not (is_admin(user) or user.role == User.Role.COORDINATOR):
        raise NotPermitted("Only coordinators assign consultations by hand.")
    subject = Specialty.objects.filter(code=specialty).first()
    if subject is None:
        raise NotFound("No such specialty.")
    rows = Expert.objects.filter(specialties=subject).select_related("user")
    if not is_admin(user):
        rows = rows.filter(user__organisation__community_id=user.organisation.community_id)
    if consultation_id is not None:  # who declined a case is for the coordinators who may see that case
        access_get(user, Consultation.objects.all(), VIEW, pk=consultation_id,
                   not_found="No such consultation in your reach.")
    on_duty = set(on_duty_experts(specialty_id=subject.pk, now=timezone.now()).values_list("pk", flat=True))
    experts = list(rows.filter(user__is_active=True).annotate(load=expert_load()))
    declined = declined_by(consultation_id=consultation_id) if consultation_id else set()
    for expert in experts:
        expert.on_duty = expert.pk in on_duty
        expert.declined = expert.pk in declined
    return sorted(experts, key=lambda e: (e.declined, not e.on_duty, e.load, e.pk))


def escalations_for(*, user: User, request=None) -> list[Consultation]:
    """The escalated consultations in the coordinator's reach, most urgent and oldest first, each with
    why it is escalated: `escalation_reason` (the code the escalation was recorded with:
    no_expert_available, requested, ...), `declines` (the experts who declined, with their reasons),
    `expired` (offers nobody answered) and `escalated_at`. Coordinators and admins only; each read audited."""
    if not (is_admin(user) or user.role == User.Role.COORDINATOR):
        raise NotPermitted("Only coordinators see the escalations.")
    rank = Case(When(urgency=Urgency.STAT, then=Value(0)), When(urgency=Urgency.URGENT, then=Value(1)),
                default=Value(2), output_field=IntegerField())
    rows = list(scoped(user, Consultation.objects.select_related("patient", "specialty", "requesting_org"), VIEW)
                .filter(state=Consultation.State.ESCALATED).annotate(rank=rank).order_by("rank", "created_at", "id"))
    ids = [c.pk for c in rows]
    offers: dict[int, list[Assignment]] = {pk: [] for pk in ids}
    for offer in (Assignment.objects.filter(consultation_id__in=ids).select_related("expert__user")
                  .order_by("offered_at", "id")):
        offers[offer.consultation_id].append(offer)
    escalated: dict[int, AuditEvent] = {}
    for event in (AuditEvent.objects.filter(object_type="Consultation", object_id__in=[str(pk) for pk in ids],
                                            detail__transition="escalate").order_by("at", "id")):
        escalated[int(event.object_id)] = event  # the latest escalation of each
    for consultation in rows:
        event = escalated.get(consultation.pk)
        consultation.escalation_reason = (event.detail.get("reason") if event else "") or ""
        consultation.escalated_at = event.at if event else consultation.updated_at
        consultation.declines = [{"expert": o.expert_id, "expert_name": str(o.expert.user), "reason": o.reason,
                                  "decline_code": o.decline_code, "at": o.decided_at} for o in offers[consultation.pk]
                                 if o.status == Assignment.Status.DECLINED]
        consultation.expired = sum(o.status == Assignment.Status.EXPIRED for o in offers[consultation.pk])
    audit_record_many(actor=user, action="read", objs=rows, interface="api", request=request)
    return rows


def declined_by(*, consultation_id: int) -> set[int]:
    """The experts who declined an offer of this consultation."""
    return set(Assignment.objects.filter(consultation_id=consultation_id, status=Assignment.Status.DECLINED)
               .values_list("expert_id", flat=True))
