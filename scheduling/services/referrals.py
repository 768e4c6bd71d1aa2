"""双向转诊: upward referral through a green-channel slot, acceptance and arrival; downward with a follow-up plan."""
import datetime as dt

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from consult.models import Consultation
from directory.access import CHANGE, can, is_admin
from directory.models import Patient, Specialty, User
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted
from teleclinic.events import send_event_on_commit

from ..models import ACTIVE_BOOKING, Booking, CloudClinicSession, FollowUpTask, Referral, Slot
from .bookings import BOOKERS, book_slot_locked, may_act_for
from .locks import lock_referral

CLINIC_ROLES = (User.Role.VILLAGE_DOCTOR, User.Role.TOWNSHIP_DOCTOR)


def _clinic_staff(org_id: int) -> list[int]:
    return list(User.objects.filter(organisation_id=org_id, role__in=CLINIC_ROLES, is_active=True)
                .values_list("pk", flat=True))


def _coordinators(community_id: int) -> list[int]:
    return list(User.objects.filter(organisation__community_id=community_id, role=User.Role.COORDINATOR,
                                    is_active=True).values_list("pk", flat=True))


def _referrer_inputs(by: User, patient_id: int, consultation_id: int | None):
    """A clinic doctor refers their own patient; an expert recommends for a consultation assigned to them."""
    consultation = None
    if consultation_id is not None:
        consultation = Consultation.objects.filter(pk=consultation_id).first()
        if consultation is None or not can(by, CHANGE, consultation):
            raise NotFound("No such consultation in your reach.")
        patient_id = consultation.patient_id
    if by.role == User.Role.EXPERT and consultation is None:
        raise InvalidInput("An expert recommends a referral from a consultation.", code="consultation_required")
    if by.role not in (*BOOKERS, User.Role.EXPERT):
        raise NotPermitted("Only doctors, experts and coordinators refer patients.")
    patient = Patient.objects.select_related("home_clinic").filter(pk=patient_id).first()
    if patient is None or not may_act_for(by, patient):
        raise NotFound("No such patient in your reach.")
    return patient, consultation


def _green_slot(slot_id: int | None, specialty_id: int | None, community_id: int) -> int:
    if slot_id is not None:
        if not Slot.objects.filter(pk=slot_id, kind=Slot.Kind.GREEN_CHANNEL).exists():
            raise InvalidInput("Upward referrals book green-channel slots only.", code="not_green_channel")
        return slot_id
    free = (Slot.objects.filter(kind=Slot.Kind.GREEN_CHANNEL, starts_at__gt=timezone.now(),
                                session__state=CloudClinicSession.State.SCHEDULED,
                                session__organisation__community_id=community_id, session__specialty_id=specialty_id)
            .exclude(bookings__status__in=ACTIVE_BOOKING).order_by("starts_at", "pk").first())
    if free is None:
        raise Conflict("No green-channel slot is free for this specialty; ask the coordinator.",
                       code="no_green_channel_slot")
    return free.pk


def referral_up_create(*, by: User, patient_id: int | None = None, consultation_id: int | None = None,
                       slot_id: int | None = None, specialty_code: str = "", reason: str = "",
                       request=None) -> Referral:
    """Book a green-channel slot at the lead hospital (the given one, or the earliest free) and refer up."""
    patient, consultation = _referrer_inputs(by, patient_id, consultation_id)
    specialty_id = consultation.specialty_id if consultation else \
        Specialty.objects.filter(code=specialty_code).values_list("pk", flat=True).first()
    if slot_id is None and specialty_id is None:
        raise InvalidInput("Give a slot, a consultation or a specialty.", code="unknown_specialty")
    community_id = patient.home_clinic.community_id
    with transaction.atomic():
        booking = book_slot_locked(slot_id=_green_slot(slot_id, specialty_id, community_id), patient=patient,
                                   consultation=None, by=by, request=request, via_referral=True)
        session = booking.slot.session
        referral = Referral.objects.create(
            direction=Referral.Direction.UP, state=Referral.State.REQUESTED, patient=patient,
            consultation=consultation, from_org=patient.home_clinic, to_org=session.organisation, created_by=by,
            booking=booking, reason=reason)
        audit_record(actor=by, action="create", obj=referral, interface="api", request=request)
        payload = {"type": "referral.requested", "referral": referral.pk, "slot": booking.slot_id,
                   "starts_at": booking.slot.starts_at.isoformat()}
        send_event_on_commit(user_ids={session.expert.user_id, *_coordinators(community_id),
                                       *_clinic_staff(patient.home_clinic_id)} - {by.pk}, payload=payload)
    return referral


def _lead_side_may_act(by: User, referral: Referral) -> bool:
    if is_admin(by):
        return True
    if by.role == User.Role.COORDINATOR:
        return by.organisation is not None and by.organisation.community_id == referral.to_org.community_id
    return by.role == User.Role.EXPERT and referral.booking.slot.session.expert.user_id == by.pk


def _up_step(referral_id: int, by: User, allowed_from: tuple, to_state: str, request) -> Referral:
    with transaction.atomic():
        referral = lock_referral(referral_id)
        if referral is None or referral.direction != Referral.Direction.UP or not _lead_side_may_act(by, referral):
            raise NotFound("No such referral for your hospital.")
        if referral.state not in allowed_from:
            raise Conflict(f"The referral is {referral.state}.", code="referral_state")
        referral.state = to_state
        if to_state == Referral.State.ARRIVED:
            referral.ended_at = timezone.now()
        referral.save(update_fields=["state", "ended_at", "updated_at"])
        audit_record(actor=by, action="update", obj=referral, interface="api", request=request,
                     detail={"state": to_state})
        send_event_on_commit(user_ids={referral.created_by_id, *_clinic_staff(referral.from_org_id)}, payload={
            "type": f"referral.{to_state}", "referral": referral.pk})
    return referral


def referral_accept(*, referral_id: int, by: User, request=None) -> Referral:
    """The lead hospital (coordinator or the slot's expert) accepts the upward referral."""
    return _up_step(referral_id, by, (Referral.State.REQUESTED,), Referral.State.ACCEPTED, request)


def referral_arrive(*, referral_id: int, by: User, request=None) -> Referral:
    """The lead hospital confirms the patient arrived; the booking is marked arrived."""
    with transaction.atomic():
        referral = _up_step(referral_id, by, (Referral.State.REQUESTED, Referral.State.ACCEPTED),
                            Referral.State.ARRIVED, request)
        Booking.objects.filter(pk=referral.booking_id, status=Booking.Status.BOOKED).update(status=Booking.Status.ARRIVED)
    return referral


def referral_down_create(*, by: User, patient_id: int | None = None, consultation_id: int | None = None,
                         summary: str, plan: list[dict], request=None) -> Referral:
    """Send the patient back to their village clinic; each plan item {title, due_in_days} becomes a task."""
    if not (is_admin(by) or by.role in (User.Role.EXPERT, User.Role.COORDINATOR)):
        raise NotPermitted("Downward referrals come from the lead hospital.")
    patient, consultation = _referrer_inputs(by, patient_id, consultation_id)
    if not plan:
        raise InvalidInput("A downward referral carries a follow-up plan.", code="plan_required")
    today = timezone.localdate()
    with transaction.atomic():
        referral = Referral.objects.create(
            direction=Referral.Direction.DOWN, state=Referral.State.SENT, patient=patient, consultation=consultation,
            from_org_id=by.organisation_id, to_org=patient.home_clinic, created_by=by, summary=summary)
        FollowUpTask.objects.bulk_create([
            FollowUpTask(referral=referral, patient=patient, organisation=patient.home_clinic, title=item["title"],
                         due_on=today + dt.timedelta(days=item["due_in_days"])) for item in plan])
        audit_record(actor=by, action="create", obj=referral, interface="api", request=request)
        send_event_on_commit(user_ids=_clinic_staff(patient.home_clinic_id), payload={
            "type": "referral.sent_back", "referral": referral.pk, "patient": patient.pk, "tasks": len(plan)})
    return referral


def referral_acknowledge(*, referral_id: int, by: User, request=None) -> Referral:
    """The village clinic confirms it has the patient back and the plan."""
    with transaction.atomic():
        referral = lock_referral(referral_id)
        if referral is None or referral.direction != Referral.Direction.DOWN or not (
                is_admin(by) or (by.role in CLINIC_ROLES and by.organisation_id == referral.to_org_id)):
            raise NotFound("No such referral for your clinic.")
        if referral.state != Referral.State.SENT:
            raise Conflict(f"The referral is {referral.state}.", code="referral_state")
        referral.state, referral.ended_at = Referral.State.ACKNOWLEDGED, timezone.now()
        referral.save(update_fields=["state", "ended_at", "updated_at"])
        audit_record(actor=by, action="update", obj=referral, interface="api", request=request,
                     detail={"state": "acknowledged"})
        send_event_on_commit(user_ids=[referral.created_by_id], payload={
            "type": "referral.acknowledged", "referral": referral.pk})
    return referral


def followup_complete(*, task_id: int, by: User, note: str = "", request=None) -> FollowUpTask:
    with transaction.atomic():
        task = FollowUpTask.objects.select_for_update().filter(pk=task_id).first()
        own_clinic = task is not None and by.role in CLINIC_ROLES and by.organisation_id == task.organisation_id
        if task is None or not (is_admin(by) or own_clinic):
            raise NotFound("No such follow-up task for your clinic.")
        if task.state != FollowUpTask.State.OPEN:
            raise Conflict("This follow-up is already done.", code="followup_done")
        task.state, task.done_at, task.done_by, task.note = FollowUpTask.State.DONE, timezone.now(), by, note
        task.save(update_fields=["state", "done_at", "done_by", "note"])
        audit_record(actor=by, action="update", obj=task, interface="api", request=request, detail={"state": "done"})
    return task
