"""The room socket (/ws/rooms/<id>/): signalling, chat and room events. Protocol: docs/signalling.md.

Thin: authenticate, parse, call one service (on the socket threads: teleclinic/socket_db.py),
send. Room events are stored first and fanned out after commit; this socket fills any gap in seq
from the database.
"""
import asyncio
import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from relay.errors import InvalidSdp
from relay.sdp import parse_client_description
from teleclinic.errors import DomainError
from teleclinic.socket_db import ENTERING, SocketDbConsumer, socket_db

from . import ecg_replay, ecg_wire, selectors
from .errors import RelayUnavailable
from .models import Participant
from .protocol import MAX_MESSAGE_BYTES, ProtocolError, TokenBucket, error_frame, parse_frame
from .services import chat_batch, ecg, placement, rooms, tokens
from .resync import room_watch
from .services.events import EVENTS_BATCH, events_since, participant_group, room_group

logger = logging.getLogger(__name__)

CLOSE_RATE_LIMITED = 4429
COMMANDS_DRAIN_S = 5  # how long a closed socket's pending commands may still take (Daphne gives 10 s)
P = Participant


def close_code(exc: DomainError) -> int:
    return 4000 + exc.status  # 4401, 4403, 4404, 4410...


# Not Channels' thread-sensitive default (every socket's ORM calls on one shared thread, one after
# the other): each service owns its transaction and rows are locked per room, so sockets may hit
# the database side by side (teleclinic/socket_db.py). Letting a socket in (ENTERING) waits behind
# the traffic of the sockets that are in.
_db = socket_db


class RoomConsumer(SocketDbConsumer, AsyncJsonWebsocketConsumer):
    """One socket. Channels hands it one message at a time, the client's frames and the room's
    events alike; so the client's commands (chat, mute, publish...) run one after the other on a
    task of their own (`_commands`, in the order sent), and a command waiting for the database
    never holds up the room's events on their way to this client."""

    participant_id: int | None = None
    delivered: int | None = None  # last seq sent to this client; None until it sent "join"
    closing = False
    _resyncing = False
    admitted = False  # only admitted participants see the room (followed from the room events)
    welcome_seq = 0  # the room's last seq when the welcome was read: older events do not change `admitted`
    ecg_cursor: tuple[int, int] | None = None  # (stream, last chunk seq sent to this client)
    _commands: asyncio.Queue | None = None
    _commander: asyncio.Task | None = None

    async def connect(self):
        self.room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        self.bucket = TokenBucket()
        # Held while room events go out (live, read back after a gap, or nudged by live/resync.py):
        # each is sent once, in order.
        self._delivering = asyncio.Lock()
        try:
            self.participant_id = await self._authenticate()
        except DomainError as exc:
            await self._refuse(exc.code, exc.message, close_code(exc))
            return
        await self.channel_layer.group_add(room_group(self.room_id), self.channel_name)
        await self.channel_layer.group_add(participant_group(self.participant_id), self.channel_name)
        await self.accept()

    async def _authenticate(self) -> int:
        ticket = parse_qs(self.scope.get("query_string", b"").decode()).get("ticket", [""])[0]
        if ticket:
            participant_id = await _db(tokens.ticket_consume, ENTERING)(room_id=self.room_id, secret=ticket)
            return (await _db(rooms.participant_connect, ENTERING)(participant_id=participant_id,
                                                                   connection=self.channel_name)).pk
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise _Unauthenticated()
        participant = await _db(rooms.staff_connect, ENTERING)(user=user, room_id=self.room_id,
                                                               connection=self.channel_name)
        return participant.pk

    async def _refuse(self, code: str, detail: str, close: int) -> None:
        """Accept only to say why, then close: a browser sees no reason on a refused handshake."""
        await self.accept()
        await self.send_json(error_frame(code, detail))
        await self.close(code=close)

    async def disconnect(self, code):
        if self.participant_id is None:
            return
        room_watch().discard(self)
        await self._finish_commands()
        await self.channel_layer.group_discard(room_group(self.room_id), self.channel_name)
        await self.channel_layer.group_discard(participant_group(self.participant_id), self.channel_name)
        await self._to_relay({"type": "relay.leave", "conn": self.channel_name}, place=False)
        try:
            await _db(rooms.participant_disconnected, ENTERING)(participant_id=self.participant_id,
                                                                connection=self.channel_name)
        except Exception:  # the socket is gone either way; the next connect sets presence again
            logger.exception("room %s: could not record disconnect of %s", self.room_id, self.participant_id)

    # --- frames from the client --------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.participant_id is None or self.closing:
            return
        size = len(text_data or bytes_data or "")
        if not self.bucket.take(1 + min(size, MAX_MESSAGE_BYTES) // 16384):  # big frames cost more
            await self._rate_limited()
            return
        try:
            message = parse_frame(text_data, bytes_data)
            await self._handle(message)
        except ProtocolError as exc:
            await self.send_json(error_frame(exc.code, exc.detail))
        except DomainError as exc:
            await self.send_json(error_frame(exc.code, exc.message))

    async def _rate_limited(self) -> None:
        if self.bucket.strikes == 1:
            await self.send_json(error_frame("rate_limited", "Too many messages; slow down."))
        if self.bucket.abusive:
            await self.send_json(error_frame("rate_limited", "Too many messages; the connection is closed."))
            await self.close(code=CLOSE_RATE_LIMITED)
            self.closing = True

    async def _handle(self, message: dict) -> None:
        kind = message["type"]
        if kind == "ping" and self._commands is None:
            await self.send_json({"type": "pong"})
        elif kind == "join":
            await self._join(message.get("last_seq"), message.get("ecg_seq"))
        elif self.delivered is None:
            raise ProtocolError("join_first", "Send 'join' first.")
        else:
            if self._commands is None:
                self._commands = asyncio.Queue()
                self._commander = asyncio.ensure_future(self._run_commands())
            self._commands.put_nowait(message)

    async def _on_ping(self, message):
        """Queued behind the commands sent before it: `pong` means they have all been carried out."""
        await self.send_json({"type": "pong"})

    async def _run_commands(self) -> None:
        while (message := await self._commands.get()) is not None:
            try:
                await getattr(self, f"_on_{message['type']}")(message)
            except ProtocolError as exc:
                await self.send_json(error_frame(exc.code, exc.detail))
            except DomainError as exc:
                await self.send_json(error_frame(exc.code, exc.message))
            except Exception:  # noqa: BLE001 - one failed command must not end the socket's others
                logger.exception("room %s: command %s of %s failed", self.room_id, message["type"], self.participant_id)
                await self.send_json(error_frame("server_error", "That did not work; try again."))

    async def _finish_commands(self) -> None:
        """The socket closed: the commands it sent before are still carried out (a chat line sent
        just before a page closes is kept), then the task ends. The client is gone: what they would
        have been told is dropped."""
        if self._commander is None:
            return
        self._commands.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._commander), COMMANDS_DRAIN_S)
        except Exception:  # noqa: BLE001 - a timeout, or the task failed (it logged why): gone either way
            self._commander.cancel()

    async def _join(self, last_seq: int | None, ecg_seq: int | None) -> None:
        async with self._delivering:
            await self._join_locked(last_seq, ecg_seq)
        room_watch().add(self)

    async def _join_locked(self, last_seq: int | None, ecg_seq: int | None) -> None:
        # Without last_seq the client gets the room's whole history (chat included).
        snapshot, self.delivered, batch = await _db(selectors.room_join)(participant_id=self.participant_id,
                                                                        last_seq=last_seq)
        await self.send_json(snapshot)
        self.admitted = snapshot["me"]["state"] == P.State.ADMITTED
        self.welcome_seq = snapshot["last_seq"]  # the history up to here replays old states
        self.ecg_cursor = None
        if await self._send_batch(batch):
            await self._catch_up(None)
        live = snapshot["ecg"]
        if live is not None and self.admitted:
            # The history above started the live stream's cursor at -1, unless the client saw its
            # ecg.started before: then it says where it is (ecg_seq), or it gets the recent part.
            if self.ecg_cursor is None or self.ecg_cursor[0] != live["stream"]:
                self.ecg_cursor = (live["stream"], -1 if ecg_seq is None else min(ecg_seq, live["next_seq"] - 1))
            await self._ecg_catch_up(None)

    async def _catch_up(self, up_to: int | None) -> None:
        """Send stored events after `delivered` (up to `up_to`), in order, without gaps."""
        while await self._send_batch(await _db(events_since)(room_id=self.room_id, after_seq=self.delivered,
                                                             up_to=up_to)):
            pass

    async def _send_batch(self, batch: list[dict]) -> bool:
        """Deliver a batch of stored events; True if it was full (there may be more)."""
        for event in batch:
            await self._deliver(event)
        return len(batch) == EVENTS_BATCH

    async def _on_leave(self, message):
        await _db(rooms.participant_leave)(participant_id=self.participant_id)
        await self._to_relay({"type": "relay.leave", "conn": None}, place=False)
        await self.close(code=1000)

    async def _on_publish(self, message):
        await self._require_admitted()
        _check_sdp(message["sdp"], "offer")
        await self._to_relay({"type": "relay.publish", "conn": self.channel_name, "sdp": message["sdp"],
                              "id": message.get("id")})

    async def _on_subscribe_answer(self, message):
        await self._require_admitted()
        _check_sdp(message["sdp"], "answer")
        await self._to_relay({"type": "relay.subscribe_answer", "pc_id": message["pc_id"], "sdp": message["sdp"]})

    async def _on_mute(self, message):
        await _db(rooms.participant_update)(participant_id=self.participant_id, kind="mute",
                                            audio_muted=message["audio"], video_muted=message["video"])

    async def _on_audio_only(self, message):
        await _db(rooms.participant_update)(participant_id=self.participant_id, kind="audio_only",
                                            audio_only=message["enabled"])
        await self._to_relay({"type": "relay.audio_only", "enabled": message["enabled"]}, place=False)

    async def _on_media(self, message):
        # Stored and numbered (a room event): the others must learn it even over a blinking layer.
        await _db(rooms.participant_media)(participant_id=self.participant_id, state=message["state"])

    async def _on_chat(self, message):
        # Stored in one transaction with the lines of this process's other sockets (group commit).
        await chat_batch.chat_post(participant_id=self.participant_id, room_id=self.room_id, text=message["text"])

    async def _on_admit(self, message):
        await _db(rooms.participant_admit)(by_participant_id=self.participant_id,
                                           participant_id=message["participant"])

    async def _on_remove(self, message):
        removed = await _db(rooms.participant_remove)(by_participant_id=self.participant_id,
                                                      participant_id=message["participant"])
        await self._to_relay({"type": "relay.leave", "conn": None, "participant": removed.pk}, place=False)

    async def _on_quality(self, message):
        # A client's own view of its link: passed on, not stored (the next report supersedes it).
        await self.channel_layer.group_send(room_group(self.room_id), {
            "type": "room.quality", "participant": self.participant_id,
            "loss": message["loss"], "rtt_ms": message["rtt_ms"]})

    async def _on_ecg_start(self, message):
        await _db(ecg.ecg_stream_start)(participant_id=self.participant_id, leads=message["leads"],
                                        sampling_rate=message["sampling_rate"])

    async def _on_ecg_chunk(self, message):
        leads, _ = ecg_wire.decode_leads(message["leads"])  # checked by the protocol already
        await _db(ecg.ecg_chunk_append)(participant_id=self.participant_id, stream_id=message["stream"],
                                        seq=message["seq"], leads=leads, connection=self.channel_name)

    async def _on_ecg_stop(self, message):
        await _db(ecg.ecg_stream_stop)(participant_id=self.participant_id, stream_id=message["stream"])
        ecg_replay.replay_cancel(message["stream"])

    async def _on_ecg_replay(self, message):
        stream = await _db(ecg.ecg_replay_start)(participant_id=self.participant_id, ecg_id=message["ecg"])
        ecg_replay.replay_start(stream.pk)

    async def _require_admitted(self) -> None:
        state = await _db(selectors.participant_state)(participant_id=self.participant_id)
        if state != P.State.ADMITTED:
            raise ProtocolError("not_admitted", "Wait until the host admits you.")

    async def _to_relay(self, message: dict, place: bool = True) -> None:
        """Send to the worker hosting this room (placing the room there first if need be)."""
        message = {"room": self.room_id, "participant": self.participant_id, **message}
        if settings.LIVE_RELAY_MODE == "embedded":
            from .relay_host import ensure_embedded_host

            await ensure_embedded_host()
        channel = await _db(placement.room_place if place else placement.room_channel)(room_id=self.room_id)
        if channel is None:
            if place:
                raise RelayUnavailable("No media relay is running; try again in a moment.")
            return
        await self.channel_layer.send(channel, message)

    # --- messages from the channel layer ----------------------------------------

    async def room_event(self, message):
        event = message["event"]
        async with self._delivering:
            if self.delivered is None or event["seq"] <= self.delivered:
                return
            if event["seq"] > self.delivered + 1:  # the layer dropped some: read them back
                await self._catch_up(event["seq"] - 1)
            await self._deliver(event)

    async def resync(self) -> None:
        """The room is past what this socket was sent and no event came to show it (live/resync.py)."""
        if self._resyncing:
            return  # the previous check's read-back is still waiting its turn
        self._resyncing = True
        try:
            async with self._delivering:
                if self.delivered is not None and not self.closing:
                    await self._catch_up(None)
        finally:
            self._resyncing = False

    async def _deliver(self, event: dict) -> None:
        if event["seq"] <= self.delivered:
            return
        if not selectors.may_see_event(participant_id=self.participant_id, admitted=self.admitted, event=event):
            self.delivered = event["seq"]  # not for a waiting participant's eyes
            if event["kind"] == "room.closed":
                await self.close(code=4410)
            return
        about = event["data"].get("participant")
        if not self.admitted and event["kind"] == "participant.admitted" and about.get("id") == self.participant_id:
            # let in: now the room's people and its whole history (the client takes it as a first join)
            await self._join_locked(None, None)
            return
        await self.send_json(event)
        self.delivered = event["seq"]
        if isinstance(about, dict) and about.get("id") == self.participant_id and event["seq"] > self.welcome_seq:
            self.admitted = about.get("state") == P.State.ADMITTED
        if event["kind"] == "ecg.started" and (self.ecg_cursor is None or self.ecg_cursor[0] != event["data"]["stream"]):
            self.ecg_cursor = (event["data"]["stream"], -1)
        if event["kind"] == "participant.removed" and event["participant"] == self.participant_id:
            await self.close(code=4403)
        elif event["kind"] == "room.closed":
            await self.close(code=4410)

    async def room_ecg_chunk(self, message):
        """A chunk of the live ECG (not a room event): in order, a gap filled from the database."""
        chunk = message["chunk"]
        if message["exclude"] == self.channel_name or self.delivered is None or not self.admitted:
            return  # the sender drew it already; the waiting room sees no patient data
        stream, seq = chunk["stream"], chunk["seq"]
        if self.ecg_cursor is None or stream > self.ecg_cursor[0]:
            self.ecg_cursor = (stream, -1)  # a stream this socket has not seen start (admitted since)
        elif stream < self.ecg_cursor[0] or seq <= self.ecg_cursor[1]:
            return  # an old stream's, or sent already
        if seq > self.ecg_cursor[1] + 1:
            await self._ecg_catch_up(seq - 1)
        if seq > self.ecg_cursor[1]:
            await self.send_json(chunk)
            self.ecg_cursor = (stream, seq)

    async def _ecg_catch_up(self, up_to: int | None) -> None:
        """Send the stream's stored chunks after the cursor (the recent part only), in order."""
        stream = self.ecg_cursor[0]
        while True:
            batch = await _db(selectors.ecg_chunks_since)(stream_id=stream, after_seq=self.ecg_cursor[1], up_to=up_to)
            for chunk in batch:
                await self.send_json(chunk)
                self.ecg_cursor = (stream, chunk["seq"])
            if len(batch) < 100:
                return

    async def room_quality(self, message):
        if self.delivered is not None and self.admitted:
            await self.send_json({"type": "client_quality", "participant": message["participant"],
                                  "loss": message["loss"], "rtt_ms": message["rtt_ms"]})

    async def relay_moved(self, message):
        # The room's relay worker died: the client publishes again (and so lands on a live one).
        if self.delivered is not None:
            await self.send_json({"type": "relay_moved"})

    async def relay_message(self, message):
        payload = message["message"]
        if payload.get("type") == "audio_only":
            return  # the room event "audio_only" (stored, numbered) already says it
        await self.send_json(payload)


class _Unauthenticated(DomainError):
    status, code = 401, "unauthenticated"

    def __init__(self):
        super().__init__("Log in, or open the link you were sent.")


def _check_sdp(sdp: str, kind: str) -> None:
    """The relay's own checks, at the edge: a refused SDP never reaches a worker."""
    try:
        parse_client_description(sdp, kind=kind)
    except InvalidSdp as exc:
        code = "unsupported_encryption" if type(exc).__name__ == "UnsupportedEncryption" else "invalid_sdp"
        raise ProtocolError(code, str(exc)[:500]) from None
