"""On-demand assignment: offer a consultation to the best on-duty expert, accept/decline/expire, escalate.

Lock order everywhere: the consultation row, then its assignment row, then the expert row.
"""
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.services import audit_record
from consult.lifecycle import OFFERABLE, Transition, allows
from consult.locks import lock_consultation
from consult.models import Consultation, Urgency
from consult.services import do_assign, do_escalate, do_offer
from directory.access import CHANGE, can, is_admin
from directory.models import Expert, User
from teleclinic.errors import Conflict, Gone, NotFound, NotPermitted
from teleclinic.events import enqueue_on_commit, send_event_on_commit

from ..models import Assignment, CloudClinicSession, OnCallShift
from .locks import lock_assignment
from .offers import lapse_offer, withdraw_open_offers

S = Consultation.State
OPEN_WORK = (S.ASSIGNED, S.IN_PROGRESS)
OFFERED = Assignment.Status.OFFERED


def offer_timeout(urgency: str) -> dt.timedelta:
    return dt.timedelta(seconds=settings.SCHEDULING_OFFER_TIMEOUTS[urgency])


def _count(queryset, column: str):
    """A correlated COUNT(*) subquery (served by the (expert, state) indexes)."""
    rows = queryset.order_by().values(column).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def on_duty_experts(*, specialty_id: int, now: dt.datetime):
    """Experts of the specialty in a cloud-clinic session now, on an on-call shift now, or flagged on call."""
    in_session = CloudClinicSession.objects.filter(expert=OuterRef("pk"), specialty_id=specialty_id,
                                                   state=CloudClinicSession.State.SCHEDULED, starts_at__lte=now, ends_at__gt=now)
    on_shift = OnCallShift.objects.filter(expert=OuterRef("pk"), specialty_id=specialty_id, starts_at__lte=now,
                                          ends_at__gt=now)
    return Expert.objects.filter(specialties=specialty_id).filter(
        Q(on_call=True) | Exists(in_session) | Exists(on_shift))


def expert_load():
    """An expert's open work, for annotating Expert rows: cases held plus offers pending."""
    return (_count(Consultation.objects.filter(assigned_expert=OuterRef("pk"), state__in=OPEN_WORK), "assigned_expert")
            + _count(Assignment.objects.filter(expert=OuterRef("pk"), status=OFFERED), "expert"))


def candidates(*, consultation: Consultation, now: dt.datetime, exclude=()):
    """On-duty experts not yet tried and under capacity: previous expert of the patient first, then least loaded."""
    tried = Assignment.objects.filter(consultation=consultation).values("expert_id")
    load = expert_load()
    previous = Consultation.objects.filter(patient_id=consultation.patient_id, assigned_expert=OuterRef("pk")) \
        .exclude(pk=consultation.pk)
    return (on_duty_experts(specialty_id=consultation.specialty_id, now=now)
            .exclude(pk__in=tried).exclude(pk__in=list(exclude))
            .annotate(load=load, continuity=Exists(previous))
            .filter(load__lt=F("max_open_assignments"))
            .order_by("-continuity", "load", "pk"))


def _choose_and_lock(consultation: Consultation, now: dt.datetime) -> Expert | None:
    """Pick the best candidate, then lock its row and re-check its load (two offers may race for it)."""
    full: list[int] = []
    for _ in range(5):
        expert = candidates(consultation=consultation, now=now, exclude=full).first()
        if expert is None:
            return None
        Expert.objects.select_for_update().filter(pk=expert.pk).get()
        recount = candidates(consultation=consultation, now=now, exclude=full).filter(pk=expert.pk).exists()
        if recount:
            return expert
        full.append(expert.pk)
    return None


def _offer_next(consultation: Consultation, now: dt.datetime, by: User | None = None) -> Assignment | None:
    """Call holding the consultation's row lock. Offers to the next expert, or escalates."""
    expert = _choose_and_lock(consultation, now)
    if expert is None:
        _escalate(consultation, reason="no_expert_available", by=by)
        return None
    assignment = Assignment.objects.create(consultation=consultation, expert=expert,
                                           expires_at=now + offer_timeout(consultation.urgency))
    do_offer(consultation=consultation, detail={"assignment": assignment.pk, "expert": expert.pk}, by=by,
             interface="api" if by else "task")
    _notify_offer(assignment, consultation)
    send_event_on_commit(user_ids=[consultation.requested_by_id], payload={
        "type": "consultation.offered", "consultation": consultation.pk,
        "expires_at": assignment.expires_at.isoformat()})
    return assignment


def _notify_offer(assignment: Assignment, consultation: Consultation) -> None:
    send_event_on_commit(user_ids=[assignment.expert.user_id], payload={
        "type": "assignment.offered", "assignment": assignment.pk, "consultation": consultation.pk,
        "urgency": consultation.urgency, "specialty": consultation.specialty_id,
        "expires_at": assignment.expires_at.isoformat()})
    # The timer: a task due when the offer lapses. The sweeper in schedules.py is the safety net
    # if this message is lost with a worker; the status guard makes any second run a no-op. (On the
    # Redis broker an eta beyond the visibility timeout, e.g. a 4 h routine offer, may be delivered
    # twice; in the eager embedded default it runs at once and does nothing, and beat's sweeper acts.)
    enqueue_on_commit("scheduling.expire_assignment", assignment.pk, eta=assignment.expires_at)


def assignment_request(*, consultation_id: int, by: User | None = None) -> Assignment | None:
    """Offer a consultation to an on-duty expert now. `by=None` is the system (e.g. studies ingest).

    Returns the open offer (an existing one is returned as is), or None when nobody is on duty and
    the consultation was escalated to the coordinators. Conflict if it already has an expert.
    """
    with transaction.atomic():
        consultation = _consultation_for_change(consultation_id, by)
        if consultation.assigned_expert_id is not None:
            raise Conflict("The consultation already has an expert.", code="already_assigned")
        if not allows(consultation.state, Transition.OFFER):
            raise Conflict(f"The consultation is {consultation.state}.", code="not_offerable")
        current = Assignment.objects.filter(consultation=consultation, status=OFFERED).first()
        if current is not None:
            return current
        return _offer_next(consultation, timezone.now(), by)


def consultation_requested_route(*, consultation: Consultation, **_) -> None:
    """A new live consultation is offered to an on-duty expert at once, as an async one is when its
    study arrives (studies/services/notify.py); nobody on duty: the coordinators are told. Called inside
    the request's transaction (consult's `consultation_requested`)."""
    if consultation.mode == Consultation.Mode.LIVE:
        assignment_request(consultation_id=consultation.pk)


def _consultation_for_change(consultation_id: int, by: User | None) -> Consultation:
    consultation = lock_consultation(consultation_id)
    if consultation is None or (by is not None and not can(by, CHANGE, consultation)):
        raise NotFound("No such consultation in your reach.")
    return consultation


def _decide(assignment_id: int, by: User) -> tuple[Assignment, Consultation]:
    """Lock the consultation then the offer; the offer must be open and addressed to `by`."""
    row = Assignment.objects.filter(pk=assignment_id).values("consultation_id", "expert__user_id").first()
    if row is None or row["expert__user_id"] != by.id:
        raise NotFound("No such offer for you.")
    consultation = lock_consultation(row["consultation_id"])
    assignment = lock_assignment(assignment_id)
    if assignment.status != Assignment.Status.OFFERED:
        raise Conflict(f"This offer is already {assignment.status}.", code="offer_closed")
    if assignment.expires_at <= timezone.now():
        raise Gone("This offer has expired and is going to the next expert.", code="offer_expired")
    return assignment, consultation


def assignment_accept(*, assignment_id: int, by: User, request=None) -> Assignment:
    with transaction.atomic():
        assignment, consultation = _decide(assignment_id, by)
        now = timezone.now()
        assignment.status, assignment.decided_at = Assignment.Status.ACCEPTED, now
        assignment.save(update_fields=["status", "decided_at"])
        _take(consultation, assignment.expert_id, now, by=by, request=request,
              detail={"assignment": assignment.pk, "status": "accepted"})
    return assignment


def _take(consultation: Consultation, expert_id: int, now: dt.datetime, *, by: User, request, detail: dict) -> None:
    due_at = consultation.due_at or consultation.created_at + dt.timedelta(
        seconds=settings.SCHEDULING_TURNAROUND[consultation.urgency])
    do_assign(consultation=consultation, expert_id=expert_id, at=now, due_at=due_at, by=by, request=request,
              detail=detail)
    send_event_on_commit(user_ids=[consultation.requested_by_id], payload={
        "type": "consultation.assigned", "consultation": consultation.pk, "expert": expert_id})


def assignment_decline(*, assignment_id: int, by: User, reason: str = "", code: str = "",
                       request=None) -> Assignment:
    """The expert says no, with a reason (a choice and/or their words): the offer goes to the next expert at once."""
    with transaction.atomic():
        assignment, consultation = _decide(assignment_id, by)
        now = timezone.now()
        assignment.status, assignment.decided_at, assignment.reason = Assignment.Status.DECLINED, now, reason[:200]
        assignment.decline_code = code
        assignment.save(update_fields=["status", "decided_at", "reason", "decline_code"])
        audit_record(actor=by, action="update", obj=consultation, interface="api", request=request,
                     detail={"assignment": assignment.pk, "status": "declined", "decline_code": code})
        _offer_next(consultation, now)
    return assignment


def assignment_expire(*, assignment_id: int, now: dt.datetime | None = None) -> bool:
    """Lapse an unanswered offer and offer the case to the next expert. Safe to run twice: False if nothing to do."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation_id = Assignment.objects.filter(pk=assignment_id).values_list("consultation_id", flat=True).first()
        if consultation_id is None:
            return False
        consultation = lock_consultation(consultation_id)
        assignment = lock_assignment(assignment_id)
        if assignment.status != Assignment.Status.OFFERED or assignment.expires_at > now:
            return False
        lapse_offer(assignment, now=now)
        _offer_next(consultation, now)
    return True


def assignments_sweep(*, now: dt.datetime | None = None) -> int:
    """Expire every lapsed offer (the safety net behind the per-offer timers)."""
    now = now or timezone.now()
    ids = list(Assignment.objects.filter(status=OFFERED, expires_at__lte=now).values_list("pk", flat=True)[:500])
    return sum(assignment_expire(assignment_id=pk, now=now) for pk in ids)


def _escalate(consultation: Consultation, *, reason: str, by: User | None = None) -> None:
    """Call holding the consultation's row lock."""
    withdraw_open_offers(consultation, reason=reason, now=timezone.now())
    do_escalate(consultation=consultation, reason=reason, by=by, interface="api" if by else "task")
    community = consultation.requesting_org.community_id
    coordinators = User.objects.filter(role=User.Role.COORDINATOR, organisation__community_id=community,
                                       is_active=True).values_list("pk", flat=True)
    send_event_on_commit(user_ids=[*coordinators, consultation.requested_by_id], payload={
        "type": "consultation.escalated", "consultation": consultation.pk, "urgency": consultation.urgency,
        "reason": reason})


def consultation_escalate(*, consultation_id: int, reason: str = "requested", by: User | None = None) -> Consultation:
    """Hand a consultation to the coordinators (withdraws any open offer)."""
    with transaction.atomic():
        consultation = _consultation_for_change(consultation_id, by)
        if not allows(consultation.state, Transition.ESCALATE):
            raise Conflict(f"The consultation is {consultation.state}.", code="not_offerable")
        _escalate(consultation, reason=reason, by=by)
    return consultation


def consultation_assign(*, consultation_id: int, expert_id: int, by: User, request=None) -> Assignment:
    """A coordinator resolves an escalation by giving the case to a named expert of the specialty."""
    if not (is_admin(by) or by.role == User.Role.COORDINATOR):
        raise NotPermitted("Only coordinators assign consultations by hand.")
    with transaction.atomic():
        consultation = _consultation_for_change(consultation_id, by)
        if not allows(consultation.state, Transition.ASSIGN):
            raise Conflict(f"The consultation is {consultation.state}.", code="not_offerable")
        expert = Expert.objects.filter(pk=expert_id, specialties=consultation.specialty_id).first()
        if expert is None:
            raise NotFound("No such expert of this specialty.")
        now = timezone.now()
        withdraw_open_offers(consultation, reason="assigned_by_coordinator", now=now)
        assignment = Assignment.objects.create(consultation=consultation, expert=expert, expires_at=now,
                                               status=Assignment.Status.ACCEPTED, decided_at=now)
        _take(consultation, expert.pk, now, by=by, request=request,
              detail={"assignment": assignment.pk, "status": "assigned_by_coordinator"})
        send_event_on_commit(user_ids=[expert.user_id], payload={
            "type": "consultation.assigned_to_you", "consultation": consultation.pk, "urgency": consultation.urgency})
    return assignment


def stat_route(*, consultation: Consultation, reason: str) -> None:
    """The expert hears of a critical finding at once (receiver of consult's raised_to_stat; the row is locked).

    An open offer is shortened to the stat timeout and re-sent; an assigned expert is notified;
    a consultation nobody holds is offered now.
    """
    offer = Assignment.objects.select_for_update().filter(consultation=consultation, status=OFFERED).first()
    if offer is not None:
        offer.expires_at = min(offer.expires_at, timezone.now() + offer_timeout(Urgency.STAT))
        offer.save(update_fields=["expires_at"])
        _notify_offer(offer, consultation)
    elif consultation.assigned_expert_id is not None:
        send_event_on_commit(user_ids=[consultation.assigned_expert.user_id], payload={
            "type": "consultation.stat", "consultation": consultation.pk, "reason": reason})
    elif consultation.state in OFFERABLE:
        _offer_next(consultation, timezone.now())


def study_route(*, consultation: Consultation) -> None:
    """A study arrived (receiver of consult's study_arrived, inside the storing transaction): a requested
    async consultation that nobody holds and nobody has been offered is offered to an on-duty expert
    (an escalated one stays with the coordinators; a live one is routed by its booking)."""
    if (consultation.mode != Consultation.Mode.ASYNC or consultation.assigned_expert_id is not None
            or consultation.state != S.REQUESTED):
        return
    if not Assignment.objects.filter(consultation_id=consultation.pk, status=OFFERED).exists():
        assignment_request(consultation_id=consultation.pk)
