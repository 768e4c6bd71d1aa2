"""Booking cloud-clinic slots: exactly one live booking per slot, enforced by a row lock and a constraint."""
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from consult.lifecycle import Transition, check_transition
from consult.locks import lock_consultation
from consult.models import Consultation
from consult.services import do_book
from directory.access import CHANGE, VIEW, can
from directory.models import Organisation, Patient, User
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted
from teleclinic.events import send_event_on_commit

from ..models import ACTIVE_BOOKING, Booking, Slot
from .locks import lock_slots
from .offers import withdraw_open_offers

BOOKERS = (User.Role.VILLAGE_DOCTOR, User.Role.TOWNSHIP_DOCTOR, User.Role.COORDINATOR, User.Role.ADMIN)


class SlotTaken(Conflict):
    code = "slot_taken"


def check_slot_bookable(*, slot: Slot, org: Organisation | None, via_referral: bool = False) -> None:
    """Raise the reason a slot cannot be booked by this organisation now. Call holding the slot's row lock."""
    session = slot.session
    if slot.starts_at <= timezone.now():
        raise InvalidInput("This slot is in the past.", code="slot_in_past")
    if session.state != session.State.SCHEDULED:
        raise Conflict("The expert is on leave: this session was cancelled.", code="session_cancelled")
    if org is None or org.community_id != session.organisation.community_id:
        raise NotPermitted("This clinic belongs to another medical community.", code="not_eligible")
    if slot.kind == Slot.Kind.GREEN_CHANNEL and not via_referral:
        raise NotPermitted("Green-channel slots are booked through an upward referral.", code="green_channel_only")
    if slot.is_reserved:
        named = set(session.roster.reserved_for.values_list("pk", flat=True))
        if not org.is_grassroots or (named and org.pk not in named):
            raise NotPermitted(
                f"Slot reserved for grassroots clinics until {timezone.localtime(slot.release_at):%Y-%m-%d %H:%M}.",
                code="not_eligible")
    if Booking.objects.filter(slot=slot, status__in=ACTIVE_BOOKING).exists():
        raise SlotTaken("This slot was just taken; please choose another.")


def may_act_for(by: User, patient: Patient) -> bool:
    """Whether `by` may book or refer for the patient: a clinic doctor for a patient of their own reach
    (CHANGE: not one they only read through a break-glass grant or a referral to them), a coordinator for
    one of their community (they route work), an expert for the patient of a consultation of theirs (the
    caller checks that consultation)."""
    if by.role in (User.Role.COORDINATOR, User.Role.EXPERT):
        return can(by, VIEW, patient)
    return can(by, CHANGE, patient)


def _check_booker(by: User, patient_id: int, consultation_id: int | None) -> tuple[Patient, Consultation | None]:
    if by.role not in BOOKERS:
        raise NotPermitted("Only clinic doctors and coordinators book slots.")
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None or not may_act_for(by, patient):
        raise NotFound("No such patient in your reach.")
    consultation = None
    if consultation_id is not None:
        consultation = Consultation.objects.filter(pk=consultation_id).first()
        if consultation is None or not can(by, CHANGE, consultation):
            raise NotFound("No such consultation in your reach.")
        if consultation.patient_id != patient.pk:
            raise InvalidInput("The consultation is about another patient.", code="patient_mismatch")
    return patient, consultation


def booking_create(*, slot_id: int, patient_id: int, consultation_id: int | None = None, by: User,
                   request=None) -> Booking:
    """Book a slot for a patient (and optionally their consultation, which then goes to the session's expert).

    SlotTaken (409), NotPermitted (403: reserved/green-channel/other community), InvalidInput (400: past).
    Green-channel slots are booked only through referral_up_create.
    """
    patient, consultation = _check_booker(by, patient_id, consultation_id)
    with transaction.atomic():
        return book_slot_locked(slot_id=slot_id, patient=patient, consultation=consultation, by=by, request=request)


def book_slot_locked(*, slot_id, patient, consultation, by, request, via_referral=False,
                     rescheduled_from=None) -> Booking:
    """Call inside atomic, once the caller has checked who books for whom (booking_create, booking_reschedule,
    referral_up_create). The slot lock serialises racers; the constraint is the last word."""
    slot = lock_slots(slot_id).get(slot_id)
    if slot is None:
        raise NotFound("No such slot.")
    slot = Slot.objects.select_related("session__organisation", "session__roster", "session__expert").get(pk=slot.pk)
    check_slot_bookable(slot=slot, org=by.organisation, via_referral=via_referral)
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives a lost race
            booking = Booking.objects.create(slot=slot, patient=patient, consultation=consultation, booked_by=by,
                                             booked_org=by.organisation, rescheduled_from=rescheduled_from)
    except IntegrityError:
        raise SlotTaken("This slot was just taken; please choose another.")
    if consultation is not None:
        moving_from = rescheduled_from.slot.session.expert_id if rescheduled_from is not None else None
        _assign_to_session_expert(consultation, slot, booking, moving_from=moving_from, by=by, request=request)
    audit_record(actor=by, action="create", obj=booking, interface="api", request=request)
    send_event_on_commit(user_ids=[slot.session.expert.user_id], payload={
        "type": "booking.created", "booking": booking.pk, "slot": slot.pk,
        "starts_at": slot.starts_at.isoformat()})
    return booking


def _assign_to_session_expert(consultation: Consultation, slot: Slot, booking: Booking, *, moving_from: int | None,
                              by: User, request) -> None:
    """A booked cloud-clinic consultation is the session expert's: it lands in their worklist.

    Call holding the slot's lock. A case held by another expert (other than the one of the booking
    being moved) is refused; an open on-demand offer is withdrawn.
    """
    consultation = lock_consultation(consultation.pk)
    expert_id = slot.session.expert_id
    check_transition(consultation, Transition.BOOK)
    if consultation.assigned_expert_id not in (None, expert_id, moving_from):
        raise Conflict("Another expert already holds this consultation.", code="assigned_elsewhere")
    now = timezone.now()
    withdraw_open_offers(consultation, reason="booked_in_cloud_clinic", now=now)
    do_book(consultation=consultation, expert_id=expert_id, at=now, due_at=slot.ends_at, by=by, request=request,
            detail={"booking": booking.pk, "slot": slot.pk})


def _booking_for_change(booking_id: int, by: User) -> Booking:
    booking = Booking.objects.select_related("patient").filter(pk=booking_id).first()
    if booking is None or not can(by, CHANGE, booking):
        raise NotFound("No such booking in your reach.")
    if booking.status != Booking.Status.BOOKED:
        raise Conflict(f"The booking is already {booking.status}.", code="booking_closed")
    return booking


def booking_cancel(*, booking_id: int, by: User, request=None) -> Booking:
    with transaction.atomic():
        booking = _booking_for_change(booking_id, by)
        lock_slots(booking.slot_id)
        booking = Booking.objects.select_related("slot__session__expert").get(pk=booking.pk)
        if booking.status != Booking.Status.BOOKED:
            raise Conflict(f"The booking is already {booking.status}.", code="booking_closed")
        booking.status, booking.cancelled_at = Booking.Status.CANCELLED, timezone.now()
        booking.save(update_fields=["status", "cancelled_at"])
        audit_record(actor=by, action="update", obj=booking, interface="api", request=request,
                     detail={"status": "cancelled"})
        send_event_on_commit(user_ids=[booking.slot.session.expert.user_id], payload={
            "type": "booking.cancelled", "booking": booking.pk, "slot": booking.slot_id})
    return booking


def booking_reschedule(*, booking_id: int, slot_id: int, by: User, request=None) -> Booking:
    """Move a booking to another slot: both slots locked in pk order; the old one frees only if the new holds."""
    with transaction.atomic():
        old = _booking_for_change(booking_id, by)
        lock_slots(old.slot_id, slot_id)
        old = Booking.objects.select_related("consultation").get(pk=old.pk)
        if old.status != Booking.Status.BOOKED:
            raise Conflict(f"The booking is already {old.status}.", code="booking_closed")
        if old.slot_id == slot_id:
            raise InvalidInput("That is the slot already booked.", code="same_slot")
        old.status, old.cancelled_at = Booking.Status.CANCELLED, timezone.now()
        old.save(update_fields=["status", "cancelled_at"])
        new = book_slot_locked(slot_id=slot_id, patient=old.patient, consultation=old.consultation, by=by,
                               request=request, via_referral=hasattr(old, "referral"), rescheduled_from=old)
        if hasattr(old, "referral"):
            type(old.referral).objects.filter(pk=old.referral.pk).update(booking=new)
    return new
