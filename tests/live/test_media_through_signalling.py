"""Three aiortc peers join one room through the room socket and a relay worker reached over the
Redis channel layer; each receives the other two's video (colours checked) and audio."""
import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from live.models import RelayWorker, Room
from live.relay_host import RelayHost
from relay.sim import wait_for
from tests.live.conftest import joined, patient_ticket, receive_until, socket
from tests.live.peers import colour_peer, communicator_signalling

pytestmark = pytest.mark.django_db(transaction=True)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _close(rgb_seen, rgb_sent, tolerance=40) -> bool:
    return rgb_seen is not None and all(abs(a - b) < tolerance for a, b in zip(rgb_seen, rgb_sent))


@pytest.fixture
async def relay_host(settings):
    """A relay worker in this process, on the Redis layer (the same code `manage.py relay_worker` runs)."""
    settings.RTC_LOOPBACK = True
    assert "Redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    host = RelayHost(f"test-{uuid.uuid4().hex[:8]}", get_channel_layer())
    ready = asyncio.Event()
    task = asyncio.ensure_future(host.run(ready))
    await asyncio.wait_for(ready.wait(), timeout=10)
    yield host
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _admit(host_socket, participant_id):
    await host_socket.send_json_to({"type": "admit", "participant": participant_id})


async def test_three_peers_each_receive_the_other_two_through_the_relay(room, invite, cookies, relay_host):
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    peers, signallings = [], []
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert, \
            socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as phone:
        try:
            # given the host, the expert and the admitted patient in the room
            ids = {}
            for name, communicator in (("host", host), ("expert", expert), ("patient", phone)):
                ids[name] = (await joined(communicator))["me"]["id"]
            await _admit(host, ids["patient"])
            await receive_until(phone, lambda f: f.get("kind") == "participant.admitted")
            # when each publishes a distinct colour through the socket
            colours = {"host": RED, "expert": GREEN, "patient": BLUE}
            for name, communicator in (("host", host), ("expert", expert), ("patient", phone)):
                signalling = communicator_signalling(communicator)
                peer = colour_peer(ids[name], signalling, colours[name])
                peers.append((name, peer))
                signallings.append(signalling)
                await peer.publish()

            # then each receives the other two's video in the right colour, and their audio
            def all_received():
                for name, peer in peers:
                    for other, other_peer in peers:
                        if other == name:
                            continue
                        got = peer.received.get(other_peer.participant_id)
                        if got is None or got.video_frames < 5 or got.audio_frames < 5:
                            return False
                        if not _close(got.last_rgb, colours[other]):
                            return False
                return True

            assert await wait_for(all_received, timeout=40), {
                name: {pid: (r.video_frames, r.audio_frames, r.last_rgb) for pid, r in peer.received.items()}
                for name, peer in peers}
            for name, peer in peers:  # and nobody receives themself
                assert peer.participant_id not in peer.received
            room_row = await sync_to_async(Room.objects.select_related("relay_worker").get)(pk=room.pk)
            assert room_row.relay_worker.name == relay_host.name

            # and the relay reports everyone's network quality to the room
            assert await wait_for(lambda: any(
                f["type"] == "quality" and len(f["participants"]) == 3 for f in signallings[2].frames), timeout=10)

            # when a client sends an answer the relay cannot use (an unknown subscription)
            some_answer = next(iter(dict(peers)["expert"].subscriptions.values())).localDescription.sdp
            await host.send_json_to({"type": "subscribe_answer", "pc_id": "0123abcd", "sdp": some_answer})
            # then it gets an error frame from the relay, and the media keeps flowing
            assert await wait_for(lambda: any(f.get("code") == "unknown_peer_connection"
                                              for f in signallings[0].frames), timeout=10)
            expert_got = dict(peers)["expert"].received[dict(peers)["host"].participant_id]
            frames_then = expert_got.video_frames
            assert await wait_for(lambda: expert_got.video_frames > frames_then + 10, timeout=10)

            # when the patient's link weakens and they switch to audio only
            patient_peer = dict(peers)["patient"]
            host_id = dict(peers)["host"].participant_id
            await phone.send_json_to({"type": "audio_only", "enabled": True})
            await asyncio.sleep(1.0)
            got = patient_peer.received[host_id]
            video_before, audio_before = got.video_frames, got.audio_frames
            await asyncio.sleep(1.5)
            # then video to them stops while audio goes on, and the switch is a stored room event
            assert got.video_frames - video_before <= 2, (video_before, got.video_frames)
            assert got.audio_frames - audio_before > 20
            kinds = [f.get("kind") for f in signallings[0].frames if f.get("type") == "event"]
            assert "audio_only" in kinds
            # and when they switch back, the picture returns
            await phone.send_json_to({"type": "audio_only", "enabled": False})
            resumed_from = got.video_frames
            assert await wait_for(lambda: got.video_frames > resumed_from + 10, timeout=10)
        finally:
            for _, peer in peers:
                await peer.close()
            for signalling in signallings:
                await signalling.stop()


async def test_a_waiting_patient_cannot_publish_and_a_refused_offer_leaves_the_room_unharmed(
        room, invite, cookies, relay_host):
    ticket = await sync_to_async(patient_ticket)(room.pk, invite[1])
    async with socket(f"/ws/rooms/{room.pk}/?ticket={ticket}") as phone:
        await joined(phone)
        await phone.send_json_to({"type": "publish", "sdp": "v=0\r\n"})
        frames = []
        while not frames or frames[-1]["type"] != "error":
            frames.append(await phone.receive_json_from(timeout=5))
        assert frames[-1]["code"] == "not_admitted"
    assert await sync_to_async(RelayWorker.objects.filter(name=relay_host.name).exists)()


async def test_embedded_default_starts_the_relay_in_the_web_process_on_first_use(room, cookies, settings):
    # given no relay worker and the in-memory layer of the embedded default
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_RELAY_MODE, settings.RTC_LOOPBACK = "embedded", True
    from live import relay_host

    peers, signallings = [], []
    try:
        async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
                socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
            ids = [(await joined(host))["me"]["id"], (await joined(expert))["me"]["id"]]
            # when both publish
            for communicator, pid, rgb in ((host, ids[0], RED), (expert, ids[1], GREEN)):
                signalling = communicator_signalling(communicator)
                peer = colour_peer(pid, signalling, rgb)
                peers.append(peer)
                signallings.append(signalling)
                await peer.publish()
            # then an in-process relay host was started, each answer repeated its offer's id, and each sees the other
            assert relay_host._embedded["host"].name.startswith("embedded-")
            for signalling in signallings:
                assert [f.get("id") for f in signalling.frames if f["type"] == "publish_answer"] == [1]
            assert await wait_for(lambda: all(
                any(r.video_frames >= 5 for r in peer.received.values()) for peer in peers), timeout=30)
            assert _close(peers[0].received[str(ids[1])].last_rgb, GREEN)
            assert _close(peers[1].received[str(ids[0])].last_rgb, RED)
    finally:
        for peer in peers:
            await peer.close()
        for signalling in signallings:
            await signalling.stop()
        task = relay_host._embedded.pop("task", None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
