"""Group commit for the chat lines of room sockets: the lines of many sockets, one transaction, one commit.

Why: a chat line is a room event, numbered under the room's row lock and stored before it is fanned
out (events.py). One transaction per line is one fsync'd commit per line: PostgreSQL here commits
about 550 of them a second, and 600 clients in rooms of 3, 2 lines a second each, say 1,200.

How: each event loop (a Daphne process has one) has one writer (WRITERS; with more, each has its own
rooms, room id modulo WRITERS, so their batches never wait for each other's locks: 2 measured no
better here, bench/chat_batch_bench.py). A socket's line joins its room's writer's queue and the
socket awaits its own outcome.
When no batch is being written, the writer takes every queued line (at most BATCH_MAX) and stores
them on a socket thread (teleclinic/socket_db.py) in ONE transaction, `lines_store`:
  1. lock the batch's rooms, in pk order (reading their last_seq);
  2. read which speakers are admitted in their room, after the locks: a removal committed before is
     seen, a later one waits for this commit (the removal locks the room too);
  3. number each room's accepted lines after its last_seq, in the order they were queued, insert
     them in one statement and move each room's last_seq in one statement;
  4. commit once, then fan each event out, in seq order per room.
Lines that arrive meanwhile wait for the next batch: the busier the process, the bigger the batches,
and a lone line in a quiet process is written at once, with no added delay (alone, the way
events.event_append_said stores one line: one round trip instead of the batch's five).

Each sender gets its own outcome: the event's payload, or None for a refused line (a waiting,
removed or foreign participant), which takes no number, so each room's seq stays gap-free. A
socket's commands run one after the other (consumers.py), so its next line is queued only once the
previous one is stored: each sender's order holds. If the batch's transaction fails, none of it is
stored; its lines are then stored one by one (events.event_append_said, a transaction each), so a
bad line fails alone and the others are stored once.
"""
import asyncio
import json
import logging
import weakref
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F

from teleclinic.errors import NotPermitted
from teleclinic.socket_db import socket_db

from ..models import Participant, Room, RoomEvent
from .events import event_append_said, event_fan_out_on_commit, event_payload

logger = logging.getLogger(__name__)

BATCH_MAX = 300  # lines in one transaction: bounds how long the batch's room locks are held
WRITERS = 1  # per event loop; read when a loop's writers are made (bench/chat_batch_bench.py compares 2)


@dataclass(frozen=True)
class Line:
    """What a participant says in a room: the event `kind` with its `data`."""

    room_id: int
    participant_id: int
    kind: str
    data: dict


async def chat_post(*, participant_id: int, room_id: int, text: str) -> dict:
    """rooms.chat_post for a socket: the line is stored with the others this process has queued.
    The event's payload; raises NotPermitted if the participant is not (or no longer) admitted."""
    payload = await line_say(Line(room_id=room_id, participant_id=participant_id, kind="chat",
                                  data={"text": text.strip()}))
    if payload is None:
        raise NotPermitted("Wait until the host admits you.", code="not_admitted")
    return payload


async def line_say(line: Line) -> dict | None:
    """Store `line` in the next batch of its room's writer in this event loop: its payload, None if refused."""
    loop = asyncio.get_running_loop()
    writers = _writers.get(loop)
    if writers is None:
        writers = _writers[loop] = [_Writer() for _ in range(WRITERS)]
    return await writers[line.room_id % len(writers)].say(line)


class _Writer:
    """The lines queued in one event loop, and the one task writing them a batch at a time."""

    def __init__(self):
        self.queue: list[tuple[Line, asyncio.Future]] = []
        self.writing: asyncio.Task | None = None

    async def say(self, line: Line) -> dict | None:
        future = asyncio.get_running_loop().create_future()
        self.queue.append((line, future))
        if self.writing is None:
            self.writing = asyncio.ensure_future(self._write())
        # A sender that stops waiting (its socket closed) does not take its line back: it is stored.
        return await future

    async def _write(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:BATCH_MAX], self.queue[BATCH_MAX:]
                try:
                    outcomes = await _lines_store(lines=[line for line, _ in batch])
                except Exception as exc:  # noqa: BLE001 - not even stored one by one: each sender hears it
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes):
                    if future.done():  # its sender stopped waiting
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.writing = None


_writers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Writer]]" = weakref.WeakKeyDictionary()


def lines_store(*, lines: list[Line]) -> list[dict | None | Exception]:
    """Store `lines` in one transaction and fan them out after commit; per line, in order: its
    payload, None if refused (no number taken), or, if the batch failed and the line failed again
    alone, its exception."""
    if len(lines) == 1:  # a quiet process: the one round trip of events.event_append_said
        return [_line_store_alone(lines[0])]
    try:
        with transaction.atomic():
            return _lines_store_together(lines)
    except Exception:  # noqa: BLE001 - nothing of the batch was stored: each line again, alone
        logger.warning("a batch of %d room lines failed; storing them one by one", len(lines), exc_info=True)
        return [_line_store_alone(line) for line in lines]


_lines_store = socket_db(lines_store)


def _lines_store_together(lines: list[Line]) -> list[dict | None]:
    """Precondition: inside transaction.atomic, before any other write."""
    rooms = _rooms_locked(sorted({line.room_id for line in lines}))
    admitted = _admitted(list({line.participant_id for line in lines}))
    events: list[RoomEvent | None] = []
    for line in lines:
        room = rooms.get(line.room_id)
        if room is None or (line.participant_id, line.room_id) not in admitted:
            events.append(None)
            continue
        room.last_seq += 1
        events.append(RoomEvent(room_id=room.pk, seq=room.last_seq, kind=line.kind,
                                participant_id=line.participant_id, data=line.data))
    stored = [event for event in events if event is not None]
    if not stored:
        return [None] * len(lines)
    _events_insert(stored)
    _rooms_seq_set([rooms[room_id] for room_id in {event.room_id for event in stored}])
    payloads = [None if event is None else event_payload(event) for event in events]
    for event, payload in zip(events, payloads):  # queue order: seq order within each room
        if event is not None:
            event_fan_out_on_commit(event.room_id, payload)
    return payloads


# The batch's statements on PostgreSQL, in SQL: Django's bulk_update (a CASE WHEN per room) and its
# query building cost the socket threads more CPU than the rest of the batch (profiled at 300 clients).
_LOCK_ROOMS = "SELECT id, last_seq FROM live_room WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
_ADMITTED = "SELECT id, room_id FROM live_participant WHERE id = ANY(%s) AND state = %s"
_INSERT = ('INSERT INTO live_roomevent (room_id, seq, kind, participant_id, data, "at") '
           "SELECT room_id, seq, kind, participant_id, data::jsonb, at FROM unnest(%s::bigint[], %s::bigint[], "
           "%s::text[], %s::bigint[], %s::text[], %s::timestamptz[]) AS v(room_id, seq, kind, participant_id, data, at)")
_SEQ_SET = ("UPDATE live_room AS r SET last_seq = v.last_seq FROM unnest(%s::bigint[], %s::bigint[]) "
            "AS v(id, last_seq) WHERE r.id = v.id")


def _rooms_locked(room_ids: list[int]) -> dict[int, Room]:
    """The rooms' rows (pk and last_seq), locked in pk order until the transaction ends (SQLite: its
    database-wide write lock, taken by a no-op update, as events.lock_room does)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_ROOMS, [room_ids])
            return {pk: Room(pk=pk, last_seq=last_seq) for pk, last_seq in cursor.fetchall()}
    if connection.vendor == "sqlite":
        Room.objects.filter(pk__in=room_ids).update(last_seq=F("last_seq"))
    locked = Room.objects.select_for_update().filter(pk__in=room_ids).order_by("pk").only("pk", "last_seq")
    return {room.pk: room for room in locked}


def _admitted(participant_ids: list[int]) -> set[tuple[int, int]]:
    """(participant, room) of those of `participant_ids` who are admitted."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_ADMITTED, [participant_ids, Participant.State.ADMITTED])
            return set(cursor.fetchall())
    return set(Participant.objects.filter(pk__in=participant_ids, state=Participant.State.ADMITTED)
               .values_list("pk", "room_id"))


def _events_insert(events: list[RoomEvent]) -> None:
    """Store the (unsaved) events, their `at` set to now, as bulk_create would."""
    if connection.vendor != "postgresql":
        RoomEvent.objects.bulk_create(events)
        return
    at = RoomEvent._meta.get_field("at")
    for event in events:
        at.pre_save(event, add=True)  # auto_now_add: sets event.at
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [[event.room_id for event in events], [event.seq for event in events],
                                 [event.kind for event in events], [event.participant_id for event in events],
                                 [json.dumps(event.data) for event in events], [event.at for event in events]])


def _rooms_seq_set(rooms: list[Room]) -> None:
    """Store the rooms' last_seq (precondition: their rows are locked in this transaction)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_SEQ_SET, [[room.pk for room in rooms], [room.last_seq for room in rooms]])
        return
    Room.objects.bulk_update(rooms, ["last_seq"])


def _line_store_alone(line: Line) -> dict | None | Exception:
    try:
        return event_append_said(room_id=line.room_id, kind=line.kind, participant_id=line.participant_id,
                                 data=line.data)
    except Exception as exc:  # noqa: BLE001 - this line's outcome, handed to its sender
        logger.warning("room %s: a line of participant %s could not be stored", line.room_id,
                       line.participant_id, exc_info=True)
        return exc
