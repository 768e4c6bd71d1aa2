"""The relay-made low layer of one publisher's VP8 video: decoded once, scaled to 320 or 160
px wide and encoded again by libvpx (PyAV), at the bitrate relay/layers.py derives from the
starved subscribers' estimates. Publication (fanout.py) starts it only while a subscriber
needs it, so a room whose links carry the publishers' own pictures costs nothing more.

The decoder and the encoder run in one worker thread per publisher: libvpx releases the
GIL, so the event loop goes on forwarding while a frame is coded (measured here: 1 ms to
decode 640x480, 0.5 ms to scale, 5-9 ms of CPU to encode 320x240, per frame).
"""

import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional

import av

from .bitstream import Vp8Packetizer
from .forwarding_buffer import EncodedFrame
from .layers import EncoderRate, low_layer_width, scaled_size
from .rtp_writer import PackedFrame, ntp_now

logger = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 90000)
MAX_PENDING = 10  # frames waiting for the worker (0.5 s at 20 fps): past that, start again at a keyframe
SKIP_ENCODE_PENDING = 2  # with more than this waiting, frames are decoded but not encoded (catch up)
KEYFRAME_INTERVAL = 0.5  # at most one keyframe forced per this, however many subscribers ask
RC_BUFFER_SECONDS = 0.6  # libvpx's rate-control buffer: a short one keeps bursts off a weak link


@dataclass(frozen=True)
class _Settings:
    """What the loop thread tells the worker for one frame."""

    max_width: int
    bps: int
    keyframe: bool
    encode: bool


def _vp8_encoder(width: int, height: int, bps: int) -> Any:
    """A realtime constant-bitrate libvpx context (the options aiortc's Vp8Encoder uses,
    with a shorter buffer, one thread and keyframes only when asked for)."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.bit_rate = bps
    codec.time_base = TIME_BASE
    codec.gop_size = 3000
    codec.qmin, codec.qmax = 4, 56
    codec.thread_count = 1
    codec.options = {
        "bufsize": str(int(bps * RC_BUFFER_SECONDS)),
        "minrate": str(bps), "maxrate": str(bps),  # minrate = maxrate: CBR
        "cpu-used": "8", "deadline": "realtime", "lag-in-frames": "0",
        "overshoot-pct": "15", "undershoot-pct": "100", "static-thresh": "1",
        "partitions": "0", "noise-sensitivity": "0",
    }
    return codec


class LowLayer:
    """One publisher's low layer. Call from the event loop: ``feed`` each frame of the
    source in order, ``set_target`` once a second, ``request_keyframe`` on a subscriber's
    PLI, ``close`` when no subscriber needs it. Encoded frames go to ``on_frame`` on the
    loop, packetized, with the source frame's RTP timestamp (so a subscriber's stream keeps
    its clock when it switches between the two)."""

    def __init__(self, *, on_frame: Callable[[PackedFrame], None],
                 request_source_keyframe: Callable[[], None], target_bps: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_frame = on_frame
        self._request_source_keyframe = request_source_keyframe
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-low-layer")
        self._packetizer = Vp8Packetizer()
        self.rate = EncoderRate(target_bps, time.monotonic())
        self.width = low_layer_width(target_bps, None)
        self._synced = False  # the decoder has had a keyframe since the last break
        self._keyframe_wanted = True
        self._last_forced = 0.0
        self._pending = 0
        self.closed = False
        self.frames_in = self.frames_out = self.frames_skipped = self.resyncs = 0
        self.last_size: Optional[tuple[int, int]] = None
        # the worker thread's own
        self._decoder = av.CodecContext.create("libvpx", "r")
        self._encoder: Any = None
        self._encoder_key: Optional[tuple[int, int, int]] = None
        self._last_pts: Optional[int] = None

    # --- the event loop's side ------------------------------------------------------

    def feed(self, frame: EncodedFrame) -> None:
        if self.closed:
            return
        self.frames_in += 1
        if not self._synced:
            if not frame.keyframe:
                self._request_source_keyframe()
                return
            self._synced = True
        if self._pending >= MAX_PENDING:  # the worker fell behind (a busy machine)
            self.resync()
            return
        encode = self._pending <= SKIP_ENCODE_PENDING
        keyframe = encode and self._keyframe_wanted
        if keyframe:
            self._keyframe_wanted = False
        if not encode:
            self.frames_skipped += 1
        self._pending += 1
        settings = _Settings(self.width, int(self.rate.bps), keyframe, encode)
        self._executor.submit(self._work, frame.data, frame.timestamp, settings)

    def resync(self) -> None:
        """Frames of the source were lost (a gap given up, a reconnect, a backlog): decode
        again from the source's next keyframe."""
        if self._synced:
            self.resyncs += 1
        self._synced = False
        self._request_source_keyframe()

    def set_target(self, target_bps: float) -> None:
        self.rate.propose(target_bps, time.monotonic())
        self.width = low_layer_width(target_bps, self.width)

    def request_keyframe(self) -> None:
        now = time.monotonic()
        if now - self._last_forced >= KEYFRAME_INTERVAL:
            self._last_forced = now
            self._keyframe_wanted = True

    def close(self) -> None:
        self.closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _done(self, encoded: list[tuple[bytes, bool]], timestamp: int) -> None:
        self._pending -= 1
        if self.closed:
            return
        for data, keyframe in encoded:
            self.frames_out += 1
            self._on_frame(PackedFrame(self._packetizer.pack(data), timestamp, keyframe, ntp_now()))

    def _lost_sync(self) -> None:
        self._pending -= 1
        self.resync()

    # --- the worker thread's side ---------------------------------------------------

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the room is gone
            pass

    def _work(self, data: bytes, timestamp: int, settings: _Settings) -> None:
        try:
            pictures = self._decoder.decode(av.Packet(data))
        except av.error.FFmpegError:
            self._post(self._lost_sync)
            return
        encoded: list[tuple[bytes, bool]] = []
        try:
            if settings.encode:
                for picture in pictures:
                    encoded += self._encode(picture, timestamp, settings)
        except Exception:  # never out of the worker: one frame less, the next goes on
            logger.exception("relay: encoding the low layer failed")
            self._encoder_key = None
        self._post(self._done, encoded, timestamp)

    def _encode(self, picture: Any, timestamp: int, settings: _Settings) -> list[tuple[bytes, bool]]:
        width, height = scaled_size(picture.width, picture.height, settings.max_width)
        key = (width, height, settings.bps)
        if key != self._encoder_key or (self._last_pts is not None and timestamp <= self._last_pts):
            # a new size or rate (libvpx takes neither on the fly), or the source started
            # again (a reconnect): a new context, whose first frame is a keyframe
            self._encoder, self._encoder_key = _vp8_encoder(width, height, settings.bps), key
        self._last_pts = timestamp
        scaled = picture.reformat(width=width, height=height, format="yuv420p")
        scaled.pts, scaled.time_base = timestamp, TIME_BASE
        if settings.keyframe:
            scaled.pict_type = av.video.frame.PictureType.I
        self.last_size = (width, height)
        return [(bytes(packet), bool(packet.is_keyframe)) for packet in self._encoder.encode(scaled)]
