"""Group commit of chat lines (live/services/chat_batch.py): many senders at once, one transaction per
batch, each room's numbers gap-free, each sender's lines in order, refused lines without a number."""
import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db.models.expressions import RawSQL

from consult.models import Consultation
from live.models import Participant, Room, RoomEvent
from live.services import chat_batch, rooms
from live.services.events import events_since
from teleclinic.errors import NotPermitted
from tests.factories import PatientFactory, UserFactory
from tests.live.conftest import joined, receive_until, socket

pytestmark = pytest.mark.django_db(transaction=True)

LINES = 12  # per sender


def _speakers(room: Room, count: int, state: str = "admitted", tag: str = "") -> list[Participant]:
    users = [UserFactory(username=f"r{room.pk}{tag}-{n}") for n in range(count)]
    return [Participant.objects.create(room=room, user=user, role="second_expert", state=state,
                                       display_name=user.username) for user in users]


def _more_rooms(count, people, community, consultation_factory) -> list[Room]:
    opened = []
    for _ in range(count):
        consultation = consultation_factory(
            patient=PatientFactory(home_clinic=community.village_a1), requested_by=people["village_doctor"],
            mode=Consultation.Mode.LIVE, assigned_expert=people["expert"].expert, state=Consultation.State.ASSIGNED)
        opened.append(rooms.room_open(by=people["village_doctor"], consultation_id=consultation.pk)[0])
    return opened


async def _say_lines(speaker: Participant, outcomes: list) -> None:
    """One socket: each line sent once the previous one is stored (as the consumer's command task does)."""
    for n in range(LINES):
        try:
            payload = await chat_batch.chat_post(participant_id=speaker.pk, room_id=speaker.room_id,
                                                 text=f"{speaker.pk} {n}")
            outcomes.append((speaker.pk, n, payload["seq"]))
        except NotPermitted:
            outcomes.append((speaker.pk, n, None))


def _stored(room_id: int, after: int) -> list[tuple[int, int | None, str, dict]]:
    return list(RoomEvent.objects.filter(room_id=room_id, seq__gt=after).order_by("seq")
                .values_list("seq", "participant_id", "kind", "data"))


def _transactions(room_ids: list[int]) -> int:
    """How many transactions stored the rooms' chat lines (rows inserted together share xmin)."""
    rows = RoomEvent.objects.filter(room_id__in=room_ids, kind="chat").annotate(
        tx=RawSQL("live_roomevent.xmin::text", [])).order_by().values_list("tx", flat=True)
    return len(set(rows))


async def test_many_senders_in_several_rooms_get_gap_free_numbers_each_line_once_in_their_order(
        room, people, community, consultation_factory):
    # given 4 rooms, each with 5 admitted speakers and 1 waiting one
    all_rooms = [room, *await sync_to_async(_more_rooms)(3, people, community, consultation_factory)]
    speakers, waiting, start = [], [], {}
    for each in all_rooms:
        speakers += await sync_to_async(_speakers)(each, 5)
        waiting += await sync_to_async(_speakers)(each, 1, state="waiting", tag="w")
        start[each.pk] = (await Room.objects.aget(pk=each.pk)).last_seq
    # when all 24 sockets post 12 lines each at once
    outcomes: list[tuple[int, int, int | None]] = []
    await asyncio.gather(*(_say_lines(speaker, outcomes) for speaker in speakers + waiting))
    # then every admitted line was stored once, each room's numbers run on without a gap, each
    # sender's lines in the order sent, and every line of a waiting participant was refused
    room_of = {s.pk: s.room_id for s in speakers + waiting}
    for each in all_rooms:
        events = await sync_to_async(_stored)(each.pk, start[each.pk])
        assert [seq for seq, *_ in events] == list(range(start[each.pk] + 1, start[each.pk] + 5 * LINES + 1))
        assert (await Room.objects.aget(pk=each.pk)).last_seq == start[each.pk] + 5 * LINES
        texts = [data["text"] for _, _, _, data in events]
        assert sorted(texts) == sorted(f"{s.pk} {n}" for s in speakers if s.room_id == each.pk for n in range(LINES))
        for speaker in speakers:
            if speaker.room_id == each.pk:
                mine = [int(data["text"].split()[1]) for _, who, _, data in events if who == speaker.pk]
                assert mine == list(range(LINES))
    assert {(who, n) for who, n, seq in outcomes if seq is None} == {(w.pk, n) for w in waiting for n in range(LINES)}
    stored = {(room_of[who], seq) for who, _, seq in outcomes if seq is not None}
    assert len(stored) == len(speakers) * LINES
    # and the 240 lines took far fewer transactions than lines
    assert await sync_to_async(_transactions)([r.pk for r in all_rooms]) < len(speakers) * LINES / 2


async def test_no_line_of_a_removed_speaker_is_stored_after_the_removal_while_others_keep_talking(room, people):
    # given 6 admitted speakers in one room, one of whom the host removes while all post at once
    speakers = await sync_to_async(_speakers)(room, 6)
    doomed = speakers[0]
    host = await Participant.objects.aget(room=room, role="host")
    start = (await Room.objects.aget(pk=room.pk)).last_seq
    outcomes: list[tuple[int, int, int | None]] = []

    async def remove():
        await asyncio.sleep(0.05)
        await sync_to_async(rooms.participant_remove, thread_sensitive=False)(
            by_participant_id=host.pk, participant_id=doomed.pk)

    await asyncio.gather(remove(), *(_say_lines(s, outcomes) for s in speakers))
    # then the numbers run on without a gap, none of the removed speaker's lines comes after the
    # removal, those refused took no number, and every line of the others was stored
    events = await sync_to_async(_stored)(room.pk, start)
    assert [seq for seq, *_ in events] == list(range(start + 1, start + len(events) + 1))
    removed_at = next(seq for seq, _, kind, _ in events if kind == "participant.removed")
    doomed_seqs = [seq for seq, who, kind, _ in events if who == doomed.pk and kind == "chat"]
    assert all(seq < removed_at for seq in doomed_seqs)
    refused = [n for who, n, seq in outcomes if seq is None]
    assert len(doomed_seqs) + len(refused) == LINES
    assert all(who == doomed.pk for who, _, seq in outcomes if seq is None)
    assert len(events) == 1 + len(doomed_seqs) + 5 * LINES


async def test_a_line_that_cannot_be_stored_fails_alone_and_the_rest_of_its_batch_is_stored_once(room):
    # given 4 admitted speakers, and a line PostgreSQL refuses (jsonb holds no NUL character)
    speakers = await sync_to_async(_speakers)(room, 4)
    start = (await Room.objects.aget(pk=room.pk)).last_seq
    bad = chat_batch.Line(room_id=room.pk, participant_id=speakers[0].pk, kind="chat", data={"text": "a\u0000b"})
    good = [chat_batch.Line(room_id=room.pk, participant_id=s.pk, kind="chat", data={"text": f"ok {s.pk}"})
            for s in speakers]
    # when the bad line is queued in the middle of the others, all at once
    results = await asyncio.gather(*(chat_batch.line_say(line) for line in [*good[:2], bad, *good[2:]]),
                                   return_exceptions=True)
    # then only the bad line failed; the others were stored once each, numbered without a gap
    assert isinstance(results[2], Exception)
    assert [r["seq"] for r in results if not isinstance(r, Exception)] == list(range(start + 1, start + 5))
    events = await sync_to_async(_stored)(room.pk, start)
    assert [(seq, data["text"]) for seq, _, _, data in events] == [
        (start + n + 1, f"ok {s.pk}") for n, s in enumerate(speakers)]


async def test_a_waiting_participants_chat_over_the_socket_gets_an_error_frame_and_takes_no_number(
        room, people, cookies, offered_to_other_expert):
    # given the host's socket and a second expert waiting to be admitted, on their own sockets
    await Participant.objects.acreate(room=room, user=people["other_expert"], role="second_expert",
                                      state="waiting", display_name="王专家")
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["other_expert"]) as waiting:
        await joined(host)
        await joined(waiting)
        start = (await Room.objects.aget(pk=room.pk)).last_seq
        # when both post a line at once
        await waiting.send_json_to({"type": "chat", "text": "我能说话吗"})
        await host.send_json_to({"type": "chat", "text": "请稍等"})
        # then the waiting one is told to wait, and the host's line takes the next number
        error = (await receive_until(waiting, lambda f: f.get("type") == "error"))[-1]
        assert error["code"] == "not_admitted"
        mine = (await receive_until(host, lambda f: f.get("kind") == "chat"))[-1]
        assert mine["seq"] == start + 1 and mine["data"]["text"] == "请稍等"
        stored = await sync_to_async(_stored)(room.pk, start)
    assert stored == [(start + 1, mine["participant"], "chat", {"text": "请稍等"})]


async def test_a_batchs_lines_read_back_from_the_database_are_the_frames_sent_live(room):
    # given 3 admitted speakers
    speakers = await sync_to_async(_speakers)(room, 3)
    start = (await Room.objects.aget(pk=room.pk)).last_seq
    # when they say a line each at once (one batch), one of them with text a JSON encoder escapes
    texts = ["你好", 'a "quoted" \\ line', "ok"]
    payloads = await asyncio.gather(*(chat_batch.line_say(chat_batch.Line(
        room_id=room.pk, participant_id=s.pk, kind="chat", data={"text": text})) for s, text in zip(speakers, texts)))
    # then a socket filling a gap from the database gets exactly what the others got live (time included)
    stored = await database_sync_to_async(events_since)(room_id=room.pk, after_seq=start)
    assert stored == sorted(payloads, key=lambda payload: payload["seq"])
    assert [payload["data"]["text"] for payload in payloads] == texts
