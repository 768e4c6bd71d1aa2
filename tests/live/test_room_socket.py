"""The room socket: joining, numbered events fanned out and resumed without gaps, admission, removal."""
import pytest
from asgiref.sync import sync_to_async

from live.models import Participant, Room, RoomEvent
from live.services import rooms
from tests.live.conftest import drain_events, joined, patient_ticket, receive_until, socket

pytestmark = pytest.mark.django_db(transaction=True)


def _last_seq(room_id: int) -> int:
    return Room.objects.get(pk=room_id).last_seq


async def test_host_gets_welcome_with_participants_then_the_rooms_history(room, cookies):
    # given the open room of the village doctor
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        assert host.connected
        # when the host joins without a last seq
        welcome = await joined(host)
        # then the welcome names them as the admitted host, and the stored history follows in order
        assert welcome["me"]["role"] == "host" and welcome["me"]["state"] == "admitted"
        assert welcome["ice_servers"] == []
        events = await drain_events(host, welcome["last_seq"])
        assert [e["seq"] for e in events] == list(range(1, welcome["last_seq"] + 1))
        assert events[0]["kind"] == "room.opened"


async def test_chat_is_stored_with_the_next_seq_and_reaches_everyone(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        host_welcome = await joined(host)
        expert_welcome = await joined(expert)
        await drain_events(expert, expert_welcome["last_seq"])
        # when the expert writes in the chat
        await expert.send_json_to({"type": "chat", "text": "请把心电图对准镜头"})
        # then both receive it with the same, next sequence number, and it is in the database
        mine = (await receive_until(expert, lambda f: f.get("kind") == "chat"))[-1]
        theirs = (await receive_until(host, lambda f: f.get("kind") == "chat"))[-1]
        assert mine == theirs and mine["data"] == {"text": "请把心电图对准镜头"}
        assert mine["seq"] == expert_welcome["last_seq"] + 1 > host_welcome["last_seq"]
        stored = await sync_to_async(RoomEvent.objects.get)(room=room, seq=mine["seq"])
        assert stored.kind == "chat"


async def test_reconnecting_client_receives_exactly_the_events_it_missed_after_its_socket_is_gone(room, cookies):
    # given the expert was in the room and saw everything up to some seq
    async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        welcome = await joined(expert)
        seen = (await drain_events(expert, welcome["last_seq"]))[-1]["seq"]
    # when its socket (and the server-side consumer) is gone while the host chats
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        for n in range(3):
            await host.send_json_to({"type": "chat", "text": f"消息{n}"})
        await receive_until(host, lambda f: f.get("data") == {"text": "消息2"})
    last = await sync_to_async(_last_seq)(room.pk)
    # then a new socket resuming from its last seq gets every missed event once, in order, with no gap
    async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        await joined(expert, last_seq=seen)
        events = await drain_events(expert, last + 1)  # + its own presence event
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seen + 1, last + 2))
        assert [e["data"]["text"] for e in events if e["kind"] == "chat"] == ["消息0", "消息1", "消息2"]


def _append_without_fan_out(room_id: int, count: int) -> None:
    """Events stored but never fanned out: what a channel layer that dropped them leaves behind."""
    from django.db import transaction

    from live.services.events import lock_room

    with transaction.atomic():
        room = lock_room(room_id)
        for n in range(count):
            room.last_seq += 1
            RoomEvent.objects.create(room=room, seq=room.last_seq, kind="chat", data={"text": f"lost {n}"})
        Room.objects.filter(pk=room_id).update(last_seq=room.last_seq)


async def test_a_gap_left_by_the_channel_layer_is_filled_from_the_database(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert, \
            socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await joined(host)
        welcome = await joined(expert)
        await drain_events(expert, welcome["last_seq"])
        # given two events whose fan-out was lost
        await sync_to_async(_append_without_fan_out)(room.pk, 2)
        # when the next event arrives through the layer
        await host.send_json_to({"type": "chat", "text": "after the gap"})
        # then the expert receives the two lost ones first, from the database, then the new one
        frames = await receive_until(expert, lambda f: f.get("data") == {"text": "after the gap"})
        chats = [f["data"]["text"] for f in frames if f.get("kind") == "chat"]
        assert chats == ["lost 0", "lost 1", "after the gap"]
        seqs = [f["seq"] for f in frames if f["type"] == "event"]
        assert seqs == sorted(set(seqs)) and seqs == list(range(seqs[0], seqs[-1] + 1))


async def test_the_rooms_last_events_lost_by_the_layer_reach_a_socket_with_no_later_event(room, cookies, settings):
    # given two joined sockets, every event so far delivered, and the resync running every 0.3 s
    settings.ROOM_RESYNC_SECONDS = 0.3
    async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert, \
            socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        host_welcome = await joined(host)
        await drain_events(host, host_welcome["last_seq"])
        welcome = await joined(expert)
        await drain_events(expert, welcome["last_seq"])
        if welcome["last_seq"] > host_welcome["last_seq"]:
            await drain_events(host, welcome["last_seq"])
        # when the room's last two events are stored but their fan-out is lost (Redis restarting),
        # and nothing else happens in the room
        await sync_to_async(_append_without_fan_out)(room.pk, 2)
        last = await sync_to_async(_last_seq)(room.pk)
        # then both sockets still receive them, once and in order, from the database
        for communicator in (expert, host):
            events = await drain_events(communicator, last, timeout=3)
            assert [e["data"]["text"] for e in events] == ["lost 0", "lost 1"]
            assert [e["seq"] for e in events] == [last - 1, last]
            # and nothing is sent twice afterwards
            assert await communicator.receive_nothing(timeout=1)


async def test_patient_waits_until_the_host_admits_them(room, invite, cookies):
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as phone:
        # given the patient in the waiting room
        welcome = await joined(phone)
        me = welcome["me"]
        assert me["role"] == "patient" and me["state"] == "waiting"
        # when they try to chat before being admitted, then they are told to wait and nothing is stored
        before = await sync_to_async(_last_seq)(room.pk)
        await phone.send_json_to({"type": "chat", "text": "你好"})
        error = await receive_until(phone, lambda f: f["type"] == "error")
        assert error[-1]["code"] == "not_admitted"
        assert await sync_to_async(_last_seq)(room.pk) == before
        # when the host admits them
        await joined(host)
        await host.send_json_to({"type": "admit", "participant": me["id"]})
        # then the patient sees its own admission and may chat
        await receive_until(phone, lambda f: f.get("kind") == "participant.admitted" and f["participant"] == me["id"])
        await phone.send_json_to({"type": "chat", "text": "你好"})
        await receive_until(host, lambda f: f.get("kind") == "chat" and f["participant"] == me["id"])


async def test_only_the_host_admits_or_removes(room, invite, cookies):
    await sync_to_async(patient_ticket)(room.pk, invite[1])
    patient = await sync_to_async(Participant.objects.get)(room=room, role="patient")
    async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        await joined(expert)
        await expert.send_json_to({"type": "admit", "participant": patient.pk})
        error = (await receive_until(expert, lambda f: f["type"] == "error"))[-1]
        assert error["code"] == "not_host"
    assert (await sync_to_async(Participant.objects.get)(pk=patient.pk)).state == "waiting"


async def test_removed_patient_is_disconnected_and_cannot_return_with_ticket_or_link(room, invite, cookies):
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    spare = await sync_to_async(patient_ticket)(room.pk, invite[1])  # the page fetched a second one
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as phone:
        me = (await joined(phone))["me"]
        await joined(host)
        # when the host removes the patient
        await host.send_json_to({"type": "remove", "participant": me["id"]})
        # then the patient's socket gets the event and is closed with 4403
        await receive_until(phone, lambda f: f.get("kind") == "participant.removed")
        assert (await phone.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}
    # and neither the unused ticket nor the link lets them back in
    async with socket(f"/ws/rooms/{room.pk}/?ticket={spare}") as again:
        frame = await again.receive_json_from(timeout=5)
        assert frame["code"] == "removed"
        assert (await again.receive_output(timeout=5))["code"] == 4403
    from live.errors import Refused

    with pytest.raises(Refused) as refused:
        await sync_to_async(patient_ticket)(room.pk, invite[1])
    assert refused.value.code in ("token_revoked", "removed")


async def test_socket_without_session_or_ticket_is_refused_with_a_reason(room):
    async with socket(f"/ws/rooms/{room.pk}/") as anonymous:
        frame = await anonymous.receive_json_from(timeout=5)
        assert frame == {"type": "error", "code": "unauthenticated", "detail": frame["detail"]}
        assert (await anonymous.receive_output(timeout=5))["code"] == 4401


async def test_staff_outside_the_consultations_reach_cannot_enter(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["other_village_doctor"]) as outsider:
        frame = await outsider.receive_json_from(timeout=5)
        assert frame["code"] == "not_found"
        assert (await outsider.receive_output(timeout=5))["code"] == 4404


async def test_foreign_origin_is_refused_at_the_handshake(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"], origin=(b"origin", b"http://evil.example")) as s:
        assert s.connected is False


async def test_mute_is_stored_and_shown_and_quality_reports_pass_through_unstored(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        me = (await joined(host))["me"]
        await joined(expert)
        # when the host mutes the microphone
        await host.send_json_to({"type": "mute", "audio": True, "video": False})
        event = (await receive_until(expert, lambda f: f.get("kind") == "mute"))[-1]
        # then the others see it and the participant row keeps it
        assert event["participant"] == me["id"] and event["data"] == {"audio_muted": True, "video_muted": False}
        assert (await sync_to_async(Participant.objects.get)(pk=me["id"])).audio_muted is True
        # when the host reports its network quality, the others get it, and no event is stored
        before = await sync_to_async(_last_seq)(room.pk)
        await host.send_json_to({"type": "quality", "loss": 0.12, "rtt_ms": 340})
        report = (await receive_until(expert, lambda f: f["type"] == "client_quality"))[-1]
        assert report == {"type": "client_quality", "participant": me["id"], "loss": 0.12, "rtt_ms": 340}
        assert await sync_to_async(_last_seq)(room.pk) == before


async def test_an_expert_offered_the_consultation_waits_for_the_host(room, cookies, people, offered_to_other_expert):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["other_expert"]) as second:
        me = (await joined(second))["me"]
        assert me["role"] == "second_expert" and me["state"] == "waiting"


async def test_an_expert_of_another_community_cannot_enter(room, community):
    from directory.models import User
    from tests.factories import UserFactory
    from tests.live.conftest import session_cookie

    outsider = await sync_to_async(UserFactory)(username="expert-x", role=User.Role.EXPERT,
                                                organisation=community.foreign_lead)
    async with socket(f"/ws/rooms/{room.pk}/", await sync_to_async(session_cookie)(outsider)) as s:
        assert (await s.receive_json_from(timeout=5))["code"] == "not_found"


async def test_a_ticket_opens_one_socket_only(room, invite):
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    async with socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as first:
        await joined(first)
        async with socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as second:
            assert (await second.receive_json_from(timeout=5))["code"] == "ticket_reused"
            assert (await second.receive_output(timeout=5))["code"] == 4403
        async with socket(f"/ws/rooms/{room.pk + 1}/?ticket={ticket}") as elsewhere:
            assert (await elsewhere.receive_json_from(timeout=5))["code"] == "ticket_other_room"


async def test_closing_the_room_ends_every_socket_and_refuses_new_ones(room, cookies, people):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        await joined(expert)
        # when the host ends the room
        await sync_to_async(rooms.room_close)(by=people["village_doctor"], room_id=room.pk)
        # then the expert gets the event and the socket closes with 4410
        await receive_until(expert, lambda f: f.get("kind") == "room.closed")
        assert (await expert.receive_output(timeout=5))["code"] == 4410
    async with socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as late:
        assert (await late.receive_json_from(timeout=5))["code"] == "room_closed"
        assert (await late.receive_output(timeout=5))["code"] == 4404


async def test_a_patient_admitted_while_their_socket_joins_hears_it(room, invite, cookies, monkeypatch):
    """Seen on `make run` (tests/journeys, journey 2): the phone stayed in the waiting room for ever when the
    host admitted it between the two reads of its join (its snapshot, then the room's last seq)."""
    from live import selectors

    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    host = await sync_to_async(Participant.objects.get)(room=room, role=Participant.Role.HOST)
    snapshot, admissions = selectors.room_snapshot, []

    def admitted_just_after_the_snapshot(*, participant_id):
        taken = snapshot(participant_id=participant_id)
        if not admissions:  # the first snapshot only: later ones are the page's own reads
            admissions.append(rooms.participant_admit(by_participant_id=host.pk, participant_id=participant_id))
        return taken

    monkeypatch.setattr(selectors, "room_snapshot", admitted_just_after_the_snapshot)
    async with socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as phone:
        # given the patient's socket joining, and the host admitting them while it does
        welcome = await joined(phone)
        assert welcome["me"]["state"] == "waiting"
        # then the admission still reaches the phone, after its welcome
        frames = await receive_until(phone, lambda f: f.get("kind") == "participant.admitted", timeout=8)
        assert frames[-1]["participant"] == welcome["me"]["id"]
