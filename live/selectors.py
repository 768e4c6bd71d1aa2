"""Reads of live rooms: a room's details for the API, what a socket is told when it joins."""
from django.conf import settings
from django.db.models import F

from audit.services import audit_record
from directory.models import User

from .ice import client_ice_servers
from . import ecg_wire
from .models import EcgChunk, EcgStream, Participant, Room
from .services.events import events_since, participant_payload
from .services.rooms import room_for_staff


def room_get(*, user: User, room_id: int, request=None) -> Room:
    """An open room's details (who is in it, by name) for its host or a reader whose reach holds
    the consultation (rooms.room_for_staff); the read is audited."""
    room = room_for_staff(user=user, room_id=room_id)
    audit_record(actor=user, action="read", obj=room, interface="api", request=request)
    return room


def room_snapshot(*, participant_id: int) -> dict:
    """The welcome frame: who I am, who is here, the room's last seq, ICE servers.

    A participant the host has not admitted (waiting, left, removed) is told only its own state:
    the room's people, its history and its ECG are for the admitted (security: issue 13)."""
    # one query: everyone in my room (me included, whatever my state), with the room
    people = list(Participant.objects.select_related("room").filter(
        room_id__in=Participant.objects.filter(pk=participant_id).values("room_id")).order_by("id"))
    me = next((p for p in people if p.pk == participant_id), None)
    if me is None:
        raise Participant.DoesNotExist(f"participant {participant_id}")
    room: Room = me.room
    admitted = me.state == Participant.State.ADMITTED
    everyone = [p for p in people if p.state != Participant.State.REMOVED] if admitted else [me]
    return {
        "type": "welcome",
        "room": room.pk,
        "state": room.state,
        "last_seq": room.last_seq if admitted else 0,
        "me": participant_payload(me),
        "participants": [participant_payload(p) for p in everyone],
        "ice_servers": client_ice_servers(
            stun_and_turn=settings.RTC_ICE_SERVERS, turn_urls=settings.TURN_URLS,
            turn_secret=settings.TURN_SECRET, user=f"p{me.pk}", ttl=settings.TURN_TTL),
        "ecg": ecg_stream_live(room_id=room.pk) if admitted else None,
    }


def room_join(*, participant_id: int, last_seq: int | None) -> tuple[dict, int, list[dict]]:
    """What a socket sends on `join`, read in one go: the welcome frame, the seq it resumes after
    (last_seq, or 0 for the whole history) and the first stored events after it (events_since's
    batch: a full batch means there may be more). A participant not admitted gets no history: it
    resumes after the room's last seq (the socket passes on only what concerns it: may_see_event).

    That seq is read before the snapshot: an event committed between the two reads (the host admitting
    this very participant) then follows the welcome instead of being counted as delivered with it."""
    seq_before = Participant.objects.filter(pk=participant_id).values_list("room__last_seq", flat=True).first()
    snapshot = room_snapshot(participant_id=participant_id)
    if snapshot["me"]["state"] != Participant.State.ADMITTED:
        snapshot["after"] = 0  # the client starts afresh when let in
        return snapshot, seq_before, []
    after = 0 if last_seq is None else min(last_seq, snapshot["last_seq"])
    snapshot["after"] = after  # the events that follow start after this seq (0: the whole history)
    return snapshot, after, events_since(room_id=snapshot["room"], after_seq=after)


def may_see_event(*, participant_id: int, admitted: bool, event: dict) -> bool:
    """Whether a socket of this participant is sent this room event: all of them once admitted;
    before that, only the events about itself (joined, presence, admitted, removed, left)."""
    if admitted:
        return True
    about = event["data"].get("participant")
    return event["participant"] == participant_id and (about is None or about.get("id") == participant_id)


def participant_state(*, participant_id: int) -> str:
    return Participant.objects.values_list("state", flat=True).get(pk=participant_id)


def ecg_stream_live(*, room_id: int) -> dict | None:
    """The room's live ECG stream as the welcome frame shows it, or None. `next_seq` is the chunk its
    sender sends next (a device resumes from there after a reconnect)."""
    stream = EcgStream.objects.filter(room_id=room_id, state=EcgStream.State.LIVE).first()
    if stream is None:
        return None
    return {"stream": stream.pk, "source": stream.source, "started_by": stream.started_by_id,
            "leads": stream.lead_names, "sampling_rate": stream.sampling_rate, "units": "uV",
            "encoding": ecg_wire.ENCODING, "ecg": stream.replay_of_id, "next_seq": stream.n_chunks,
            "n_samples": stream.n_samples}


def ecg_chunks_since(*, stream_id: int, after_seq: int, up_to: int | None = None, limit: int = 100) -> list[dict]:
    """Chunk frames of a stream with seq > after_seq (and <= up_to), oldest first, but none older than
    LIVE_ECG_BACKFILL_SECONDS before the newest sample: a socket catching up gets the recent part."""
    stream = EcgStream.objects.filter(pk=stream_id).values("n_samples", "sampling_rate", "lead_names").first()
    if stream is None:
        return []
    window_start = stream["n_samples"] - int(settings.LIVE_ECG_BACKFILL_SECONDS * stream["sampling_rate"])
    rows = EcgChunk.objects.filter(stream_id=stream_id, seq__gt=after_seq)
    rows = rows.exclude(start__lte=window_start - F("n_samples"))  # keep those ending inside the window
    if up_to is not None:
        rows = rows.filter(seq__lte=up_to)
    return [ecg_wire.chunk_frame(stream=stream_id, seq=seq, start=start, raw=bytes(raw),
                                 lead_names=stream["lead_names"])
            for seq, start, raw in rows.order_by("seq").values_list("seq", "start", "samples")[:limit]]
