"""Writes to rooms and participants: open, join, admit, remove, leave, mute, chat, close.

Every change is stored with a room event (events.event_append) in the same transaction."""
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from consult.models import Consultation
from consult.selectors import consultation_get
from directory.access import CHANGE, VIEW, scoped
from directory.models import User
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted
from teleclinic.events import channel_send_on_commit

from ..models import JoinToken, Participant, Room, Ticket
from .ecg import ecg_streams_stop
from .events import event_append, event_append_said, lock_room, participant_payload as _public

P = Participant
HOSTING_ROLES = (User.Role.VILLAGE_DOCTOR, User.Role.TOWNSHIP_DOCTOR, User.Role.ADMIN)


def room_open(*, by: User, consultation_id: int, request=None) -> tuple[Room, bool]:
    """The village doctor opens the live room of a consultation; (room, created).

    Opening a consultation that has an open room returns that room."""
    if by.role not in HOSTING_ROLES:
        raise NotPermitted("Only the requesting village or township doctor opens a live room.")
    consultation = consultation_get(user=by, consultation_id=consultation_id, action=CHANGE, request=request)
    if consultation.mode != Consultation.Mode.LIVE:
        raise InvalidInput("This consultation is not a live one; change its mode to live first.", code="not_live")
    existing = Room.objects.filter(consultation=consultation, state=Room.State.OPEN).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            room = room_create(consultation=consultation, host=by)
            audit_record(actor=by, action="create", obj=consultation, interface="api", request=request,
                         detail={"live_room": room.pk})
    except IntegrityError:  # a concurrent open won the unique constraint
        return Room.objects.get(consultation=consultation, state=Room.State.OPEN), False
    return room, True


def room_create(*, consultation: Consultation, host: User, **data) -> Room:
    """A new open room with its host admitted; event room.opened (with `data`). Precondition: inside
    transaction.atomic, the host allowed to open it. IntegrityError if the consultation has an open room."""
    room = Room.objects.create(consultation=consultation, host=host)
    participant = P.objects.create(room=room, role=P.Role.HOST, state=P.State.ADMITTED, user=host,
                                   display_name=str(host))
    event_append(room=lock_room(room.pk), kind="room.opened", participant=participant,
                 data={"participant": _public(participant), **data})
    return room


def room_for_staff(*, user: User, room_id: int) -> Room:
    """The open room, if the user may take part: its host, or someone who may see the consultation
    (directory.access: the assigned expert, an expert it is offered to, the requesting clinic's
    reach). Anyone else learns nothing, not even that the room exists (security: issue 13)."""
    room = Room.objects.select_related("consultation__assigned_expert", "consultation__requesting_org").filter(
        pk=room_id).first()
    # cheapest first: the host and the assigned expert are known from the row already
    if room is None or not (room.host_id == user.pk or _assigned_expert(user, room) or
                            scoped(user, Consultation.objects.filter(pk=room.consultation_id), VIEW).exists()):
        raise NotFound("No such live room in your reach.")
    if room.state != Room.State.OPEN:
        raise NotFound("This live room has ended.", code="room_closed")
    return room


def room_of_consultation(*, user: User, consultation_id: int, request=None) -> Room:
    """The open room of a consultation, for a staff member who may take part (the expert's way in:
    only the requesting doctor opens a room). Audited as a read of the consultation."""
    room_id = Room.objects.filter(consultation_id=consultation_id, state=Room.State.OPEN).values_list(
        "pk", flat=True).first()
    if room_id is None:
        raise NotFound("This consultation has no open live room yet.", code="no_room")
    room = room_for_staff(user=user, room_id=room_id)
    audit_record(actor=user, action="read", obj=room.consultation, interface="api", request=request,
                 detail={"live_room": room.pk})
    return room


def _assigned_expert(user: User, room: Room) -> bool:
    expert = room.consultation.assigned_expert
    return expert is not None and expert.user_id == user.pk


def _staff_role(user: User, room: Room) -> tuple[str, str]:
    """(role, initial state) of a staff member entering the room."""
    if user.pk == room.host_id:
        return P.Role.HOST, P.State.ADMITTED
    if _assigned_expert(user, room):
        return P.Role.EXPERT, P.State.ADMITTED  # invited by the assignment itself
    if user.role == User.Role.EXPERT:  # one who may see the consultation (an offer): waits for the host
        return P.Role.SECOND_EXPERT, P.State.WAITING
    raise NotPermitted("Only the host, the assigned expert or another expert may join this room.")


def staff_connect(*, user: User, room_id: int, connection: str) -> Participant:
    """A staff member's socket opens: their participant, created or re-entered, marked connected."""
    room = room_for_staff(user=user, room_id=room_id)
    role, initial = _staff_role(user, room)
    with transaction.atomic():
        room = lock_room(room.pk)
        participant = P.objects.filter(room=room, user=user).first()
        if participant is None:
            participant = P.objects.create(room=room, user=user, role=role, state=initial, display_name=str(user))
            event_append(room=room, kind="participant.joined", participant=participant,
                         data={"participant": _public(participant)})
        elif participant.state == P.State.REMOVED:
            raise NotPermitted("The host removed you from this room.", code="removed")
        elif participant.state == P.State.LEFT:
            _set_state(room, participant, initial, "participant.joined")
        _set_connected(room, participant, connection, True)
        audit_record(actor=user, action="read", obj=room.consultation, interface="ws", detail={"live_room": room.pk})
    return participant


def participant_connect(*, participant_id: int, connection: str) -> Participant:
    """A ticket holder's socket opens (the ticket was consumed: tokens.ticket_consume)."""
    room_id = _room_id_of(participant_id)
    with transaction.atomic():
        room = lock_room(room_id)
        participant = P.objects.get(pk=participant_id)
        if participant.state == P.State.REMOVED:
            raise NotPermitted("The host removed you from this room.", code="removed")
        if participant.state == P.State.LEFT:
            _set_state(room, participant, P.State.WAITING, "participant.joined")
        _set_connected(room, participant, connection, True)
    return participant


def participant_disconnected(*, participant_id: int, connection: str) -> None:
    """A socket closed. Ignored if a newer socket of the same participant took over."""
    room_id = P.objects.filter(pk=participant_id).values_list("room_id", flat=True).first()
    if room_id is None:  # its room was deleted meanwhile
        return
    with transaction.atomic():
        room = lock_room(room_id)
        participant = P.objects.get(pk=participant_id)
        if participant.connection == connection and participant.connected:
            _set_connected(room, participant, connection, False)


def _set_connected(room: Room, participant: Participant, connection: str, connected: bool) -> None:
    """The participant's newest socket, and a presence event when their presence changes. A socket
    taking over from one that never said goodbye (its Daphne process was killed) changes nothing
    the room sees: no event (after a failover, hundreds of them would flood the rooms)."""
    changed = participant.connected != connected
    participant.connection, participant.connected = connection, connected
    participant.save(update_fields=["connection", "connected", "updated_at"])
    if changed:
        event_append(room=room, kind="participant.presence", participant=participant,
                     data={"connected": connected})


def _set_state(room: Room, participant: Participant, state: str, kind: str, **data) -> None:
    participant.state = state
    participant.save(update_fields=["state", "updated_at"])
    event_append(room=room, kind=kind, participant=participant, data={"participant": _public(participant), **data})


def _acting(participant_id: int, room: Room | int) -> Participant:
    participant = P.objects.get(pk=participant_id, room=room)
    if participant.state != P.State.ADMITTED:
        raise NotPermitted("Wait until the host admits you.", code="not_admitted")
    return participant


def _room_id_of(participant_id: int) -> int:
    """Read before the transaction: a participant never changes room, and the room's lock must be
    the transaction's first statement (SQLite cannot turn a reading transaction into a writing one)."""
    return P.objects.values_list("room_id", flat=True).get(pk=participant_id)


def _host_and_target(room_id: int, by_participant_id: int, participant_id: int) -> tuple[Room, Participant, Participant]:
    """Locks the room. Precondition: inside transaction.atomic."""
    room = lock_room(room_id)
    by = _acting(by_participant_id, room)
    if by.role != P.Role.HOST:
        raise NotPermitted("Only the host admits or removes participants.", code="not_host")
    target = P.objects.filter(pk=participant_id, room=room).first()
    if target is None:
        raise NotFound("No such participant in this room.")
    return room, by, target


def participant_admit(*, by_participant_id: int, participant_id: int) -> Participant:
    room_id = _room_id_of(by_participant_id)
    with transaction.atomic():
        room, by, target = _host_and_target(room_id, by_participant_id, participant_id)
        if target.state != P.State.WAITING:
            raise Conflict(f"Only a waiting participant can be admitted; this one is {target.state}.",
                           code="not_waiting")
        _set_state(room, target, P.State.ADMITTED, "participant.admitted", by=by.pk)
    return target


def participant_remove(*, by_participant_id: int, participant_id: int) -> Participant:
    """The host removes someone: they cannot come back with their ticket or link."""
    room_id = _room_id_of(by_participant_id)
    with transaction.atomic():
        room, by, target = _host_and_target(room_id, by_participant_id, participant_id)
        if target.pk == by.pk:
            raise InvalidInput("The host cannot remove themself; leave instead.", code="cannot_remove_host")
        if target.state == P.State.REMOVED:
            raise Conflict("This participant was removed already.", code="already_removed")
        _set_state(room, target, P.State.REMOVED, "participant.removed", by=by.pk)
        now = timezone.now()
        Ticket.objects.filter(participant=target, used_at__isnull=True).update(used_at=now)
        if target.join_token_id:
            JoinToken.objects.filter(pk=target.join_token_id).update(revoked_at=now)
    return target


def participant_leave(*, participant_id: int) -> Participant:
    room_id = _room_id_of(participant_id)
    with transaction.atomic():
        room = lock_room(room_id)
        participant = P.objects.get(pk=participant_id)
        if participant.state in (P.State.WAITING, P.State.ADMITTED):
            ecg_streams_stop(room=room, reason="left", started_by=participant)
            _set_state(room, participant, P.State.LEFT, "participant.left")
    return participant


def participant_update(*, participant_id: int, kind: str, **values) -> Participant:
    """mute (audio_muted, video_muted) or audio_only (audio_only): stored, then an event."""
    room_id = _room_id_of(participant_id)
    with transaction.atomic():
        room = lock_room(room_id)
        participant = _acting(participant_id, room)
        for name, value in values.items():
            setattr(participant, name, value)
        participant.save(update_fields=[*values, "updated_at"])
        event_append(room=room, kind=kind, participant=participant, data=values)
    return participant


def participant_media(*, participant_id: int, state: str) -> None:
    """An admitted participant's media died ("lost": its client is reconnecting it) or came back
    ("restored"): event "media", stored with the room's others, for the others' tiles."""
    room_id = _room_id_of(participant_id)
    with transaction.atomic():
        room = lock_room(room_id)
        participant = _acting(participant_id, room)
        event_append(room=room, kind="media", participant=participant, data={"state": state})


def chat_post(*, participant_id: int, text: str, room_id: int | None = None) -> None:
    """An admitted participant's chat line, the room's next event. The hot path of a busy room:
    `room_id` (the socket knows it) spares a read; events.event_append_said stores it."""
    room_id = room_id or _room_id_of(participant_id)
    if event_append_said(room_id=room_id, kind="chat", participant_id=participant_id,
                         data={"text": text.strip()}) is None:
        raise NotPermitted("Wait until the host admits you.", code="not_admitted")


def room_close(*, by: User, room_id: int) -> Room:
    room = room_for_staff(user=by, room_id=room_id)
    if room.host_id != by.pk:
        raise NotPermitted("Only the host ends the live room.", code="not_host")
    with transaction.atomic():
        room = lock_room(room.pk)
        room.state, room.closed_at = Room.State.CLOSED, timezone.now()
        room.save(update_fields=["state", "closed_at"])
        ecg_streams_stop(room=room, reason="room_closed")  # saved as a study all the same
        event_append(room=room, kind="room.closed", data={"by": by.pk})
        channel = room.relay_worker.channel if room.relay_worker_id else None
        if channel:
            # Tell the room's relay worker to close its peer connections (at most once; a worker
            # that misses it frees them when the peers' ICE consent expires).
            channel_send_on_commit(channel, {"type": "relay.close", "room": room.pk})
    return room
