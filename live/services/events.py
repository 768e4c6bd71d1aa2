"""The room's numbered event log: append under the room's row lock, fan out after commit."""
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from teleclinic.events import group_send_on_commit

from ..models import Participant, Room, RoomEvent


def room_group(room_id: int) -> str:
    return f"live.room.{room_id}"


def participant_group(participant_id: int) -> str:
    return f"live.participant.{participant_id}"


def lock_room(room_id: int) -> Room:
    """The room row, locked until the transaction ends (serialises sequence numbers).

    Call it first in the transaction. SQLite (the embedded default) has no row locks: a write
    takes its database-wide write lock, so a no-op update stands in for FOR UPDATE there."""
    if connection.vendor == "sqlite":
        Room.objects.filter(pk=room_id).update(last_seq=F("last_seq"))
    return Room.objects.select_for_update().get(pk=room_id)


def event_payload(event: RoomEvent) -> dict:
    return {"type": "event", "seq": event.seq, "kind": event.kind, "participant": event.participant_id,
            "data": event.data, "at": event.at.isoformat()}


def participant_payload(participant: Participant) -> dict:
    return {"id": participant.pk, "role": participant.role, "state": participant.state,
            "name": participant.display_name, "audio_muted": participant.audio_muted,
            "video_muted": participant.video_muted, "audio_only": participant.audio_only,
            "connected": participant.connected}


def seq_take(room_id: int) -> int:
    """The room's next sequence number, taken in one statement that also locks the room's row until
    the transaction ends (what lock_room does, for a writer that needs only the number).

    Call it first in the transaction (SQLite: the UPDATE takes the database's write lock at once).
    Raises Room.DoesNotExist."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Room._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
                       [room_id])
        row = cursor.fetchone()
    if row is None:
        raise Room.DoesNotExist(f"room {room_id}")
    return row[0]


def event_append(*, room: Room, kind: str, participant: Participant | None = None, data: dict | None = None) -> RoomEvent:
    """Store the room's next event; fan it out once the transaction commits.

    Precondition: inside transaction.atomic, holding `room`'s row lock (lock_room)."""
    room.last_seq += 1
    Room.objects.filter(pk=room.pk).update(last_seq=room.last_seq)
    return event_store(room_id=room.pk, seq=room.last_seq, kind=kind, participant=participant, data=data)


def event_store(*, room_id: int, seq: int, kind: str, participant: Participant | None = None,
                data: dict | None = None) -> RoomEvent:
    """Store event `seq` of the room; fan it out once the transaction commits.

    Precondition: inside transaction.atomic, `seq` taken in it (seq_take, or event_append's lock)."""
    event = RoomEvent.objects.create(room_id=room_id, seq=seq, kind=kind, participant=participant, data=data or {})
    event_fan_out_on_commit(room_id, event_payload(event))
    return event


def event_fan_out_on_commit(room_id: int, payload: dict) -> None:
    """Send the stored event to the room's sockets once the transaction commits (at once outside one).

    robust: the event is committed; if Redis blinks, sockets still get it from the database when the
    next event shows them the gap, or when they resume. Events of one transaction go out in the order
    registered. At most once: a consumer that misses it notices the gap in seq and reads the database.
    On a socket's database thread the socket's event loop sends it, and the thread is free at once."""
    group_send_on_commit(room_group(room_id), {"type": "room.event", "event": payload}, hand_to_loop=True)


def event_store_said(*, room_id: int, seq: int, kind: str, participant_id: int, data: dict) -> dict | None:
    """Store event `seq` of the room, said by an admitted participant of it; fan it out after commit.
    None, storing nothing, if the participant is not (or no longer) admitted there.

    One statement, the check included: the hot path of a busy room (chat). It runs after the room's
    lock was taken, so it sees a removal committed before (READ COMMITTED: each statement reads
    afresh). Precondition: inside transaction.atomic, `seq` taken in it (seq_take)."""
    at = timezone.now()
    q, event, people = connection.ops.quote_name, RoomEvent._meta, Participant._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(event.db_table)} (room_id, seq, kind, participant_id, data, {q('at')}) "
            f"SELECT room_id, %s, %s, id, %s, %s FROM {q(people.db_table)} "
            "WHERE id = %s AND room_id = %s AND state = %s RETURNING id",
            [seq, kind, event.get_field("data").get_db_prep_save(data, connection),
             event.get_field("at").get_db_prep_save(at, connection), participant_id, room_id,
             Participant.State.ADMITTED])
        if cursor.fetchone() is None:
            return None
    payload = {"type": "event", "seq": seq, "kind": kind, "participant": participant_id, "data": data,
               "at": at.isoformat()}
    event_fan_out_on_commit(room_id, payload)
    return payload


class _NotAdmitted(Exception):
    """Rolls back a number taken for a participant who may not speak."""


def event_append_said(*, room_id: int, kind: str, participant_id: int, data: dict) -> dict | None:
    """The room's next event, said by an admitted participant of it: numbered under the room's row
    lock, stored, fanned out after commit; its payload. None, storing nothing and taking no number,
    if the participant is not (or no longer) admitted there.

    The hot path of a busy room (chat). On PostgreSQL, outside a transaction, it is one round trip:
    _SAID, which the server runs as one transaction; otherwise the same steps one at a time."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        try:
            with transaction.atomic():
                payload = event_store_said(room_id=room_id, seq=seq_take(room_id), kind=kind,
                                           participant_id=participant_id, data=data)
                if payload is None:
                    raise _NotAdmitted
                return payload
        except _NotAdmitted:
            return None
    at = timezone.now()
    event = RoomEvent._meta
    with connection.cursor() as cursor:
        cursor.execute(_SAID, {
            "room": room_id, "participant": participant_id, "kind": kind, "admitted": Participant.State.ADMITTED,
            "data": event.get_field("data").get_db_prep_save(data, connection),
            "at": event.get_field("at").get_db_prep_save(at, connection)})
        cursor.nextset()  # the INSERT's
        row = cursor.fetchone()
    if row is None:
        return None
    payload = {"type": "event", "seq": row[0], "kind": kind, "participant": participant_id, "data": data,
               "at": at.isoformat()}
    event_fan_out_on_commit(room_id, payload)  # committed: runs now
    return payload


# Three statements sent as one simple query: PostgreSQL runs them as one transaction, each reading
# afresh (READ COMMITTED). 1. take the number, locking the room's row (a removal or an admission is
# wholly before or after); 2. store the event if the participant is admitted, as seen after the lock;
# 3. give the number back if nothing was stored, so the room's numbers stay without gaps.
_SAID = """
UPDATE live_room SET last_seq = last_seq + 1 WHERE id = %(room)s;
INSERT INTO live_roomevent (room_id, seq, kind, participant_id, data, "at")
    SELECT p.room_id, r.last_seq, %(kind)s, p.id, %(data)s, %(at)s
    FROM live_participant p JOIN live_room r ON r.id = p.room_id
    WHERE p.id = %(participant)s AND p.room_id = %(room)s AND p.state = %(admitted)s
    RETURNING seq;
UPDATE live_room SET last_seq = last_seq - 1 WHERE id = %(room)s
    AND NOT EXISTS (SELECT 1 FROM live_roomevent e WHERE e.room_id = %(room)s AND e.seq = live_room.last_seq)
"""


def relay_moved_on_commit(room_id: int) -> None:
    """After commit, tell the room's sockets that its relay worker is gone: publish again.
    Not a stored event: it concerns the media of the sockets open now; one that reconnects later
    publishes anyway."""
    group_send_on_commit(room_group(room_id), {"type": "relay.moved"})


EVENTS_BATCH = 500  # stored events read at once by a socket catching up


def events_since(*, room_id: int, after_seq: int, up_to: int | None = None, limit: int = EVENTS_BATCH) -> list[dict]:
    """Stored events with seq > after_seq (and <= up_to), oldest first."""
    rows = RoomEvent.objects.filter(room_id=room_id, seq__gt=after_seq)
    if up_to is not None:
        rows = rows.filter(seq__lte=up_to)
    return [event_payload(event) for event in rows.order_by("seq")[:limit]]
