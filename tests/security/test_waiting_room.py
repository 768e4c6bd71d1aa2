"""Finding 1 and 2: the waiting room and the room "knock" told people outside the consultation
who was in the room (the patient's name), its chat and every later event."""
import pytest
from asgiref.sync import sync_to_async

from live.models import Participant
from tests.live.conftest import drain_events, joined, patient_ticket, receive_until, socket

pytestmark = pytest.mark.django_db(transaction=True)


async def nothing_more(communicator) -> bool:
    return await communicator.receive_nothing(timeout=0.3)


async def test_a_waiting_patient_is_told_only_its_own_state_until_admitted(room, cookies, invite, people):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        host_welcome = await joined(host)
        await drain_events(host, host_welcome["last_seq"])
        # given a chat line said before the patient arrives
        await host.send_json_to({"type": "chat", "text": "血压 180/110, 先别告诉家属"})
        await receive_until(host, lambda f: f.get("kind") == "chat")
        ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
        async with socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as patient:
            # when the patient joins, kept waiting
            welcome = await joined(patient)
            me = welcome["me"]
            # then it is told its own state only: no one else, no ECG, no history
            assert me["state"] == "waiting"
            assert welcome["participants"] == [me] and welcome["ecg"] is None
            # and nothing the room says while it waits
            await host.send_json_to({"type": "chat", "text": "second line"})
            await host.send_json_to({"type": "quality", "loss": 0.1, "rtt_ms": 80})
            await receive_until(host, lambda f: f.get("type") == "client_quality")
            assert await nothing_more(patient)
            # when the host admits it
            await host.send_json_to({"type": "admit", "participant": me["id"]})
            # then it gets the room's people and the whole history, the chat included
            welcome = (await receive_until(patient, lambda f: f["type"] == "welcome"))[-1]
            assert welcome["me"]["state"] == "admitted" and welcome["after"] == 0
            assert {p["role"] for p in welcome["participants"]} == {"host", "patient"}
            history = await drain_events(patient, welcome["last_seq"])
            assert [e["seq"] for e in history] == list(range(1, welcome["last_seq"] + 1))
            chat = [e["data"]["text"] for e in history if e["kind"] == "chat"]
            assert chat == ["血压 180/110, 先别告诉家属", "second line"]


async def test_an_expert_who_may_not_see_the_consultation_cannot_open_a_room_socket(room, cookies):
    # given an expert of the same community, neither assigned nor offered the consultation
    async with socket(f"/ws/rooms/{room.pk}/", cookies["other_expert"]) as outsider:
        # then the room does not exist for them
        frame = await outsider.receive_json_from(timeout=5)
        assert frame == {"type": "error", "code": "not_found", "detail": frame["detail"]}
        assert (await outsider.receive_output(timeout=5))["code"] == 4404
    assert not await Participant.objects.filter(room=room, user__username="expert2").aexists()


def test_the_knock_answers_only_those_who_may_see_the_consultation(room, people, api, client):
    # when an expert who may not see the consultation asks for its room, or opens the room page
    response = api(people["other_expert"]).get(f"/api/live/rooms/?consultation={room.consultation_id}")
    # then it is answered as if there were none, with no participant named
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert "王秀英" not in response.content.decode()
    client.force_login(people["other_expert"])
    page = client.get(f"/live/rooms/{room.pk}/")
    assert page.status_code == 404 and "王秀英" not in page.content.decode()
    # while the assigned expert is answered
    assert api(people["expert"]).get(f"/api/live/rooms/?consultation={room.consultation_id}").status_code == 200
