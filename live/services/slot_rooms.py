"""Rooms opened by the clock: a live consultation booked into a cloud-clinic slot gets its room a few
minutes before the slot starts, so that the expert and the village doctor find it open (the doctor
may still open it earlier by hand). Run by beat (live/schedules.py); safe to run any time, twice,
or in two workers at once (the one-open-room-per-consultation constraint has the last word)."""
import datetime as dt
from types import SimpleNamespace

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from consult.models import Consultation
from scheduling.models import ACTIVE_BOOKING, Booking
from teleclinic.events import send_event_on_commit

from ..models import Room
from .rooms import HOSTING_ROLES, room_create

SYSTEM = SimpleNamespace(username="system:live-rooms", is_authenticated=False)
DONE = (Consultation.State.REPORTED, Consultation.State.CLOSED, Consultation.State.CANCELLED)


def rooms_open_for_booked_slots(*, now: dt.datetime | None = None, limit: int = 200) -> list[int]:
    """Open the room of every live consultation whose booked slot starts within LIVE_ROOM_OPEN_BEFORE_SECONDS
    (or has started and not ended), unless it has an open room or had one opened since that moment (a room
    the doctor closed stays closed). Returns the ids of the rooms opened."""
    now = now or timezone.now()
    lead = dt.timedelta(seconds=settings.LIVE_ROOM_OPEN_BEFORE_SECONDS)
    due = (Booking.objects.filter(status__in=ACTIVE_BOOKING, consultation__mode=Consultation.Mode.LIVE,
                                  slot__starts_at__lte=now + lead, slot__ends_at__gt=now)
           .exclude(consultation__state__in=DONE)
           .select_related("slot", "booked_by", "consultation__requested_by", "consultation__assigned_expert")
           .order_by("slot__starts_at", "pk")[:limit])
    opened = []
    for booking in due:
        room = _open_for(booking, since=booking.slot.starts_at - lead)
        if room is not None:
            opened.append(room.pk)
    return opened


def _open_for(booking: Booking, *, since: dt.datetime) -> Room | None:
    consultation = booking.consultation
    if Room.objects.filter(Q(state=Room.State.OPEN) | Q(created_at__gte=since), consultation=consultation).exists():
        return None
    host = booking.booked_by if booking.booked_by.role in HOSTING_ROLES else consultation.requested_by
    try:
        with transaction.atomic():
            room = room_create(consultation=consultation, host=host, booking=booking.pk)
            audit_record(actor=SYSTEM, action="create", obj=consultation, interface="task",
                         detail={"live_room": room.pk, "booking": booking.pk})
            expert = consultation.assigned_expert
            send_event_on_commit(user_ids=[host.pk, *([expert.user_id] if expert else [])], payload={
                "type": "live.room_opened", "room": room.pk, "consultation": consultation.pk,
                "booking": booking.pk, "starts_at": booking.slot.starts_at.isoformat(),
                "page": f"/live/rooms/{room.pk}/"})
    except IntegrityError:  # another run (or the doctor) opened it a moment ago
        return None
    return room
