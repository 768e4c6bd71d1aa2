"""aiortc peers that join a room through the room socket (the relay's simulated participants,
speaking docs/signalling.md instead of calling the relay directly)."""
import asyncio
import json

from aiortc.mediastreams import AudioStreamTrack

from relay.sim import ColourTrack, SimParticipant


class SocketSignalling:
    """relay.sim's Signalling over a room socket: publish -> publish_answer; subscribe_answer.

    `send(dict)` and `recv() -> dict` abstract the socket (a Channels communicator in-process,
    a `websockets` connection against Daphne)."""

    def __init__(self, send, recv):
        self.send, self.recv = send, recv
        self.participant: SimParticipant | None = None
        self.frames: list[dict] = []
        self._answer: asyncio.Future | None = None
        self._offer_id = 0  # each publish carries an id; the relay's answer repeats it
        self._reader: asyncio.Task | None = None
        self.republished: list[asyncio.Task] = []

    def start(self, participant: SimParticipant) -> None:
        self.participant = participant
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            frame = await self.recv()
            self.frames.append(frame)
            kind = frame.get("type")
            if kind == "publish_answer" and self._answer and not self._answer.done() \
                    and frame.get("id") == self._offer_id:
                self._answer.set_result(frame["sdp"])
            elif kind == "error" and self._answer and not self._answer.done():
                self._answer.set_exception(RuntimeError(f"relay refused: {frame}"))
            elif kind in ("subscribe_offer", "unsubscribe"):
                self.participant.deliver(frame)
            elif kind == "relay_moved":  # as client.js does: publish again, to the room's new worker
                self.republished.append(asyncio.ensure_future(self.participant.republish()))

    @property
    def published_again(self) -> bool:
        """The client heard `relay_moved` and its new publish was answered."""
        return bool(self.republished) and all(task.done() for task in self.republished)

    async def publish(self, participant_id: str, offer_sdp: str) -> str:
        self._answer = asyncio.get_running_loop().create_future()
        self._offer_id += 1
        await self.send({"type": "publish", "id": self._offer_id, "sdp": offer_sdp})
        return await asyncio.wait_for(self._answer, timeout=20)

    async def subscribe_answer(self, participant_id: str, pc_id: str, answer_sdp: str) -> None:
        await self.send({"type": "subscribe_answer", "pc_id": pc_id, "sdp": answer_sdp})

    async def stop(self) -> None:
        for task in self.republished:
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


def communicator_signalling(communicator) -> SocketSignalling:
    return SocketSignalling(communicator.send_json_to, lambda: communicator.receive_json_from(timeout=60))


def websocket_signalling(ws) -> SocketSignalling:
    async def send(message):
        await ws.send(json.dumps(message))

    async def recv():
        return json.loads(await ws.recv())

    return SocketSignalling(send, recv)


def colour_peer(participant_id, signalling: SocketSignalling, rgb) -> SimParticipant:
    peer = SimParticipant(str(participant_id), signalling, video=ColourTrack(rgb), audio=AudioStreamTrack(),
                          decode=True, loopback=True)
    signalling.start(peer)
    return peer
