"""A relay room: every participant sends its audio and video once, the relay forwards
the encoded frames to every other participant. Asyncio only; no Django.

See relay/README.md for the message protocol a client implements.
"""

import asyncio
import inspect
import logging
import time
import uuid
from typing import Any, Optional

from aiortc import RTCPeerConnection, RTCSessionDescription

from . import passthrough, rtcp_feedback
from .congestion import SubscriberLink
from .config import RelayConfig
from .consent import check_aioice_internals, tolerate_slow_links
from .errors import InvalidSdp, RoomClosed, UnknownParticipant, UnknownPeerConnection
from .fanout import Publication, forward_through
from .low_layer import LowLayer
from .negotiation import opus_fec_dtx, prefer_codec, with_opus_fmtp
from .participants import Downstream, Message, Participant, SendCallback
from .passthrough import loopback_candidates
from .room_control import RoomControl
from .sdp import check_audio_codec, choose_video_codec, parse_client_description

logger = logging.getLogger(__name__)

KINDS = ("audio", "video")


class RelayRoom(RoomControl):
    """One live room. Create it through ``Relay.room``.

    ``send(participant_id, message)`` delivers a message to a client (sync or async); the
    room calls it for "subscribe_offer", "unsubscribe", "audio_only" and "quality".
    """

    def __init__(self, room_id: str, config: RelayConfig, send: SendCallback) -> None:
        passthrough.check_aiortc_internals()
        problem = check_aioice_internals()
        if problem is not None:
            raise RuntimeError(f"relay/consent.py: {problem}")
        self.room_id = room_id
        self.config = config
        self.video_codec: Optional[str] = None
        self._send = send
        self._participants: dict[str, Participant] = {}
        self._downstreams: dict[str, Downstream] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        self._quality_task: Optional[asyncio.Task] = None
        self._control_task: Optional[asyncio.Task] = None
        self._loop_lag = 0.0  # the worst event-loop lag over the current second

    # --- public API --------------------------------------------------------------

    @property
    def participant_ids(self) -> list[str]:
        return list(self._participants)

    async def publish(self, participant_id: str, offer_sdp: str) -> str:
        """Accept a client's upstream offer (its audio/video, sendonly) and return the answer.

        A first publish joins the participant: it gets a subscribe_offer for every other
        participant, and they get one for it. Publishing again while in the room is a
        reconnect (new network path, e.g. after an ICE failure): the upstream is replaced,
        the participant's subscriptions are offered afresh, and the others keep theirs.
        Raises InvalidSdp (or a subclass) and leaves the room as it was.
        """
        async with self._lock:
            self._check_open()
            description = parse_client_description(offer_sdp, kind="offer")
            video_codec = choose_video_codec(description, self.config.video_codecs, self.video_codec)
            check_audio_codec(description)
            pc, answer = await self._answer_upstream(participant_id, offer_sdp, video_codec)
            self.video_codec = video_codec or self.video_codec
            await self._attach_upstream(participant_id, pc, video_codec)
            self._start_quality_reports()
            if self._control_task is None:
                self._control_task = asyncio.ensure_future(self._control())
            return answer

    async def subscribe_answer(self, participant_id: str, pc_id: str, answer_sdp: str) -> None:
        """Complete a subscription the relay offered with "subscribe_offer"."""
        downstream = self._downstreams.get(pc_id)
        if downstream is None or downstream.subscriber_id != participant_id:
            raise UnknownPeerConnection(f"no pending subscription {pc_id!r} for {participant_id!r}")
        parse_client_description(answer_sdp, kind="answer")
        try:
            await downstream.pc.setRemoteDescription(
                RTCSessionDescription(sdp=answer_sdp, type="answer")
            )
        except Exception as exc:
            raise InvalidSdp(f"the answer was refused: {exc}") from exc
        downstream.answered = True

    def set_audio_only(self, participant_id: str, audio_only: bool) -> None:
        """Stop (True) or resume (False) forwarding video to this participant.

        No renegotiation: video senders stay, the relay just stops feeding them. On resume
        the relay asks each publisher for a keyframe so the picture returns at once. The
        client may also stop sending its own video (track.enabled = false) meanwhile.
        """
        participant = self._participant(participant_id)
        participant.audio_only = audio_only
        self._pause_video_to(participant)
        message = {"type": "audio_only", "participant": participant_id, "enabled": audio_only}
        self._broadcast(message, exclude=participant_id)

    def _pause_video_to(self, participant: Participant) -> None:
        """Forward video to the participant or not, as its manual and automatic audio-only
        say; pausing also drops the video waiting in its pacer at once."""
        for downstream in self._downstreams.values():
            if downstream.subscriber_id == participant.participant_id and "video" in downstream.tracks:
                downstream.tracks["video"].set_paused(participant.video_paused)

    async def leave(self, participant_id: str) -> None:
        """Remove the participant: its peer connections close, the others get "unsubscribe"."""
        async with self._lock:
            participant = self._participants.pop(participant_id, None)
            if participant is None:
                raise UnknownParticipant(f"{participant_id!r} is not in room {self.room_id!r}")
            for publication in participant.publications.values():
                publication.close()
            closing = [d for d in self._downstreams.values()
                       if participant_id in (d.publisher_id, d.subscriber_id)]
            for downstream in closing:
                if downstream.publisher_id == participant_id:
                    self._notify(downstream.subscriber_id, {
                        "type": "unsubscribe", "pc_id": downstream.pc_id,
                        "publisher": participant_id})
            await self._close_downstreams(closing)
            if participant.link is not None:
                participant.link.close()
            if participant.upstream is not None:
                await participant.upstream.close()

    async def quality(self) -> dict[str, dict[str, Any]]:
        """Network quality per participant: ``upstream_loss``, the fraction of its packets
        the relay did not get since the previous call; ``downstream_loss``, the worst
        fraction lost its RTCP receiver reports give for what the relay sends it;
        ``rtt_ms``, round-trip time relay <-> participant from those reports. A value is
        None until there is something to measure (RTCP reports come about once a second)."""
        report = {}
        for participant_id, participant in list(self._participants.items()):
            report[participant_id] = await self._participant_quality(participant)
        return report

    def stats(self) -> dict[str, Any]:
        """Counters for tests and the benchmark (frames in, keyframe requests, the low layer
        and who gets it...)."""
        return {
            pid: {
                kind: {
                    "frames_in": pub.frames_in,
                    "bytes_in": pub.bytes_in,
                    "keyframe_requests_sent": pub.keyframe_requests_sent,
                    "low_layers_started": pub.low_layers_started,
                    **({"low_layer": _low_layer_stats(pub.low_layer)} if pub.low_layer is not None else {}),
                }
                for kind, pub in p.publications.items()
            } | {
                "low_layer_from": sorted(d.publisher_id for d in self.downstreams(pid)
                                         if "video" in d.tracks and d.tracks["video"].low),
                "layer_switches": sum(d.tracks["video"].layer_switches for d in self.downstreams(pid)
                                      if "video" in d.tracks),
            }
            for pid, p in self._participants.items()
        }

    def downstreams(self, subscriber_id: Optional[str] = None) -> list[Downstream]:
        return [d for d in self._downstreams.values()
                if subscriber_id is None or d.subscriber_id == subscriber_id]

    def publication(self, participant_id: str, kind: str) -> Publication:
        return self._participant(participant_id).publications[kind]

    async def close(self) -> None:
        """Close every peer connection of the room. Further calls raise RoomClosed."""
        async with self._lock:
            self._closed = True
            if self._quality_task is not None:
                self._quality_task.cancel()
            if self._control_task is not None:
                self._control_task.cancel()
            await self._close_downstreams(list(self._downstreams.values()))
            for participant in self._participants.values():
                for publication in participant.publications.values():
                    publication.close()
                if participant.link is not None:
                    participant.link.close()
                if participant.upstream is not None:
                    await participant.upstream.close()
            self._participants.clear()

    # --- upstream ----------------------------------------------------------------

    async def _answer_upstream(
        self, participant_id: str, offer_sdp: str, video_codec: Optional[str]
    ) -> tuple[RTCPeerConnection, str]:
        pc = RTCPeerConnection(self.config.rtc_configuration())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            tolerate_slow_links(pc)
            for transceiver in pc.getTransceivers():
                codec = video_codec if transceiver.kind == "video" else "opus"
                passthrough.restrict_answer_codecs(transceiver, codec)
                if transceiver.kind == "audio":
                    opus_fec_dtx(transceiver)
            answer = await pc.createAnswer()
            with loopback_candidates(self.config.loopback):
                await pc.setLocalDescription(answer)
        except Exception as exc:
            await pc.close()
            raise InvalidSdp(f"the offer was refused: {exc}") from exc
        return pc, pc.localDescription.sdp

    async def _attach_upstream(
        self, participant_id: str, pc: RTCPeerConnection, video_codec: Optional[str]
    ) -> None:
        participant = self._participants.get(participant_id)
        rejoining = participant is not None
        if participant is None:
            participant = self._participants[participant_id] = Participant(participant_id)
            loop = asyncio.get_running_loop()
            participant.link = SubscriberLink(loop.call_later, time.monotonic)
        old_upstream, participant.upstream = participant.upstream, pc
        added_kinds = False
        for transceiver in pc.getTransceivers():
            kind = transceiver.kind
            publication = participant.publications.get(kind)
            if publication is None:
                added_kinds = True
                publication = participant.publications[kind] = Publication(
                    kind, video_codec if kind == "video" else "opus",
                    keyframe_interval=self.config.keyframe_request_interval,
                    queue_frames=self.config.subscriber_queue_frames)
            publication.attach_receiver(transceiver.receiver)
        if old_upstream is not None:
            await old_upstream.close()
        if rejoining:
            # the client's old subscriptions went over the network path that failed
            await self._close_downstreams(self.downstreams(participant_id))
        others = [other_id for other_id in self._participants if other_id != participant_id]
        if added_kinds:
            for other_id in others:
                await self._offer_downstream(participant_id, other_id)
        for other_id in others:
            if self._participants[other_id].publications:
                await self._offer_downstream(other_id, participant_id)

    # --- downstream --------------------------------------------------------------

    async def _offer_downstream(self, publisher_id: str, subscriber_id: str) -> None:
        """Offer the subscriber a peer connection with the publisher's media. If one
        exists already (the publisher added a kind), it is replaced by one with all kinds."""
        existing = [d for d in self._downstreams.values()
                    if (d.publisher_id, d.subscriber_id) == (publisher_id, subscriber_id)]
        if existing:
            await self._close_downstreams(existing)
            for d in existing:
                self._notify(subscriber_id, {"type": "unsubscribe", "pc_id": d.pc_id,
                                             "publisher": publisher_id})
        publisher = self._participants[publisher_id]
        subscriber = self._participants[subscriber_id]
        pc = RTCPeerConnection(self.config.rtc_configuration())
        downstream = Downstream(uuid.uuid4().hex, publisher_id, subscriber_id, pc, {}, {})
        for kind in KINDS:
            publication = publisher.publications.get(kind)
            if publication is None:
                continue
            track = publication.subscribe()
            track.link = subscriber.link
            if kind == "video" and subscriber.video_paused:
                track.paused = True
            sender = pc.addTrack(track)
            rtcp_feedback.on_keyframe_request(sender, track.request_keyframe)
            forward_through(sender, track)
            if subscriber.link is not None:
                link, pc_id = subscriber.link, downstream.pc_id
                rtcp_feedback.observe_rtcp(sender, lambda bps, link=link, pc_id=pc_id: link.on_remb(pc_id, bps),
                                         link.on_loss)
            transceiver = next(t for t in pc.getTransceivers() if t.sender is sender)
            transceiver.direction = "sendonly"
            prefer_codec(transceiver, publication.codec_name)
            downstream.tracks[kind], downstream.senders[kind] = track, sender
        tolerate_slow_links(pc)
        offer = await pc.createOffer()
        offer = RTCSessionDescription(sdp=with_opus_fmtp(offer.sdp), type="offer")
        with loopback_candidates(self.config.loopback):
            await pc.setLocalDescription(offer)
        self._downstreams[downstream.pc_id] = downstream
        self._notify(subscriber_id, {"type": "subscribe_offer", "pc_id": downstream.pc_id,
                                     "publisher": publisher_id, "sdp": pc.localDescription.sdp})

    async def _close_downstreams(self, downstreams: list[Downstream]) -> None:
        for downstream in downstreams:
            self._downstreams.pop(downstream.pc_id, None)
            subscriber = self._participants.get(downstream.subscriber_id)
            if subscriber is not None and subscriber.link is not None:
                subscriber.link.estimate.forget(downstream.pc_id)
            for track in downstream.tracks.values():
                track.stop()
            await downstream.pc.close()

    # --- helpers -----------------------------------------------------------------

    def _participant(self, participant_id: str) -> Participant:
        participant = self._participants.get(participant_id)
        if participant is None:
            raise UnknownParticipant(f"{participant_id!r} is not in room {self.room_id!r}")
        return participant

    def _check_open(self) -> None:
        if self._closed:
            raise RoomClosed(f"room {self.room_id!r} is closed")

    def _broadcast(self, message: Message, exclude: Optional[str] = None) -> None:
        for participant_id in list(self._participants):
            if participant_id != exclude:
                self._notify(participant_id, message)

    def _notify(self, participant_id: str, message: Message) -> None:
        try:
            result = self._send(participant_id, message)
        except Exception:
            logger.exception("room %s: send to %s failed", self.room_id, participant_id)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(_log_send_failure)


def _low_layer_stats(low_layer: LowLayer) -> dict[str, Any]:
    return {"frames_in": low_layer.frames_in, "frames_out": low_layer.frames_out,
            "frames_skipped": low_layer.frames_skipped, "resyncs": low_layer.resyncs,
            "target_kbps": round(low_layer.rate.bps / 1000), "size": low_layer.last_size}


def _log_send_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("relay send callback failed", exc_info=task.exception())


class Relay:
    """The rooms of one process. Process-agnostic: a worker process holds one Relay."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self._rooms: dict[str, RelayRoom] = {}

    def room(self, room_id: str, send: SendCallback) -> RelayRoom:
        """The room ``room_id``, created on first use with ``send`` as its callback."""
        room = self._rooms.get(room_id)
        if room is None or room._closed:
            room = self._rooms[room_id] = RelayRoom(room_id, self.config, send)
        return room

    async def close_room(self, room_id: str) -> None:
        room = self._rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    async def close(self) -> None:
        for room_id in list(self._rooms):
            await self.close_room(room_id)
