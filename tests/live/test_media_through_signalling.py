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
