"""Live rooms against the scaled stack (through nginx): rooms opened by the services, room sockets
and aiortc client peers joining through them, relay workers by name and pid."""
import datetime as dt
import json
import time

from aiortc.mediastreams import AudioStreamTrack
from django.utils import timezone
from websockets.asyncio.client import connect

from consult.models import Consultation
from live.models import Participant, RelayWorker
from live.services import rooms
from scheduling.models import Assignment
from relay.sim import SimParticipant
from tests.factories import PatientFactory
from tests.live.peers import colour_peer, websocket_signalling


def rooms_open(people, community, consultation_factory, count: int, second_expert: bool = False) -> list[int]:
    """`count` open rooms, hosted by the village doctor with the expert assigned (and other_expert admitted
    when `second_expert`): their ids."""
    opened = []
    for n in range(count):
        patient = PatientFactory(home_clinic=community.village_a1, name=f"患者{n}")
        consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"],
                                            mode=Consultation.Mode.LIVE, assigned_expert=people["expert"].expert,
                                            state=Consultation.State.ASSIGNED)
        room = rooms.room_open(by=people["village_doctor"], consultation_id=consultation.pk)[0]
        if second_expert:
            admit_second_expert(room, consultation, people["other_expert"])
        opened.append(room.pk)
    return opened


def admit_second_expert(room, consultation, user) -> None:
    """other_expert in the room: an open offer (they may see the case, as issue 13 requires), admitted."""
    Assignment.objects.create(consultation=consultation, expert=user.expert,
                              expires_at=timezone.now() + dt.timedelta(hours=1))
    Participant.objects.create(room=room, user=user, role="second_expert", state="admitted", display_name=str(user))


def live_workers(within: float = 3.0) -> dict[str, str]:
    """Relay workers that beat in the last `within` seconds: {name: channel}."""
    since = timezone.now() - dt.timedelta(seconds=within)
    return dict(RelayWorker.objects.filter(last_seen__gte=since).values_list("name", "channel"))


def wait_for_workers(count: int, timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while len(workers := live_workers()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} relay workers did not register: {workers}")
        time.sleep(0.3)
    return workers


def worker_pid(name: str) -> int:
    """A relay worker's pid: its default name is `<host>-<pid>`."""
    return int(name.rsplit("-", 1)[1])


async def room_socket(stack, room_id: int, cookie: str, last_seq: int | None = None):
    """A room socket through nginx that has joined: (socket, welcome)."""
    ws = await connect(f"{stack.ws_url}/ws/rooms/{room_id}/", origin=stack.url, open_timeout=10,
                       additional_headers={"Cookie": cookie}, compression=None)
    await ws.send(json.dumps({"type": "join"} if last_seq is None else {"type": "join", "last_seq": last_seq}))
    while (welcome := json.loads(await ws.recv()))["type"] != "welcome":
        pass
    return ws, welcome


async def media_peer(stack, room_id: int, cookie: str, rgb):
    """An aiortc client peer in the room, publishing a colour: (peer, signalling, socket).
    It publishes again when the server says `relay_moved`, as client.js does."""
    ws, welcome = await room_socket(stack, room_id, cookie)
    signalling = websocket_signalling(ws)
    peer = colour_peer(welcome["me"]["id"], signalling, rgb)
    await peer.publish()
    return peer, signalling, ws


async def audio_peer(stack, room_id: int, cookie: str):
    """A client peer that publishes audio only (cheap: no encoder): (peer, signalling, socket)."""
    ws, welcome = await room_socket(stack, room_id, cookie)
    signalling = websocket_signalling(ws)
    peer = SimParticipant(str(welcome["me"]["id"]), signalling, video=None, audio=AudioStreamTrack(), loopback=True)
    signalling.start(peer)
    await peer.publish()
    return peer, signalling, ws


async def close_peers(peers) -> None:
    for peer, signalling, ws in peers:
        await peer.close()
        await signalling.stop()
        await ws.close()


def sees(peer, other, rgb, frames: int = 5, tolerance: int = 40) -> bool:
    """`peer` decoded at least `frames` video frames of `other`, in the colour `rgb`."""
    got = peer.received.get(other.participant_id)
    return (got is not None and got.video_frames >= frames and got.last_rgb is not None
            and all(abs(a - b) < tolerance for a, b in zip(got.last_rgb, rgb)))
