"""Reads of live rooms: a room's details for the API, what a socket is told when it joins."""
from django.conf import settings

from audit.services import audit_record
from consult.models import Consultation
from directory.access import VIEW, scoped
from directory.models import User
from teleclinic.errors import NotFound

from .ice import client_ice_servers
from .models import Participant, Room
from .services.events import events_since, participant_payload
from .services.rooms import room_for_staff


def room_get(*, user: User, room_id: int, request=None) -> Room:
    """An open room's details (who is in it, by name) for its host or a reader whose reach holds
    the consultation (directory.access); the read is audited. A second expert of the community
    may knock (rooms.room_for_staff) but learns who is in the room only once the host admits them."""
    room = room_for_staff(user=user, room_id=room_id)
    if room.host_id != user.pk and not scoped(user, Consultation.objects.filter(pk=room.consultation_id), VIEW).exists():
        raise NotFound("No such live room in your reach.")
    audit_record(actor=user, action="read", obj=room, interface="api", request=request)
    return room


def room_snapshot(*, participant_id: int) -> dict:
    """The welcome frame: who I am, who is here, the room's last seq, ICE servers."""
    # one query: everyone in my room (me included, whatever my state), with the room
    people = list(Participant.objects.select_related("room").filter(
        room_id__in=Participant.objects.filter(pk=participant_id).values("room_id")).order_by("id"))
    me = next((p for p in people if p.pk == participant_id), None)
    if me is None:
        raise Participant.DoesNotExist(f"participant {participant_id}")
    room: Room = me.room
    everyone = [p for p in people if p.state != Participant.State.REMOVED]
    return {
        "type": "welcome",
        "room": room.pk,
        "state": room.state,
        "last_seq": room.last_seq,
        "me": participant_payload(me),
        "participants": [participant_payload(p) for p in everyone],
        "ice_servers": client_ice_servers(
            stun_and_turn=settings.RTC_ICE_SERVERS, turn_urls=settings.TURN_URLS,
            turn_secret=settings.TURN_SECRET, user=f"p{me.pk}", ttl=settings.TURN_TTL),
    }


def room_join(*, participant_id: int, last_seq: int | None) -> tuple[dict, int, list[dict]]:
    """What a socket sends on `join`, read in one go: the welcome frame, the seq it resumes after
    (last_seq, or 0 for the whole history) and the first stored events after it (events_since's
    batch: a full batch means there may be more)."""
    snapshot = room_snapshot(participant_id=participant_id)
    after = 0 if last_seq is None else min(last_seq, snapshot["last_seq"])
    return snapshot, after, events_since(room_id=snapshot["room"], after_seq=after)


def participant_room_id(*, participant_id: int) -> int:
    return Participant.objects.values_list("room_id", flat=True).get(pk=participant_id)


def participant_state(*, participant_id: int) -> str:
    return Participant.objects.values_list("state", flat=True).get(pk=participant_id)
