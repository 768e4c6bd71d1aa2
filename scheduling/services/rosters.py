"""Rosters: coordinators define recurring cloud-clinic sessions and exceptions; sessions and slots follow."""
import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from directory.models import Expert, Organisation, Specialty, User
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted
from teleclinic.events import send_event_on_commit

from ..models import ACTIVE_BOOKING, Booking, CloudClinicSession, OnCallShift, Roster, RosterException, Slot, session_bounds


def _check_coordinator(by: User, organisation: Organisation) -> None:
    if by.is_superuser or by.role == User.Role.ADMIN:
        return
    if by.role != User.Role.COORDINATOR or by.organisation is None \
            or by.organisation.community_id != organisation.community_id:
        raise NotPermitted("Only a coordinator of this community manages its rosters.")


def roster_create(*, by: User, expert_id: int, specialty_code: str, weekdays: list[int], start_time: dt.time,
                  end_time: dt.time, slot_minutes: int, capacity: int, valid_from: dt.date,
                  valid_until: dt.date | None = None, reserved_share: int = 0, reserved_for_ids=(),
                  release_hours: int = 24, green_channel_slots: int = 0) -> Roster:
    expert = Expert.objects.select_related("user__organisation").filter(pk=expert_id).first()
    if expert is None or expert.user.organisation is None:
        raise NotFound("No such expert.")
    organisation = expert.user.organisation
    _check_coordinator(by, organisation)
    specialty = Specialty.objects.filter(code=specialty_code).first()
    if specialty is None or not expert.specialties.filter(pk=specialty.pk).exists():
        raise InvalidInput(f"The expert does not practise '{specialty_code}'.", code="unknown_specialty")
    _check_pattern(weekdays, start_time, end_time, slot_minutes, capacity, reserved_share, green_channel_slots)
    named = list(Organisation.objects.filter(pk__in=reserved_for_ids))
    if len(named) != len(set(reserved_for_ids)) or any(
            not o.is_grassroots or o.community_id != organisation.community_id for o in named):
        raise InvalidInput("Reserved slots can only be kept for grassroots organisations of this community.",
                           code="not_grassroots")
    with transaction.atomic():
        roster = Roster.objects.create(
            expert=expert, specialty=specialty, organisation=organisation, weekdays=sorted(set(weekdays)),
            start_time=start_time, end_time=end_time, slot_minutes=slot_minutes, capacity=capacity,
            reserved_share=reserved_share, release_hours=release_hours, green_channel_slots=green_channel_slots,
            valid_from=valid_from, valid_until=valid_until, created_by=by)
        roster.reserved_for.set(named)
        roster_generate(roster_id=roster.pk)
    return roster


ROSTER_FIELDS = ("weekdays", "start_time", "end_time", "slot_minutes", "capacity", "reserved_share", "release_hours",
                 "green_channel_slots", "valid_until", "active")


def roster_update(*, by: User, roster_id: int, changes: dict) -> Roster:
    """Change a roster's pattern (or stop it): its future sessions that nobody booked are made again
    from the new pattern; a session with a booking stays as it is (put the day on leave to cancel it)."""
    with transaction.atomic():
        roster = Roster.objects.select_for_update().select_related("organisation").filter(pk=roster_id).first()
        if roster is None:
            raise NotFound("No such roster.")
        _check_coordinator(by, roster.organisation)
        for field in ROSTER_FIELDS:
            if field in changes:
                setattr(roster, field, sorted(set(changes[field])) if field == "weekdays" else changes[field])
        _check_pattern(roster.weekdays, roster.start_time, roster.end_time, roster.slot_minutes, roster.capacity,
                       roster.reserved_share, roster.green_channel_slots)
        if roster.valid_until is not None and roster.valid_until < roster.valid_from:
            raise InvalidInput("The roster must end after it starts.", code="bad_pattern")
        roster.save()
        never_booked = roster.sessions.filter(starts_at__gt=timezone.now()).exclude(slots__bookings__isnull=False)
        CloudClinicSession.objects.filter(pk__in=list(never_booked.values_list("pk", flat=True))).delete()
        roster_generate(roster_id=roster.pk)
    return roster


def _check_pattern(weekdays, start_time, end_time, slot_minutes, capacity, reserved_share, green) -> None:
    if not weekdays or any(d not in range(1, 8) for d in weekdays):
        raise InvalidInput("weekdays: ISO weekdays 1 (Monday) to 7 (Sunday).", code="bad_pattern")
    if end_time <= start_time:
        raise InvalidInput("The session must end after it starts.", code="bad_pattern")
    minutes = (dt.datetime.combine(dt.date.min, end_time) - dt.datetime.combine(dt.date.min, start_time)).seconds // 60
    if slot_minutes < 5 or slot_minutes > minutes:
        raise InvalidInput("The slot length must fit in the session (5 minutes at least).", code="bad_pattern")
    if capacity < 1 or not 0 <= reserved_share <= 100 or green > capacity:
        raise InvalidInput("Capacity must be positive, the reserved share 0-100 %, green-channel slots within it.",
                           code="bad_pattern")


def roster_exception_add(*, by: User, roster_id: int, date: dt.date, kind: str, start_time: dt.time | None = None,
                         end_time: dt.time | None = None, note: str = "") -> RosterException:
    """Leave cancels that day's session (and its bookings, telling the bookers); extra adds one."""
    roster = Roster.objects.select_related("organisation").filter(pk=roster_id).first()
    if roster is None:
        raise NotFound("No such roster.")
    _check_coordinator(by, roster.organisation)
    if kind == RosterException.Kind.EXTRA and (start_time is None or end_time is None or end_time <= start_time):
        raise InvalidInput("An extra session needs a start and an end time.", code="bad_pattern")
    if date < timezone.localdate():
        raise InvalidInput("The date is in the past.", code="in_past")
    with transaction.atomic():
        exception = RosterException.objects.create(roster=roster, date=date, kind=kind, start_time=start_time,
                                                   end_time=end_time, note=note)
        if kind == RosterException.Kind.LEAVE:
            _cancel_sessions_on(roster, date)
        roster_generate(roster_id=roster.pk)
    return exception


def roster_exception_remove(*, by: User, roster_id: int, exception_id: int, cancel_bookings: bool = False) -> dict:
    """Undo a leave day or an extra session that has not begun.

    Undoing leave brings that day's sessions back (bookings the leave cancelled stay cancelled: their
    bookers were told). Undoing an extra session removes it; if patients are booked into it, it is
    refused (409 `session_has_bookings`, with their count) unless `cancel_bookings`, which cancels them
    and tells each booker, as leave does. Returns {"sessions": sessions brought back or removed,
    "bookings_cancelled": n}.
    """
    with transaction.atomic():
        roster = Roster.objects.select_for_update().select_related("organisation").filter(pk=roster_id).first()
        if roster is None:
            raise NotFound("No such roster.")
        _check_coordinator(by, roster.organisation)
        exception = RosterException.objects.filter(pk=exception_id, roster=roster).first()
        if exception is None:
            raise NotFound("No such leave day or extra session of this roster.")
        if exception.date < timezone.localdate():
            raise InvalidInput("This day is past: it stays as it was.", code="in_past")
        tz = ZoneInfo(settings.TIME_ZONE)
        if exception.kind == RosterException.Kind.EXTRA:
            result = _remove_extra_session(roster, exception, tz, cancel_bookings)
            exception.delete()
            return result
        exception.delete()
        still_on_leave = roster.exceptions.filter(date=exception.date, kind=RosterException.Kind.LEAVE).exists()
        back = 0
        if not still_on_leave:
            for session in CloudClinicSession.objects.select_for_update().filter(
                    roster=roster, state=CloudClinicSession.State.CANCELLED, starts_at__gt=timezone.now()):
                if session.starts_at.astimezone(tz).date() == exception.date:
                    session.state = CloudClinicSession.State.SCHEDULED
                    session.save(update_fields=["state"])
                    back += 1
        roster_generate(roster_id=roster.pk)
    return {"sessions": back, "bookings_cancelled": 0}


def _remove_extra_session(roster: Roster, exception: RosterException, tz, cancel_bookings: bool) -> dict:
    starts_at, _ = session_bounds(exception.date, exception.start_time, exception.end_time, tz)
    if _pattern_makes(roster, exception.date, starts_at, tz) or RosterException.objects.filter(
            roster=roster, date=exception.date, kind=RosterException.Kind.EXTRA,
            start_time=exception.start_time).exclude(pk=exception.pk).exists():
        return {"sessions": 0, "bookings_cancelled": 0}  # the session is the roster's own that day: it stays
    session = CloudClinicSession.objects.select_for_update().filter(roster=roster, starts_at=starts_at).first()
    if session is None:
        return {"sessions": 0, "bookings_cancelled": 0}
    if session.starts_at <= timezone.now():
        raise InvalidInput("This extra session has begun: it stays as it was.", code="in_past")
    booked = list(Booking.objects.select_for_update().filter(slot__session=session, status__in=ACTIVE_BOOKING))
    if booked and not cancel_bookings:
        raise Conflict(f"{len(booked)} patient(s) are booked into this extra session: cancel their bookings "
                       "(each booker is told) or keep the session.", code="session_has_bookings")
    for booking in booked:
        booking.status, booking.cancelled_at = Booking.Status.CANCELLED, timezone.now()
        booking.save(update_fields=["status", "cancelled_at"])
        send_event_on_commit(user_ids=[booking.booked_by_id], payload={
            "type": "booking.cancelled", "booking": booking.pk, "reason": "extra_session_withdrawn"})
    if Booking.objects.filter(slot__session=session).exists():  # bookings keep their slot: the session stays, cancelled
        session.state = CloudClinicSession.State.CANCELLED
        session.save(update_fields=["state"])
    else:
        session.delete()
    return {"sessions": 1, "bookings_cancelled": len(booked)}


def _pattern_makes(roster: Roster, date: dt.date, starts_at: dt.datetime, tz) -> bool:
    """Whether the roster's weekly pattern itself has a session starting then."""
    if date < roster.valid_from or (roster.valid_until and date > roster.valid_until):
        return False
    return date.isoweekday() in roster.weekdays and session_bounds(
        date, roster.start_time, roster.end_time, tz)[0] == starts_at


def _cancel_sessions_on(roster: Roster, date: dt.date) -> None:
    sessions = [s for s in CloudClinicSession.objects.select_for_update().filter(roster=roster).order_by("pk")
                if timezone.localtime(s.starts_at).date() == date]
    for session in sessions:
        session.state = CloudClinicSession.State.CANCELLED
        session.save(update_fields=["state"])
        bookings = list(Booking.objects.select_for_update().filter(slot__session=session, status=Booking.Status.BOOKED))
        for booking in bookings:
            booking.status, booking.cancelled_at = Booking.Status.CANCELLED, timezone.now()
            booking.save(update_fields=["status", "cancelled_at"])
            send_event_on_commit(user_ids=[booking.booked_by_id], payload={
                "type": "booking.cancelled", "booking": booking.pk, "reason": "expert_leave"})


def roster_generate(*, roster_id: int, today: dt.date | None = None, days: int | None = None) -> int:
    """Make the sessions and slots of a roster's rolling window; safe to run again (returns how many new)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    today = today or timezone.localdate()
    days = days or settings.SCHEDULING_ROLLING_DAYS
    with transaction.atomic():
        roster = Roster.objects.select_for_update().get(pk=roster_id)
        if not roster.active:
            return 0
        exceptions = list(roster.exceptions.filter(date__gte=today, date__lt=today + dt.timedelta(days=days)))
        leave = {e.date for e in exceptions if e.kind == RosterException.Kind.LEAVE}
        wanted = []
        for offset in range(days):
            date = today + dt.timedelta(days=offset)
            if date < roster.valid_from or (roster.valid_until and date > roster.valid_until) or date in leave:
                continue
            if date.isoweekday() in roster.weekdays:
                wanted.append(session_bounds(date, roster.start_time, roster.end_time, tz))
        wanted += [session_bounds(e.date, e.start_time, e.end_time, tz) for e in exceptions
                   if e.kind == RosterException.Kind.EXTRA and e.date not in leave]
        existing = set(roster.sessions.values_list("starts_at", flat=True))
        made = 0
        for starts_at, ends_at in sorted(wanted):
            if starts_at in existing or starts_at <= timezone.now():
                continue
            _make_session(roster, starts_at, ends_at)
            made += 1
    return made


def _make_session(roster: Roster, starts_at: dt.datetime, ends_at: dt.datetime) -> CloudClinicSession:
    session = CloudClinicSession.objects.create(
        roster=roster, expert_id=roster.expert_id, specialty_id=roster.specialty_id,
        organisation_id=roster.organisation_id, starts_at=starts_at, ends_at=ends_at)
    length = dt.timedelta(minutes=roster.slot_minutes)
    count = min(roster.capacity, int((ends_at - starts_at) / length))
    reserved = round(count * roster.reserved_share / 100)
    green = min(roster.green_channel_slots, count - reserved)
    release_at = starts_at - dt.timedelta(hours=roster.release_hours)
    slots = []
    for i in range(count):
        # Reserved numbers first (the morning's best times go to the villages), green channel last.
        kind = Slot.Kind.GRASSROOTS if i < reserved else (
            Slot.Kind.GREEN_CHANNEL if i >= count - green else Slot.Kind.OPEN)
        slots.append(Slot(session=session, starts_at=starts_at + i * length, ends_at=starts_at + (i + 1) * length,
                          kind=kind, release_at=release_at if kind == Slot.Kind.GRASSROOTS else None))
    Slot.objects.bulk_create(slots)
    return session


def rosters_generate_all(*, today: dt.date | None = None) -> int:
    return sum(roster_generate(roster_id=pk, today=today) for pk in
               Roster.objects.filter(active=True).values_list("pk", flat=True))


def reserved_slots_release(*, now: dt.datetime | None = None) -> int:
    """Open every reserved slot whose release time has come. Idempotent: released rows are skipped."""
    now = now or timezone.now()
    return Slot.objects.filter(kind=Slot.Kind.GRASSROOTS, released_at__isnull=True, release_at__lte=now) \
        .update(released_at=now)


def oncall_shift_add(*, by: User, expert_id: int, specialty_code: str, starts_at: dt.datetime,
                     ends_at: dt.datetime) -> OnCallShift:
    """Put an expert on the on-call roster: on duty for on-demand offers outside cloud-clinic sessions."""
    expert = Expert.objects.select_related("user__organisation").filter(pk=expert_id).first()
    if expert is None or expert.user.organisation is None:
        raise NotFound("No such expert.")
    _check_coordinator(by, expert.user.organisation)
    specialty = expert.specialties.filter(code=specialty_code).first()
    if specialty is None:
        raise InvalidInput(f"The expert does not practise '{specialty_code}'.", code="unknown_specialty")
    if ends_at <= starts_at or ends_at <= timezone.now():
        raise InvalidInput("The shift must end after it starts, and in the future.", code="bad_pattern")
    return OnCallShift.objects.create(expert=expert, specialty=specialty, starts_at=starts_at, ends_at=ends_at)


def oncall_shift_end(*, by: User, shift_id: int) -> OnCallShift:
    """Take an expert off an on-call shift: a future shift is removed, a running one ends now."""
    with transaction.atomic():
        shift = OnCallShift.objects.select_for_update(of=("self",)).select_related(
            "expert__user__organisation").filter(pk=shift_id).first()
        if shift is None or shift.expert.user.organisation is None:
            raise NotFound("No such on-call shift.")
        _check_coordinator(by, shift.expert.user.organisation)
        now = timezone.now()
        if shift.ends_at <= now:
            raise InvalidInput("This shift is over already.", code="shift_over")
        if shift.starts_at >= now:
            shift.delete()
        else:
            shift.ends_at = now
            shift.save(update_fields=["ends_at"])
    return shift
