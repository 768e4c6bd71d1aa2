"""Fan-out: one publisher's frames (a Publication) to every subscriber's ForwardingTrack,
packetized once, written straight to each subscriber's sender (relay/rtp_writer.py). A
subscriber whose link cannot carry a publisher's picture gets the relay-made low layer
(relay/low_layer.py) instead, switched at a keyframe.
"""

import asyncio
import collections
import fractions
import time
from collections.abc import Callable
from typing import Optional

import av
from aiortc import RTCRtpCodecParameters, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .bitstream import Vp8Packetizer, h264_nal_units
from .forwarding_buffer import EncodedFrame, ForwardingBuffer, VideoForwardingBuffer
from .layers import LayerChoice
from .low_layer import LowLayer
from .passthrough import receive_inline, tap_receiver
from .rtcp_feedback import cap_receiver_remb, send_pli, send_remb, sender_rtt
from .rtp_writer import RTP_OVERHEAD, PackedFrame, RtpWriter, ntp_now

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
RATE_WINDOW_SECONDS = 3.0  # a publisher's rate is measured over this (keyframes come in bursts)


class ForwardingTrack(MediaStreamTrack):
    """One subscriber's copy of a publisher's audio or video. Frames are written straight
    to the subscriber's RTCRtpSender transport as they arrive (``forward_through``); the
    sender's own read loop only waits for the track to end. Video starts (and restarts
    after a pause) at a keyframe.

    Video comes from one of two layers: the publisher's own frames, or the publication's
    low layer (``low``). ``set_want_low`` asks for the other one; the track keeps sending
    the current one until a keyframe of the wanted one arrives, so the picture never stops.
    Both carry the source's RTP timestamps, and the writer its own sequence numbers.
    """

    def __init__(self, publication: "Publication", queue_frames: int) -> None:
        super().__init__()
        self.kind = publication.kind
        self._publication = publication
        self._queue_frames = queue_frames
        self._pending: list[PackedFrame] = []  # until the subscriber's connection is up
        self._writer: Optional[RtpWriter] = None
        self._ended = asyncio.Event()
        self._needs_keyframe = publication.kind == "video"
        self.paused = False
        self.frames_sent = 0
        self.link = None  # the subscriber's SubscriberLink (pacer), set before the connection is up
        self.restarts = 0
        self.low = False  # sending the low layer
        self.want_low = False
        self.choice = LayerChoice()  # relay/layers.py, applied by the room once a second
        self.layer_switches = 0

    def request_keyframe(self) -> None:
        """A keyframe of the layer this track sends (a subscriber's PLI comes here)."""
        if self.low:
            self._publication.request_low_keyframe()
        else:
            self._publication.request_keyframe()

    def set_want_low(self, want_low: bool) -> None:
        """Switch to the low layer (True) or back to the publisher's own frames, at the next
        keyframe of the wanted layer, which is asked for at once."""
        if want_low == self.want_low:
            return
        self.want_low = want_low
        if want_low:
            self._publication.request_low_keyframe()
        else:
            self._publication.request_keyframe()

    def restart_at_keyframe(self) -> None:
        """The pacer dropped this stream's backlog: go on from the next keyframe."""
        if self.kind == "video":
            self.restarts += 1
            self._needs_keyframe = True
            self.request_keyframe()

    def set_paused(self, paused: bool) -> None:
        """Stop (True) or resume (False) forwarding; resuming video waits for a keyframe."""
        if paused == self.paused:
            return
        self.paused = paused
        if paused and self.link is not None:
            self.link.pacer.flush(self)  # what waits in the pacer goes too, at once
        if not paused and self.kind == "video":
            self._needs_keyframe = True
            self.request_keyframe()

    def push(self, frame: PackedFrame, low: bool = False) -> None:
        """A frame of the publisher's own layer, or of its low layer (``low``)."""
        if self.paused or self.readyState != "live":
            return
        if low != self.low:
            if low != self.want_low or not frame.keyframe:
                return  # the other layer: taken from its keyframe on, once wanted
            self.low, self._needs_keyframe = low, False
            self.layer_switches += 1
        if self._needs_keyframe:
            if not frame.keyframe:
                if self._writer is not None:
                    self.request_keyframe()
                return
            self._needs_keyframe = False
        if self._writer is not None:
            self._writer.write(frame, frame.received_ntp)
            self.frames_sent += 1
            return
        if len(self._pending) >= self._queue_frames:
            # the connection is slow to come up: keep only from the next keyframe on
            self._pending.clear()
            if self.kind == "video":
                self._needs_keyframe = True
                self.request_keyframe()
                return
        self._pending.append(frame)

    async def _sender_started(self, sender: RTCRtpSender, codec) -> None:
        """Stands in for ``sender._next_encoded_frame``: aiortc calls it once the
        subscriber's connection is up, with the negotiated codec."""
        if self._writer is None:
            self._writer = RtpWriter(sender, codec.payloadType, self.link, self.kind, self)
            pending, self._pending = self._pending, []
            now = ntp_now()
            for frame in pending:
                self._writer.write(frame, now)
                self.frames_sent += 1
            if self._needs_keyframe:
                self.request_keyframe()
        await self._ended.wait()
        raise MediaStreamError

    async def recv(self) -> av.Packet:
        """Nothing is read from this track: frames go to the sender's transport directly."""
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self._publication.detach(self)
            self._pending.clear()
            if self._writer is not None:
                self._writer.closed = True
            if self.link is not None:
                self.link.pacer.flush(self)
            self._ended.set()


def forward_through(sender: RTCRtpSender, track: ForwardingTrack) -> None:
    """Have ``track``'s frames written to ``sender``'s transport as they arrive, instead of
    aiortc's sender task reading the track (one task wake-up, queue hand-over and
    packetization per frame and subscriber). With ``track.link`` set, NACKs are answered
    by the link's rules (RtxPolicy: recent packets only, within a share of the estimate).
    The subscriber's RTCP is handled as it arrives (``receive_inline``), not through a queue."""
    sender._next_encoded_frame = lambda codec: track._sender_started(sender, codec)
    receive_inline(sender.transport)

    async def retransmit(sequence_number: int) -> None:
        writer, link = track._writer, track.link
        if link is not None and writer is not None:
            packet = writer.sent_packet(sequence_number)
            if packet is None:
                return
            size = len(packet.payload) + RTP_OVERHEAD
            if not writer.rtx.allow(sequence_number, size, time.monotonic(), sender_rtt(sender),
                                    link.estimate_bps()):
                return
            link.pacer.charge(size)
        await RTCRtpSender._retransmit(sender, sequence_number)

    sender._retransmit = retransmit


class Publication:
    """One publisher's audio or video: frames in from a tapped receiver, out to every
    subscriber's ForwardingTrack. Survives the publisher reconnecting (``attach_receiver``).
    """

    def __init__(self, kind: str, codec_name: str, *, keyframe_interval: float, queue_frames: int):
        self.kind = kind
        self.codec_name = codec_name
        self._time_base = VIDEO_TIME_BASE if kind == "video" else AUDIO_TIME_BASE
        self._keyframe_interval = keyframe_interval
        self._queue_frames = queue_frames
        self._tracks: set[ForwardingTrack] = set()
        self._receiver: Optional[RTCRtpReceiver] = None
        self._ssrc: Optional[int] = None
        self._last_pli = 0.0
        self._pli_pending = False
        self.frames_in = 0
        self.bytes_in = 0
        self.keyframe_requests_sent = 0
        self.on_frame_in: Optional[Callable[[EncodedFrame], None]] = None  # instrumentation
        self._h264_parameter_sets: dict[int, bytes] = {}  # NAL type 7 (SPS), 8 (PPS)
        self.rtt: Optional[float] = None  # to the publisher, set by the room (gap rules)
        self.remb_cap: Optional[float] = None  # the REMB ceiling its subscribers allow (bps)
        self.buffer: Optional[ForwardingBuffer] = None
        self.low_layer: Optional[LowLayer] = None  # while a subscriber needs it
        self.low_layers_started = 0
        self.rate_bps: Optional[float] = None  # measured by the room once a second (measure_rate)
        self._gaps_seen = 0
        self._rate_samples: collections.deque[tuple[float, int]] = collections.deque()
        # packetizes each frame once for all subscribers (VP8 picture ids run per publication)
        self._vp8 = Vp8Packetizer() if kind == "video" and codec_name == "VP8" else None
        self._packetizer = None if kind == "audio" or self._vp8 is not None else get_encoder(
            RTCRtpCodecParameters(mimeType=f"video/{codec_name}", clockRate=90000))

    def attach_receiver(self, receiver: RTCRtpReceiver) -> None:
        """Take frames from ``receiver`` from now on (a new or reconnected publisher)."""
        self._receiver = receiver
        self._ssrc = None
        self.buffer = tap_receiver(receiver, self.kind, self.codec_name, self._on_frame,
                                   rtt=lambda: self.rtt)
        if self.kind == "video":
            cap_receiver_remb(receiver, lambda: self.remb_cap)
        for track in self._tracks:
            track._needs_keyframe = self.kind == "video"
        self._gaps_seen = 0
        if self.low_layer is not None:
            self.low_layer.resync()

    def subscribe(self) -> ForwardingTrack:
        """A new track for one subscriber. Video asks the publisher for a keyframe at once,
        so the picture is ready by the time the subscriber's connection is up."""
        track = ForwardingTrack(self, self._queue_frames)
        self._tracks.add(track)
        self.request_keyframe()
        return track

    def detach(self, track: ForwardingTrack) -> None:
        self._tracks.discard(track)

    def close(self) -> None:
        for track in list(self._tracks):
            track.stop()
        self.stop_low_layer()
        self._receiver = None

    # --- the low layer -----------------------------------------------------------------

    @property
    def can_make_low_layer(self) -> bool:
        return self.kind == "video" and self.codec_name == "VP8"

    def needs_low_layer(self) -> bool:
        """Whether a subscriber that is not paused sends or wants the low layer."""
        return any((t.low or t.want_low) and not t.paused for t in self._tracks)

    def start_low_layer(self, target_bps: float) -> None:
        """Run the low layer at ``target_bps`` (started if it is not running)."""
        if not self.can_make_low_layer:
            return
        if self.low_layer is None:
            self.low_layers_started += 1
            self.low_layer = LowLayer(on_frame=self._on_low_frame, request_source_keyframe=self.request_keyframe,
                                      target_bps=target_bps)
        else:
            self.low_layer.set_target(target_bps)

    def stop_low_layer(self) -> None:
        if self.low_layer is not None:
            self.low_layer.close()
            self.low_layer = None

    def request_low_keyframe(self) -> None:
        if self.low_layer is not None:
            self.low_layer.request_keyframe()

    def measure_rate(self, now: float) -> Optional[float]:
        """The publisher's bit rate into the relay over about RATE_WINDOW_SECONDS (payload
        only), or None before there are two samples. Call about once a second."""
        samples = self._rate_samples
        samples.append((now, self.bytes_in))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_SECONDS:
            samples.popleft()
        (first, first_bytes), (last, last_bytes) = samples[0], samples[-1]
        if last - first <= 0 or last_bytes < first_bytes:
            return None
        return (last_bytes - first_bytes) * 8 / (last - first)

    def _on_low_frame(self, packed: PackedFrame) -> None:
        for track in list(self._tracks):
            track.push(packed, low=True)

    def request_keyframe(self) -> None:
        """Send a PLI to the publisher, at most once per keyframe_interval."""
        if self.kind != "video":
            return
        if self._receiver is None or self._ssrc is None:
            self._pli_pending = True  # send once the first packet tells us the SSRC
            return
        now = time.monotonic()
        if now - self._last_pli < self._keyframe_interval:
            return
        self._last_pli = now
        self.keyframe_requests_sent += 1
        send_pli(self._receiver, self._ssrc)

    def tick(self) -> None:
        """The video gap timers (a gap is re-NACKed, then given up) between packets."""
        if isinstance(self.buffer, VideoForwardingBuffer) and self.buffer.tick():
            self.request_keyframe()

    def send_remb(self, bitrate: float) -> None:
        """Tell the publisher's encoder to stay under ``bitrate`` (REMB)."""
        if self.kind == "video" and self._receiver is not None and self._ssrc is not None:
            send_remb(self._receiver, self._ssrc, int(bitrate))

    def _with_h264_parameter_sets(self, data: bytes, keyframe: bool) -> bytes:
        """Remember the publisher's SPS/PPS; put them in front of an intra frame that has
        none, so a subscriber that starts there can decode it."""
        types = set()
        for nal in h264_nal_units(data):
            nal_type = nal[0] & 0x1F
            types.add(nal_type)
            if nal_type in (7, 8):
                self._h264_parameter_sets[nal_type] = nal
        if keyframe and not types & {7, 8} and len(self._h264_parameter_sets) == 2:
            prefix = b"".join(b"\x00\x00\x00\x01" + self._h264_parameter_sets[t] for t in (7, 8))
            return prefix + data
        return data

    def _on_frame(self, frame: EncodedFrame) -> None:
        self.frames_in += 1
        self.bytes_in += len(frame.data)
        if self._ssrc != frame.ssrc:
            self._ssrc = frame.ssrc
            if self._pli_pending:
                self._pli_pending = False
                self.request_keyframe()
        if self.on_frame_in is not None:
            self.on_frame_in(frame)
        if self.low_layer is not None:
            gaps = getattr(self.buffer, "gaps_given_up", 0)
            if gaps != self._gaps_seen:  # frames were dropped: the decoder's references are gone
                self._gaps_seen = gaps
                self.low_layer.resync()
            self.low_layer.feed(frame)
        data = frame.data
        if self.codec_name == "H264" and self.kind == "video":
            data = self._with_h264_parameter_sets(data, frame.keyframe)
        if self._vp8 is not None:
            payloads = self._vp8.pack(data)
        elif self._packetizer is None:
            payloads = [data]  # Opus: one frame, one packet
        else:
            packet = av.Packet(data)
            packet.pts, packet.time_base = frame.timestamp, self._time_base
            payloads, _ = self._packetizer.pack(packet)
        packed = PackedFrame(payloads, frame.timestamp, frame.keyframe, ntp_now())
        for track in list(self._tracks):
            track.push(packed)
