"""Reads of live rooms: what a socket is told when it joins."""
from django.conf import settings

from .ice import client_ice_servers
from .models import Participant, Room
from .services.events import participant_payload


def room_snapshot(*, participant_id: int) -> dict:
    """The welcome frame: who I am, who is here, the room's last seq, ICE servers."""
    me = Participant.objects.select_related("room").get(pk=participant_id)
    room: Room = me.room
    everyone = Participant.objects.filter(room=room).exclude(state=Participant.State.REMOVED).order_by("id")
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


def participant_room_id(*, participant_id: int) -> int:
    return Participant.objects.values_list("room_id", flat=True).get(pk=participant_id)


def participant_state(*, participant_id: int) -> str:
    return Participant.objects.values_list("state", flat=True).get(pk=participant_id)
