"""Simulated participants: aiortc peers that speak the relay protocol (relay/README.md).
Used by tests/relay and bench/relay_bench.py; also a reference for client authors."""

import asyncio
import fractions
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

import av
import numpy
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack, VideoStreamTrack

from . import passthrough, rtcp_feedback
from .fanout import VIDEO_TIME_BASE
from .forwarding_buffer import EncodedFrame
from .passthrough import loopback_candidates

VIDEO_CLOCK = 90000
NO_ICE_SERVERS = RTCConfiguration(iceServers=[])


class Signalling(Protocol):
    """What a participant calls on the relay; RelayRoom has exactly these methods."""

    async def publish(self, participant_id: str, offer_sdp: str) -> str: ...

    async def subscribe_answer(self, participant_id: str, pc_id: str, answer_sdp: str) -> None: ...


def frame_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


class ColourTrack(VideoStreamTrack):
    """Live video: a solid colour, encoded by aiortc's sender like a camera would be."""

    def __init__(self, rgb: tuple[int, int, int], width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.rgb, self.size = rgb, (width, height)
        image = numpy.zeros((height, width, 3), numpy.uint8)
        image[:, :] = rgb
        self._frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = self._frame.reformat()  # a copy: the encoder owns what it is given
        frame.pts, frame.time_base = pts, time_base
        return frame


def encode_clip(
    rgb: tuple[int, int, int], *, width: int, height: int, fps: int, frames: int,
    gop: int, codec: str = "libvpx", bitrate: int = 500_000,
) -> list[tuple[bytes, bool]]:
    """Encode a moving-bar clip once, so publishers can send it without encoding again.
    Returns (frame bytes, is_keyframe) per frame; frame 0 is a keyframe."""
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = fractions.Fraction(1, fps)
    context.framerate = fractions.Fraction(fps, 1)
    context.bit_rate = bitrate
    context.gop_size = gop
    context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    clip = []
    for index in range(frames):
        image = numpy.zeros((height, width, 3), numpy.uint8)
        image[:, :] = rgb
        bar = (index * 4) % width
        image[:, bar:bar + 8] = 255 - numpy.array(rgb, numpy.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        for packet in context.encode(frame):
            clip.append((bytes(packet), packet.is_keyframe))
    for packet in context.encode(None):
        clip.append((bytes(packet), packet.is_keyframe))
    return clip


def encode_camera_clip(
    *, width: int, height: int, fps: int, frames: int, bitrate: int, seed: int = 0,
) -> list[tuple[bytes, bool]]:
    """Encode a clip with a real camera's load: a textured scene panning slowly, a moving
    object and sensor noise, so that libvpx spends the whole ``bitrate`` (a flat colour
    encodes at a few kbit/s whatever it is asked). Only frame 0 is a keyframe, as from a
    WebRTC encoder that is sent a keyframe request now and then.
    Returns (frame bytes, is_keyframe) per frame."""
    rng = numpy.random.default_rng(seed)
    # Smooth-ish texture: coarse noise upscaled (what a room, a face and a shirt look like
    # to an encoder), plus fine detail.
    coarse = rng.integers(0, 256, (height // 8 + 2, (width + frames * 2) // 8 + 2, 3), numpy.uint8)
    scene = numpy.repeat(numpy.repeat(coarse, 8, axis=0), 8, axis=1).astype(numpy.int16)
    scene += rng.integers(-24, 25, scene.shape, numpy.int16)
    context = _vp8_context(width, height, fps, bitrate, gop=frames * 4)
    clip = []
    for index in range(frames):
        image = scene[:height, index * 2:index * 2 + width].copy()  # the camera pans 60 px/s
        x = int((width - 96) * (0.5 + 0.5 * numpy.sin(index / 12)))
        image[height // 3:height // 3 + 96, x:x + 96] = (220, 180, 150)  # a moving hand
        image += rng.integers(-6, 7, image.shape, numpy.int16)  # sensor noise
        rgb = numpy.clip(image, 0, 255).astype(numpy.uint8)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        clip.extend((bytes(p), p.is_keyframe) for p in context.encode(frame))
    clip.extend((bytes(p), p.is_keyframe) for p in context.encode(None))
    return clip


def _vp8_context(width: int, height: int, fps: int, bitrate: int, gop: int) -> av.CodecContext:
    context = av.CodecContext.create("libvpx", "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = fractions.Fraction(1, fps)
    context.framerate = fractions.Fraction(fps, 1)
    context.bit_rate = bitrate
    context.gop_size = gop
    # What WebRTC asks of libvpx (constant bit rate, no look-ahead), but at the "good"
    # deadline: "realtime" adapts its speed to the machine's load, so the clip would differ
    # from run to run.
    context.options = {"deadline": "good", "cpu-used": "5", "lag-in-frames": "0",
                       "minrate": str(bitrate), "maxrate": str(bitrate),
                       "bufsize": str(bitrate), "error-resilient": "1"}
    return context


def clip_bitrate(clip: list[tuple[bytes, bool]], fps: int) -> float:
    """Bits per second of a clip played at ``fps``."""
    return 8 * sum(len(data) for data, _ in clip) * fps / len(clip)


class ClipTrack(MediaStreamTrack):
    """Pre-encoded video, paced in real time; jumps to a keyframe when one is requested
    (the way a real encoder answers a PLI). Records when each frame was handed over."""

    kind = "video"

    def __init__(self, clip: list[tuple[bytes, bool]], fps: int) -> None:
        super().__init__()
        self._clip, self._fps = clip, fps
        self._index = 0
        self._count = 0
        self._start: Optional[float] = None
        self.sent_at: dict[bytes, float] = {}
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._index = 0  # frame 0 of the clip is a keyframe

    async def recv(self) -> av.Packet:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._count / self._fps - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        data, _ = self._clip[self._index]
        self._index = (self._index + 1) % len(self._clip)
        packet = av.Packet(data)
        packet.pts = self._count * VIDEO_CLOCK // self._fps
        packet.time_base = VIDEO_TIME_BASE
        self._count += 1
        self.sent_at[frame_digest(data)] = time.monotonic()
        return packet


@dataclass
class Received:
    """What a participant got from one publisher."""

    video_frames: int = 0
    video_bytes: int = 0
    audio_frames: int = 0
    first_video_at: Optional[float] = None
    last_rgb: Optional[tuple[float, float, float]] = None
    last_size: Optional[tuple[int, int]] = None  # of the last decoded picture
    keyframes: int = 0
    digests: list[bytes] = field(default_factory=list)
    arrivals: list[tuple[bytes, float]] = field(default_factory=list)


class SimParticipant:
    """A client of the relay: publishes its tracks, answers every subscribe_offer.

    decode=True decodes received video (to check colours); decode=False taps the
    encoded frames instead (cheap: for the benchmark, and to compare bytes).
    """

    def __init__(
        self, participant_id: str, signalling: Signalling, *, video: Optional[MediaStreamTrack],
        audio: Optional[MediaStreamTrack] = None, decode: bool = True, loopback: bool = True,
    ) -> None:
        self.participant_id = participant_id
        self.signalling = signalling
        self.video, self.audio = video, audio
        self.decode, self.loopback = decode, loopback
        self.upstream: Optional[RTCPeerConnection] = None
        self.subscriptions: dict[str, RTCPeerConnection] = {}
        self.publisher_of: dict[str, str] = {}
        self.received: dict[str, Received] = {}
        self.messages: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task] = set()
        self.joined_at: Optional[float] = None

    async def publish(self) -> None:
        self.joined_at = time.monotonic()
        pc = self.upstream = RTCPeerConnection(NO_ICE_SERVERS)
        for track in (self.audio, self.video):
            if track is not None:
                sender = pc.addTrack(track)
                pc.getTransceivers()[-1].direction = "sendonly"
                if isinstance(track, ClipTrack):
                    rtcp_feedback.on_keyframe_request(sender, track.request_keyframe)
        with loopback_candidates(self.loopback):
            await pc.setLocalDescription(await pc.createOffer())
        answer = await self.signalling.publish(self.participant_id, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def republish(self) -> None:
        """What a client does when its relay went away (`relay_moved`) or ICE failed: close every
        peer connection and publish again. `received` starts afresh (it counts since this publish)."""
        for task in list(self._tasks):
            task.cancel()
        for pc in [*self.subscriptions.values(), *([self.upstream] if self.upstream else [])]:
            await pc.close()
        self.subscriptions.clear()
        self.received.clear()
        self.video, self.audio = _revive(self.video), _revive(self.audio)
        await self.publish()

    def deliver(self, message: dict[str, Any]) -> None:
        """The relay's send callback for this participant."""
        self.messages.append(message)
        task = asyncio.ensure_future(self._handle(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: dict[str, Any]) -> None:
        if message["type"] == "subscribe_offer":
            await self._subscribe(message["pc_id"], message["publisher"], message["sdp"])
        elif message["type"] == "unsubscribe":
            pc = self.subscriptions.pop(message["pc_id"], None)
            if pc is not None:
                await pc.close()

    async def _subscribe(self, pc_id: str, publisher: str, offer: str) -> None:
        pc = RTCPeerConnection(NO_ICE_SERVERS)
        self.subscriptions[pc_id] = pc
        self.publisher_of[pc_id] = publisher
        received = self.received.setdefault(publisher, Received())

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and self.decode:
                self._spawn(self._consume_video(track, received))
            elif track.kind == "audio":
                self._spawn(self._consume_audio(track, received))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        if not self.decode:
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video":
                    codec = _offered_video_codec(offer)
                    passthrough.tap_receiver(transceiver.receiver, "video", codec,
                                             lambda f, r=received: count_encoded(f, r))
        with loopback_candidates(self.loopback):
            await pc.setLocalDescription(await pc.createAnswer())
        await self.signalling.subscribe_answer(self.participant_id, pc_id, pc.localDescription.sdp)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _consume_video(track: MediaStreamTrack, received: Received) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            received.video_frames += 1
            if received.first_video_at is None:
                received.first_video_at = time.monotonic()
            rgb = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
            received.last_rgb = tuple(float(v) for v in rgb)
            received.last_size = (frame.width, frame.height)

    @staticmethod
    async def _consume_audio(track: MediaStreamTrack, received: Received) -> None:
        while True:
            try:
                await track.recv()
            except Exception:
                return
            received.audio_frames += 1

    async def inbound_packets(self) -> dict[str, int]:
        """RTP packets received so far on every subscription, by kind (from getStats)."""
        counts = {"audio": 0, "video": 0}
        for pc in list(self.subscriptions.values()):
            for stats in (await pc.getStats()).values():
                if stats.type == "inbound-rtp":
                    counts[stats.kind] += stats.packetsReceived
        return counts

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for pc in list(self.subscriptions.values()):
            await pc.close()
        if self.upstream is not None:
            await self.upstream.close()


def _revive(track: Optional[MediaStreamTrack]) -> Optional[MediaStreamTrack]:
    """aiortc's sender stops its track when its peer connection closes (a browser's camera
    track lives on): the same source again, as a fresh track."""
    if track is None or track.readyState == "live":
        return track
    if isinstance(track, ColourTrack):
        return ColourTrack(track.rgb, *track.size)
    if isinstance(track, ClipTrack):
        return ClipTrack(track._clip, track._fps)
    return type(track)()


def count_encoded(frame: EncodedFrame, received: Received) -> None:
    now = time.monotonic()
    received.video_frames += 1
    received.video_bytes += len(frame.data)
    if frame.keyframe:
        received.keyframes += 1
    if received.first_video_at is None and frame.keyframe:
        received.first_video_at = now
    digest = frame_digest(frame.data)
    received.digests.append(digest)
    received.arrivals.append((digest, now))


def _offered_video_codec(sdp: str) -> str:
    for line in sdp.splitlines():
        if line.startswith("a=rtpmap:") and "/90000" in line:
            name = line.split(" ", 1)[1].split("/")[0]
            if name.upper() in ("VP8", "H264"):
                return name.upper()
    return "VP8"


async def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()
