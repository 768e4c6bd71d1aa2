"""A room whose relay worker goes away: its sockets hear `relay_moved`, the clients publish again
(as client.js does) and the media flows through another worker."""
import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers

from live.models import Room
from live.relay_host import RelayHost
from relay.sim import wait_for
from tests.live.conftest import joined, socket
from tests.live.peers import colour_peer, communicator_signalling

pytestmark = pytest.mark.django_db(transaction=True)

RED, GREEN = (255, 0, 0), (0, 255, 0)


async def _start_host() -> tuple[RelayHost, asyncio.Task]:
    # a layer of its own, as a worker process has: cancelling one host's receive leaves the other's
    host = RelayHost(f"test-{uuid.uuid4().hex[:8]}", channel_layers.make_backend(DEFAULT_CHANNEL_LAYER))
    ready = asyncio.Event()
    task = asyncio.ensure_future(host.run(ready))
    await asyncio.wait_for(ready.wait(), timeout=10)
    return host, task


def _sees(peer, other, rgb, frames=5) -> bool:
    got = peer.received.get(other.participant_id)
    return got is not None and got.video_frames >= frames and all(
        abs(a - b) < 40 for a, b in zip(got.last_rgb or (999, 999, 999), rgb))


async def test_clients_publish_again_on_relay_moved_and_media_resumes_on_another_worker(room, cookies, settings):
    settings.RTC_LOOPBACK = True
    first, first_task = await _start_host()
    peers, signallings, second_task = [], [], None
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host, \
            socket(f"/ws/rooms/{room.pk}/", cookies["expert"]) as expert:
        try:
            # given the doctor and the expert see each other through the only relay worker
            for communicator, rgb in ((host, RED), (expert, GREEN)):
                me = (await joined(communicator))["me"]["id"]
                signalling = communicator_signalling(communicator)
                peers.append(colour_peer(me, signalling, rgb))
                signallings.append(signalling)
                await peers[-1].publish()
            doctor, specialist = peers
            assert await wait_for(lambda: _sees(doctor, specialist, GREEN) and _sees(specialist, doctor, RED), 30)
            # when a second worker starts and the first one stops
            second, second_task = await _start_host()
            first_task.cancel()
            await asyncio.gather(first_task, return_exceptions=True)
            # then both clients were told, published again, and see each other through the second worker
            assert await wait_for(lambda: all(s.published_again for s in signallings), 10)
            resumed = await wait_for(lambda: _sees(doctor, specialist, GREEN) and _sees(specialist, doctor, RED), 30)
            assert resumed, [{k: (r.video_frames, r.audio_frames) for k, r in p.received.items()} for p in peers]
            placed = await sync_to_async(Room.objects.values_list("relay_worker__name", flat=True).get)(pk=room.pk)
            assert placed == second.name
        finally:
            for peer in peers:
                await peer.close()
            for signalling in signallings:
                await signalling.stop()
            for task in (first_task, second_task):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
