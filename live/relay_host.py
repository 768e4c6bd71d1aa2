"""A relay worker: hosts rooms of the `relay` package and talks to room sockets only through
the channel layer. `manage.py relay_worker` runs one per process; in the embedded default
(in-memory layer) one runs inside the web process, started on first use.

Messages it receives on its channel (from live.consumers):
  relay.publish          room, participant, conn, sdp, id -> "publish_answer" (with the offer's id) to the participant
  relay.subscribe_answer room, participant, pc_id, sdp
  relay.audio_only       room, participant, enabled
  relay.leave            room, participant, conn (None: always; else only if still its socket)
  relay.close            room
What the relay says to a participant goes to its group as {"type": "relay.message", "message"}.
"""
import asyncio
import logging
import os
import socket

from aiortc import RTCIceServer
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from relay import Relay, RelayConfig, RelayError

from .services import placement
from .services.events import participant_group

logger = logging.getLogger(__name__)


def relay_config() -> RelayConfig:
    servers = [RTCIceServer(**server) for server in settings.RTC_ICE_SERVERS]
    return RelayConfig(ice_servers=servers, loopback=settings.RTC_LOOPBACK,
                       quality_interval=settings.LIVE_QUALITY_INTERVAL)


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"[:80]


def _error(exc: Exception) -> dict:
    code = "".join(f"_{c.lower()}" if c.isupper() else c for c in type(exc).__name__).lstrip("_")
    return {"type": "error", "code": code, "detail": str(exc)[:500]}


def _with_offer_id(reply: dict, message: dict) -> dict:
    """A reply to a publish repeats the offer's id (if it had one): the client matches answers to offers."""
    if message.get("type") == "relay.publish" and message.get("id") is not None:
        return {**reply, "id": message["id"]}
    return reply


class RelayHost:
    def __init__(self, name: str, layer=None):
        self.name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
        self.channel = f"live.relay.{self.name}"
        self.layer = layer or get_channel_layer()
        self.relay = Relay(relay_config())
        self.connections: dict[tuple[str, str], str] = {}  # (room, participant) -> socket of the last publish
        self._queues: dict[str, asyncio.Queue] = {}
        self._tasks: set[asyncio.Task] = set()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        heartbeat = asyncio.ensure_future(self._heartbeat())
        receive = None
        try:
            await database_sync_to_async(placement.worker_heartbeat)(name=self.name, channel=self.channel)
            receive = asyncio.ensure_future(self.layer.receive(self.channel))
            await asyncio.sleep(0.05)  # the pub/sub layer subscribes inside receive()
            if ready is not None:
                ready.set()
            while True:
                message = await receive
                receive = asyncio.ensure_future(self.layer.receive(self.channel))
                self._dispatch(message)
        finally:
            heartbeat.cancel()
            if receive is not None:
                receive.cancel()
            for task in list(self._tasks):
                task.cancel()
            await self.relay.close()
            await database_sync_to_async(placement.worker_forget)(name=self.name)

    async def _heartbeat(self) -> None:
        """Beat (settings.LIVE_RELAY_HEARTBEAT) and watch the other workers: the rooms of one that
        went silent are released and their clients told to publish again (docs/signalling.md)."""
        while True:
            await asyncio.sleep(settings.LIVE_RELAY_HEARTBEAT)
            try:
                if not await database_sync_to_async(placement.worker_beat)(name=self.name):
                    # our row is gone (a flushed or restored database): register again. Decided
                    # here, not in the thread, so a beat cancelled by our own stop cannot do it.
                    await database_sync_to_async(placement.worker_heartbeat)(name=self.name, channel=self.channel)
                released = await database_sync_to_async(placement.rooms_release_dead)(by=self.name)
                if released:
                    logger.warning("relay worker %s: rooms %s lost their worker; clients told to publish again",
                                   self.name, released)
            except Exception:  # the database blinked: beat again next time
                logger.exception("relay worker %s: heartbeat failed", self.name)

    def _dispatch(self, message: dict) -> None:
        """One queue per room keeps a room's messages in order; rooms run side by side."""
        room_id = str(message.get("room"))
        queue = self._queues.get(room_id)
        if queue is None:
            queue = self._queues[room_id] = asyncio.Queue()
            task = asyncio.ensure_future(self._room_loop(room_id, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queue.put_nowait(message)

    async def _room_loop(self, room_id: str, queue: asyncio.Queue) -> None:
        while True:
            message = await queue.get()
            try:
                await self._handle(room_id, message)
            except RelayError as exc:
                if message.get("participant") is not None:
                    await self._send(message["participant"], _with_offer_id(_error(exc), message))
            except Exception:  # a bug must not take the other rooms down
                logger.exception("relay worker %s: room %s failed on %s", self.name, room_id, message.get("type"))
                if message.get("participant") is not None:
                    await self._send(message["participant"], _with_offer_id(
                        {"type": "error", "code": "relay_failed", "detail": "The relay failed; retry."}, message))
            if message.get("type") == "relay.close":
                self._queues.pop(room_id, None)
                return

    async def _handle(self, room_id: str, message: dict) -> None:
        kind, participant = message.get("type"), str(message.get("participant"))
        if kind == "relay.close":
            await self.relay.close_room(room_id)
            return
        room = self.relay.room(room_id, self._send)
        if kind == "relay.publish":
            answer = await room.publish(participant, message["sdp"])
            self.connections[(room_id, participant)] = message.get("conn")
            await self._send(participant, _with_offer_id({"type": "publish_answer", "sdp": answer}, message))
        elif kind == "relay.subscribe_answer":
            await room.subscribe_answer(participant, message["pc_id"], message["sdp"])
        elif kind == "relay.audio_only":
            if participant in room.participant_ids:
                room.set_audio_only(participant, bool(message["enabled"]))
        elif kind == "relay.leave":
            conn = message.get("conn")
            if conn is None or self.connections.get((room_id, participant)) == conn:
                self.connections.pop((room_id, participant), None)
                if participant in room.participant_ids:
                    await room.leave(participant)

    async def _send(self, participant_id, message: dict) -> None:
        try:
            await self.layer.group_send(participant_group(int(participant_id)),
                                        {"type": "relay.message", "message": message})
        except Exception:
            logger.exception("relay worker %s: could not reach participant %s", self.name, participant_id)


_embedded: dict = {}


async def ensure_embedded_host() -> None:
    """Start the in-process relay host once (embedded default only)."""
    task = _embedded.get("task")
    if task is not None and not task.done():
        await _embedded["ready"].wait()
        return
    ready = asyncio.Event()
    host = RelayHost(f"embedded-{default_worker_name()}")
    _embedded.update(host=host, ready=ready, task=asyncio.ensure_future(host.run(ready)))
    await asyncio.wait_for(ready.wait(), timeout=10)
