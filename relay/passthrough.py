"""Forward encoded media through aiortc without decoding it: the one module that
reaches into aiortc's private internals.

Pinned: aiortc==1.16.0 (aioice as it depends on). What is reached into, and why:

- ``RTCRtpReceiver._RTCRtpReceiver__jitter_buffer`` is replaced by a buffer that hands
  every complete encoded frame to the relay and never returns one to the receiver, so the
  receiver's decoder thread never gets work and no decoder is ever created. The
  replacement releases a video frame as soon as its packet with the RTP marker bit is in
  and the packets before it are contiguous; aiortc's own buffer waits for the first packet
  of the *next* frame, one frame late.
- ``RTCRtpReceiver._send_rtcp_pli`` sends a keyframe request (PLI) to a publisher.
- ``RTCRtpSender._send_keyframe`` is replaced per sender instance, so a PLI/FIR that a
  subscriber sends reaches the relay instead of setting a "force keyframe" flag that only
  an encoder would read.
- ``RTCRtpSender._next_encoded_frame`` is replaced per sender instance by a wait for the
  track's end: the sender's own task no longer reads the track. ``_RtpWriter`` writes each
  frame's RTP packets through ``sender.transport._send_rtp`` at once, the way
  ``RTCRtpSender._run_rtp`` would, and keeps the sender's private ``__rtp_history`` (NACK
  answers), ``__ntp_timestamp``/``__rtp_timestamp``/``__octet_count``/``__packet_count``
  (sender reports, getStats) up to date. ``_run_to_completion`` drives that coroutine
  without the event loop because nothing on aiortc's send path suspends.
- ``aioice Connection.data_received`` of an upstream connection is replaced
  (``receive_inline``) so that its SRTP packets are unprotected and handed to
  ``RTCDtlsTransport._handle_rtp_data`` inside the datagram callback, as
  ``RTCDtlsTransport._recv_next`` would, instead of through a queue and a task switch;
  the transport's private receive counters are kept. DTLS, STUN and SRTCP take aiortc's path.
- Congestion control (relay/congestion.py does the deciding): ``RTCRtpSender._retransmit``
  is wrapped per instance (NACKs answered by RtxPolicy), ``RTCRtpSender._handle_rtcp_packet``
  is wrapped per instance to read REMBs and receiver reports (loss, and the round trip
  from the sender's private ``__lsr``/``__lsr_time``), ``RTCRtpReceiver._send_rtcp`` is
  wrapped to lower aiortc's own REMB to the subscribers' ceiling, and REMB/NACK packets are
  sent with the receiver's ``__rtcp_ssrc``, ``_send_rtcp`` and ``_send_rtcp_nack``.
- ``RTCRtpTransceiver._codecs`` is narrowed after setRemoteDescription so that an answer
  names only the room's codec.
- ``aioice.ice.get_host_addresses`` is wrapped so that 127.0.0.1 can be gathered as a host
  candidate, only inside ``loopback_candidates()``.

Why: per forwarded packet, aiortc's sender task (a queue hand-over, a task wake-up and a
packetization per subscriber) and its receive task (a queue and a task switch per packet)
were a good part of the relay's CPU; see relay/README.md "Figures".

``check_aiortc_internals()`` fails loudly if an aiortc upgrade moved any of this;
tests/relay/test_passthrough.py exercises each piece.
"""

import asyncio
import collections
import contextlib
import fractions
import functools
import logging
import struct
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Optional

import aioice.ice
import aiortc
import av
import pylibsrtp
from aiortc import RTCDtlsTransport, RTCRtpCodecParameters, RTCRtpReceiver, RTCRtpSender, clock
from aiortc.codecs import get_encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpsender import RTP_HISTORY_SIZE, random_sequence_number
from aiortc.rtp import (
    RTCP_PSFB_APP,
    HeaderExtensions,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSrPacket,
    RtpPacket,
    is_rtcp,
    pack_remb_fci,
    unpack_remb_fci,
)
from aiortc.utils import random32, uint16_add, uint16_gt

from .bitstream import h264_nal_units, is_keyframe, starts_frame
from .congestion import RtxPolicy

logger = logging.getLogger(__name__)

PINNED_AIORTC_VERSION = "1.16.0"

_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_ENCODER_ATTR = "_RTCRtpSender__encoder"
_DTLS_RX_ATTRS = ("_RTCDtlsTransport__rx_bytes", "_RTCDtlsTransport__rx_packets")
# RTCRtpSender state that _RtpWriter keeps up to date, as RTCRtpSender._run_rtp would
_SENDER_ATTRS = {
    "history": "_RTCRtpSender__rtp_history",
    "extensions_map": "_RTCRtpSender__rtp_header_extensions_map",
    "mid": "_RTCRtpSender__mid",
    "ntp_timestamp": "_RTCRtpSender__ntp_timestamp",
    "rtp_timestamp": "_RTCRtpSender__rtp_timestamp",
    "octet_count": "_RTCRtpSender__octet_count",
    "packet_count": "_RTCRtpSender__packet_count",
}

# RTP header (12) + extensions (abs-send-time, mid: 12) + SRTP tag (10) + UDP/IP (28)
RTP_OVERHEAD = 62

# A gap in a publisher's video is given up after this many round trips (at least
# GAP_GIVE_UP_MIN seconds): NACK retransmissions fill a gap within one round trip or two.
GAP_GIVE_UP_RTTS = 2.0
GAP_GIVE_UP_MIN = 0.1
# A memory bound only: the timers above give a gap up long before this many packets.
MAX_VIDEO_GAP_PACKETS = 1024


def check_aiortc_internals() -> None:
    """Raise RuntimeError if the installed aiortc is not the one this module was written for."""
    if aiortc.__version__ != PINNED_AIORTC_VERSION:
        raise RuntimeError(
            f"relay.passthrough reaches into aiortc internals and is pinned to "
            f"aiortc=={PINNED_AIORTC_VERSION}; found {aiortc.__version__}"
        )
    for cls, name in (
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpSender, "_send_keyframe"),
        (RTCRtpSender, "_next_encoded_frame"),
        (RTCRtpSender, "_retransmit"),
        (RTCRtpSender, "_handle_rtcp_packet"),
        (RTCRtpReceiver, "_send_rtcp"),
        (RTCRtpReceiver, "_send_rtcp_nack"),
        (RTCDtlsTransport, "_send_rtp"),
        (RTCDtlsTransport, "_handle_rtp_data"),
    ):
        if not hasattr(cls, name):
            raise RuntimeError(f"aiortc {cls.__name__}.{name} is gone; see relay/passthrough.py")


# --- loopback candidates -----------------------------------------------------------

_loopback_wanted: ContextVar[bool] = ContextVar("relay_loopback_wanted", default=False)
_original_get_host_addresses = aioice.ice.get_host_addresses


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _original_get_host_addresses(use_ipv4, use_ipv6)
    if _loopback_wanted.get() and use_ipv4 and "127.0.0.1" not in addresses:
        addresses.insert(0, "127.0.0.1")
    return addresses


aioice.ice.get_host_addresses = _get_host_addresses


@contextlib.contextmanager
def loopback_candidates(enabled: bool = True) -> Iterator[None]:
    """Gather a 127.0.0.1 host candidate for ICE gathering started inside this block.

    aiortc gathers inside ``setLocalDescription``, so wrap that call. The setting is a
    context variable: other peer connections of the process are not affected.
    """
    token = _loopback_wanted.set(enabled)
    try:
        yield
    finally:
        _loopback_wanted.reset(token)


# --- receive side: complete encoded frames out of the receiver ------------------------


@dataclass
class EncodedFrame:
    data: bytes
    timestamp: int  # RTP timestamp, unwrapped, counted from the stream's first frame
    ssrc: int
    keyframe: bool


class _TimestampUnwrapper:
    def __init__(self) -> None:
        self._origin: Optional[int] = None
        self._last = 0

    def unwrap(self, timestamp: int) -> int:
        if self._origin is None:
            self._origin = timestamp
        elif timestamp < self._last and self._last - timestamp > (1 << 31):
            self._origin -= 1 << 32
        self._last = timestamp
        return timestamp - self._origin


class _ForwardingBuffer:
    """Takes the place of aiortc's JitterBuffer: ``add`` never returns a frame (so the
    receiver never decodes); complete frames go to ``on_frame`` instead."""

    def __init__(self, codec_name: str, on_frame: Callable[[EncodedFrame], None]) -> None:
        self._codec_name = codec_name
        self._on_frame = on_frame
        self._unwrapper = _TimestampUnwrapper()

    @property
    def capacity(self) -> int:  # read by nothing in 1.16.0; kept for interface parity
        return 1 << 16

    def _emit(self, data: bytes, timestamp: int, ssrc: int) -> None:
        self._on_frame(
            EncodedFrame(
                data=data,
                timestamp=self._unwrapper.unwrap(timestamp),
                ssrc=ssrc,
                keyframe=is_keyframe(self._codec_name, data),
            )
        )


class AudioForwardingBuffer(_ForwardingBuffer):
    """Opus: one RTP packet is one frame; forward it at once, drop duplicates and late ones."""

    def __init__(self, codec_name: str, on_frame: Callable[[EncodedFrame], None]) -> None:
        super().__init__(codec_name, on_frame)
        self._last_seq: Optional[int] = None

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        seq = packet.sequence_number
        if self._last_seq is not None and not uint16_gt(seq, self._last_seq):
            return False, None
        self._last_seq = seq
        self._emit(packet._data, packet.timestamp, packet.ssrc)
        return False, None


class VideoForwardingBuffer(_ForwardingBuffer):
    """Reassembles video frames and releases each as soon as it is complete.

    A frame is complete when its packets run without a gap from the packet after the
    previous frame's marker packet up to a packet carrying the marker bit. The first
    frame is kept only if its first packet says it starts a frame (``starts_frame``).

    Gap rules (a missing packet holds back the frames behind it):
    - a complete keyframe behind the gap is released at once, and what lies before it
      dropped (it is not needed any more);
    - the gap is NACKed again (``send_nack(ssrc, seqs)``) once per round trip while it
      stays open: aiortc's receiver NACKs a packet only once, when it sees it missing;
    - after ``GAP_GIVE_UP_RTTS`` round trips (``rtt()`` seconds, at least
      ``GAP_GIVE_UP_MIN``) the gap is given up: the frame it is in is dropped and the
      frames after it go on; ``pli_flag=True`` makes aiortc ask the publisher for a keyframe.
    ``tick()`` applies the timers without a new packet (called by the room's control loop).
    """

    def __init__(self, codec_name: str, on_frame: Callable[[EncodedFrame], None],
                 send_nack: Optional[Callable[[int, list[int]], None]] = None,
                 rtt: Callable[[], Optional[float]] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(codec_name, on_frame)
        self._packets: dict[int, RtpPacket] = {}
        self._next_seq: Optional[int] = None  # first packet of the next frame to release
        self._newest_seq: Optional[int] = None
        self._send_nack = send_nack
        self._rtt = rtt
        self._clock = clock
        self._gap_seq: Optional[int] = None  # the missing packet that holds frames back
        self._gap_since = 0.0
        self._last_nack = 0.0
        self._ssrc = 0
        self.gaps_given_up = 0
        self.keyframes_skipped_to = 0
        self.renacks = 0

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        seq = packet.sequence_number
        self._ssrc = packet.ssrc
        if self._next_seq is None:
            if starts_frame(self._codec_name, packet.payload):
                self._next_seq = seq
            elif packet.marker:
                self._next_seq = uint16_add(seq, 1)  # the next frame starts after this one
                return False, None
            else:
                return False, None
        if uint16_gt(self._next_seq, seq):
            return False, None  # already released or given up: a late duplicate
        self._packets[seq] = packet
        if self._newest_seq is None or uint16_gt(seq, self._newest_seq):
            self._newest_seq = seq
        pli = self._release_complete_frames()
        if (
            self._next_seq is not None
            and uint16_gt(self._newest_seq, self._next_seq)
            and uint16_add(self._newest_seq, -self._next_seq) > MAX_VIDEO_GAP_PACKETS
        ):
            self._give_up_until_newest_marker()
            pli = True
        return self._gap_rules() or pli, None

    def tick(self) -> bool:
        """Apply the gap timers; True if a keyframe should be asked for."""
        return self._gap_rules()

    def _gap_rules(self) -> bool:
        if not self._packets or self._next_seq is None:
            self._gap_seq = None
            return False
        missing = self._first_missing()
        if missing is None:
            self._gap_seq = None
            return False
        now = self._clock()
        if missing != self._gap_seq:
            # a new gap: aiortc's receiver has just NACKed it
            self._gap_seq, self._gap_since, self._last_nack = missing, now, now
        if self._skip_to_complete_keyframe():
            self._gap_rules()
            return False
        rtt = self._rtt() or 0.2
        if now - self._gap_since > max(GAP_GIVE_UP_RTTS * rtt, GAP_GIVE_UP_MIN):
            self.gaps_given_up += 1
            self._give_up_gap(missing)
            self._release_complete_frames()
            self._gap_rules()
            return True
        if now - self._last_nack >= max(rtt, 0.02) and self._send_nack is not None:
            self._last_nack = now
            self.renacks += 1
            self._send_nack(self._ssrc, self._missing_list())
        return False

    def _first_missing(self) -> Optional[int]:
        if self._newest_seq is None:
            return None
        seq = self._next_seq
        while seq != self._newest_seq:
            if seq not in self._packets:
                return seq
            seq = uint16_add(seq, 1)
        return None

    def _missing_list(self, limit: int = 64) -> list[int]:
        missing, seq = [], self._next_seq
        while seq != self._newest_seq and len(missing) < limit:
            if seq not in self._packets:
                missing.append(seq)
            seq = uint16_add(seq, 1)
        return missing

    def _skip_to_complete_keyframe(self) -> bool:
        """Release the newest complete keyframe lying behind the gap, if there is one."""
        for seq in sorted(self._packets, key=lambda s: uint16_add(s, -self._next_seq), reverse=True):
            first = self._packets[seq]
            if not first._data or not starts_frame(self._codec_name, first.payload):
                continue
            if not _starts_keyframe(self._codec_name, first._data):
                continue
            end = seq
            while True:
                packet = self._packets.get(end)
                if packet is None or packet.timestamp != first.timestamp:
                    break
                if packet.marker:
                    self.keyframes_skipped_to += 1
                    self._drop_until(seq)
                    self._release_complete_frames()
                    return True
                end = uint16_add(end, 1)
        return False

    def _give_up_gap(self, missing: int) -> None:
        """Drop everything up to the first frame start after ``missing``."""
        seq = uint16_add(missing, 1)
        while seq != uint16_add(self._newest_seq, 1):
            packet = self._packets.get(seq)
            if packet is not None and packet._data and starts_frame(self._codec_name, packet.payload):
                self._drop_until(seq)
                return
            seq = uint16_add(seq, 1)
        self._drop_until(uint16_add(self._newest_seq, 1))

    def _release_complete_frames(self) -> bool:
        pli = False
        while True:
            first = self._packets.get(self._next_seq)
            if first is None:
                return pli
            if not first._data:
                # padding (bandwidth probing) between frames belongs to no frame
                self._drop_until(uint16_add(self._next_seq, 1))
                continue
            seq, frame = self._next_seq, []
            while True:
                packet = self._packets.get(seq)
                if packet is None:
                    return pli  # wait for the gap to be filled (NACK/RTX)
                if packet.timestamp != first.timestamp:
                    # the frame's marker packet never came: drop the frame, ask for a keyframe
                    self._drop_until(seq)
                    pli = True
                    break
                frame.append(packet)
                if packet.marker:
                    self._drop_until(uint16_add(seq, 1))
                    data = b"".join(p._data for p in frame)
                    self._emit(data, first.timestamp, first.ssrc)
                    break
                seq = uint16_add(seq, 1)

    def _drop_until(self, seq: int) -> None:
        while self._next_seq != seq:
            self._packets.pop(self._next_seq, None)
            self._next_seq = uint16_add(self._next_seq, 1)

    def _give_up_until_newest_marker(self) -> None:
        markers = [s for s, p in self._packets.items() if p.marker]
        if not markers:
            self._packets.clear()
            self._next_seq = None
            return
        newest_marker = markers[0]
        for s in markers[1:]:
            if uint16_gt(s, newest_marker):
                newest_marker = s
        self._drop_until(uint16_add(newest_marker, 1))


def _starts_keyframe(codec_name: str, first_data: bytes) -> bool:
    """Whether a frame's first packet (depacketized) begins a keyframe."""
    if codec_name == "H264":
        return any(nal[0] & 0x1F in (5, 7) for nal in h264_nal_units(first_data))
    return is_keyframe(codec_name, first_data)


def tap_receiver(
    receiver: RTCRtpReceiver, kind: str, codec_name: str, on_frame: Callable[[EncodedFrame], None],
    rtt: Callable[[], Optional[float]] = lambda: None,
) -> "_ForwardingBuffer":
    """Make ``receiver`` hand complete encoded frames to ``on_frame`` instead of decoding.

    Call before the connection starts (after setRemoteDescription). ``on_frame`` runs on
    the event loop, inside the receiver's packet handler: keep it short. ``rtt`` gives the
    round trip to the publisher (seconds, or None) for the video gap rules.
    """
    if not hasattr(receiver, _JITTER_ATTR):
        raise RuntimeError("aiortc RTCRtpReceiver has no jitter buffer attribute; see passthrough.py")
    buffer: _ForwardingBuffer
    if kind == "video":
        def send_nack(ssrc: int, seqs: list[int]) -> None:
            asyncio.ensure_future(receiver._send_rtcp_nack(ssrc, seqs))
        buffer = VideoForwardingBuffer(codec_name, on_frame, send_nack=send_nack, rtt=rtt)
    else:
        buffer = AudioForwardingBuffer(codec_name, on_frame)
    setattr(receiver, _JITTER_ATTR, buffer)
    receive_inline(receiver.transport)
    return buffer


def receive_inline(dtls_transport: RTCDtlsTransport) -> None:
    """Handle the RTP packets of an upstream connection inside aioice's datagram callback.

    aiortc queues every datagram and wakes the DTLS transport's task to take it off the
    queue; for a relay that is one task switch per received packet. This does what
    ``RTCDtlsTransport._recv_next`` does for SRTP (not SRTCP), at once. DTLS, STUN and
    SRTCP datagrams, and everything before the handshake is done, still take the queue.
    Idempotent: the audio and video receivers of a bundled connection share one transport.
    """
    connection = dtls_transport.transport._connection
    if getattr(connection, "_relay_inline", False):
        return
    queue_datagram = connection.data_received

    def data_received(data: bytes, component: int) -> None:
        srtp = dtls_transport._rx_srtp
        if (srtp is None or not data or not 127 < data[0] < 192 or is_rtcp(data)
                or dtls_transport._state is not DtlsState.CONNECTED):
            queue_datagram(data, component)
            return
        arrival_time_ms = clock.current_ms()
        _count_received(dtls_transport, len(data))
        try:
            plain = srtp.unprotect(data)
        except pylibsrtp.Error:
            return  # as aiortc: a packet that does not authenticate is dropped
        try:
            _run_to_completion(dtls_transport._handle_rtp_data(plain, arrival_time_ms=arrival_time_ms))
        except Exception:  # not into aioice's callback: one packet lost, the next one goes on
            logger.exception("relay: forwarding an RTP packet failed")

    connection.data_received = data_received
    connection._relay_inline = True


def _count_received(dtls_transport: RTCDtlsTransport, size: int) -> None:
    """RTCDtlsTransport's own receive counters (its getStats "transport" entry)."""
    bytes_attr, packets_attr = _DTLS_RX_ATTRS
    setattr(dtls_transport, bytes_attr, getattr(dtls_transport, bytes_attr) + size)
    setattr(dtls_transport, packets_attr, getattr(dtls_transport, packets_attr) + 1)


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher behind ``receiver`` for a keyframe (RTCP PLI, RFC 4585 6.3.1)."""
    asyncio.ensure_future(receiver._send_rtcp_pli(media_ssrc))


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the remote side of ``sender`` sends a PLI or FIR."""
    sender._send_keyframe = callback  # instance attribute shadows the method


def restrict_answer_codecs(transceiver, codec_name: str) -> None:
    """Answer only ``codec_name`` (and its RTX) on a transceiver created by
    setRemoteDescription. aiortc applies setCodecPreferences to an answer only if they
    were set before the offer arrived, which cannot be done for a remote offer."""
    codecs = transceiver._codecs
    kept = [c for c in codecs if c.name.lower() == codec_name.lower()]
    kept_types = {c.payloadType for c in kept}
    kept += [c for c in codecs if c.name.lower() == "rtx" and c.parameters.get("apt") in kept_types]
    if not kept:
        raise ValueError(f"the offer has no {codec_name}")
    transceiver._codecs = kept


def sender_opened_encoder(sender: RTCRtpSender) -> bool:
    """True if ``sender`` ever opened a video encoder (libvpx/libx264) context."""
    encoder = getattr(sender, _ENCODER_ATTR, None)
    return getattr(encoder, "codec", None) is not None


# --- fan-out -----------------------------------------------------------------------

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)


@dataclass
class PackedFrame:
    """One frame cut into RTP payloads once, for every subscriber of a publication."""

    payloads: list[bytes]
    timestamp: int  # in the codec's RTP clock, counted from the publication's first frame
    keyframe: bool
    received_ntp: int  # NTP time the frame was complete, for abs-send-time and SR


def _run_to_completion(coroutine) -> None:
    """Run a coroutine that never suspends, without a round trip through the event loop.

    aiortc's RTP send path (RTCDtlsTransport._send_rtp -> RTCIceTransport._send ->
    aioice Connection.sendto -> DatagramTransport.sendto) is async in name only in 1.16.0.
    """
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("aiortc's RTP send path suspended; relay/passthrough.py assumes it does not")


class _RtpWriter:
    """Writes frames as RTP packets through one RTCRtpSender's transport, in the caller's
    call stack, the way RTCRtpSender._run_rtp would (sequence numbers, timestamps, abs-send-time
    and mid extensions, NACK history, sender-report counters) minus its task and queue.

    With a ``link`` (the subscriber's SubscriberLink) every packet goes through the
    subscriber's pacer: audio at once, video when the budget allows. Sequence numbers and
    abs-send-time are given when a packet actually leaves, so packets the pacer drops
    leave no gap and the time a packet waited in the pacer is not taken for network delay
    by the subscriber's bandwidth estimator.
    """

    def __init__(self, sender: RTCRtpSender, payload_type: int, link=None, kind: str = "video",
                 stream=None) -> None:
        self._sender = sender
        self._payload_type = payload_type
        self._sequence_number = random_sequence_number()
        self._timestamp_origin = random32()
        self._history: dict[int, RtpPacket] = getattr(sender, _SENDER_ATTRS["history"])
        self._extensions_map = getattr(sender, _SENDER_ATTRS["extensions_map"])
        self._mid = getattr(sender, _SENDER_ATTRS["mid"])
        self._link = link
        self._kind = kind
        self._stream = stream
        self._tail_cache: tuple[int, HeaderExtensions, bytes] = (-1, HeaderExtensions(), b"")
        self.rtx = RtxPolicy()
        self.closed = False

    def write(self, frame: PackedFrame, ntp_time: int) -> None:
        """Send ``frame``; ``ntp_time`` is now (one clock read for all subscribers)."""
        timestamp = (self._timestamp_origin + frame.timestamp) & 0xFFFFFFFF
        last = len(frame.payloads) - 1
        link = self._link
        for index, payload in enumerate(frame.payloads):
            marker = int(index == last)
            if link is None:
                self._send_packet(payload, marker, timestamp, ntp_time)
            elif self._kind == "audio":
                link.pacer.send_audio(len(payload) + RTP_OVERHEAD, functools.partial(
                    self._send_packet, payload, marker, timestamp, ntp_time))
            else:
                link.pacer.send_video(len(payload) + RTP_OVERHEAD, functools.partial(
                    self._send_packet, payload, marker, timestamp, None), self._stream)

    def _send_packet(self, payload: bytes, marker: int, timestamp: int, ntp_time: Optional[int]) -> None:
        if self.closed:
            return
        sender = self._sender
        if ntp_time is None:
            ntp_time = clock.current_ntp_time()
        abs_send_time = (ntp_time >> 14) & 0x00FFFFFF
        cached_time, extensions, extension_tail = self._tail_cache
        if cached_time != abs_send_time:
            # packets sent in the same instant share their header extensions: encode them once
            extensions = HeaderExtensions(abs_send_time=abs_send_time, mid=self._mid)
            extension_tail = _extension_tail(self._extensions_map, extensions)
            self._tail_cache = (abs_send_time, extensions, extension_tail)
        seq = self._sequence_number
        packet = RtpPacket(payload_type=self._payload_type, marker=marker,
                           sequence_number=seq, timestamp=timestamp)
        packet.ssrc = sender._ssrc
        packet.payload = payload
        packet.extensions = extensions
        self._history[seq % RTP_HISTORY_SIZE] = packet
        try:
            _run_to_completion(sender.transport._send_rtp(_serialize(packet, extension_tail)))
        except ConnectionError:
            self.closed = True  # the subscriber's connection is closing
            return
        self._sequence_number = uint16_add(seq, 1)
        if self._link is not None:
            self.rtx.on_sent(seq, time.monotonic())
        # what RTCRtpSender's sender reports and getStats() read
        setattr(sender, _SENDER_ATTRS["ntp_timestamp"], ntp_time)
        setattr(sender, _SENDER_ATTRS["rtp_timestamp"], timestamp)
        counts = _SENDER_ATTRS["octet_count"], _SENDER_ATTRS["packet_count"]
        setattr(sender, counts[0], getattr(sender, counts[0]) + len(payload))
        setattr(sender, counts[1], getattr(sender, counts[1]) + 1)


def _extension_tail(extensions_map, extensions: HeaderExtensions) -> bytes:
    """The header-extension block of an RTP packet, encoded by aiortc's own map."""
    profile, value = extensions_map.set(extensions)
    return struct.pack("!HH", profile, len(value) >> 2) + value if value else b""


def _serialize(packet: RtpPacket, extension_tail: bytes) -> bytes:
    """``RtpPacket.serialize`` for the packets the relay sends (no CSRC, no padding), with
    the extension block encoded once per frame instead of once per packet."""
    first_byte = 0x90 if extension_tail else 0x80  # version 2, X bit if extensions
    header = struct.pack("!BBHLL", first_byte, (packet.marker << 7) | packet.payload_type,
                         packet.sequence_number, packet.timestamp, packet.ssrc)
    return header + extension_tail + packet.payload


class ForwardingTrack(MediaStreamTrack):
    """One subscriber's copy of a publisher's audio or video. Frames are written straight
    to the subscriber's RTCRtpSender transport as they arrive (``forward_through``); the
    sender's own read loop only waits for the track to end. Video starts (and restarts
    after a pause) at a keyframe.
    """

    def __init__(self, publication: "Publication", queue_frames: int) -> None:
        super().__init__()
        self.kind = publication.kind
        self._publication = publication
        self._queue_frames = queue_frames
        self._pending: list[PackedFrame] = []  # until the subscriber's connection is up
        self._writer: Optional[_RtpWriter] = None
        self._ended = asyncio.Event()
        self._needs_keyframe = publication.kind == "video"
        self.paused = False
        self.frames_sent = 0
        self.link = None  # the subscriber's SubscriberLink (pacer), set before the connection is up
        self.restarts = 0

    def restart_at_keyframe(self) -> None:
        """The pacer dropped this stream's backlog: go on from the next keyframe."""
        if self.kind == "video":
            self.restarts += 1
            self._needs_keyframe = True
            self._publication.request_keyframe()

    def set_paused(self, paused: bool) -> None:
        """Stop (True) or resume (False) forwarding; resuming video waits for a keyframe."""
        if paused == self.paused:
            return
        self.paused = paused
        if paused and self.link is not None:
            self.link.pacer.flush(self)  # what waits in the pacer goes too, at once
        if not paused and self.kind == "video":
            self._needs_keyframe = True
            self._publication.request_keyframe()

    def push(self, frame: PackedFrame) -> None:
        if self.paused or self.readyState != "live":
            return
        if self._needs_keyframe:
            if not frame.keyframe:
                if self._writer is not None:
                    self._publication.request_keyframe()
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
                self._publication.request_keyframe()
                return
        self._pending.append(frame)

    async def _sender_started(self, sender: RTCRtpSender, codec) -> None:
        """Stands in for ``sender._next_encoded_frame``: aiortc calls it once the
        subscriber's connection is up, with the negotiated codec."""
        if self._writer is None:
            self._writer = _RtpWriter(sender, codec.payloadType, self.link, self.kind, self)
            pending, self._pending = self._pending, []
            now = clock.current_ntp_time()
            for frame in pending:
                self._writer.write(frame, now)
                self.frames_sent += 1
            if self._needs_keyframe:
                self._publication.request_keyframe()
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
    by the link's rules (RtxPolicy: recent packets only, within a share of the estimate)."""
    sender._next_encoded_frame = lambda codec: track._sender_started(sender, codec)

    async def retransmit(sequence_number: int) -> None:
        writer, link = track._writer, track.link
        if link is not None and writer is not None:
            packet = writer._history.get(sequence_number % RTP_HISTORY_SIZE)
            if packet is None or packet.sequence_number != sequence_number:
                return
            size = len(packet.payload) + RTP_OVERHEAD
            if not writer.rtx.allow(sequence_number, size, time.monotonic(), sender_rtt(sender),
                                    link.estimate_bps()):
                return
            link.pacer.charge(size)
        await RTCRtpSender._retransmit(sender, sequence_number)

    sender._retransmit = retransmit


def sender_rtt(sender: RTCRtpSender) -> Optional[float]:
    """Round-trip time to the subscriber, from its receiver reports (seconds, or None)."""
    return getattr(sender, "_RTCRtpSender__rtt", None)


SENDER_REPORTS_KEPT = 8  # about 8 s of sender reports (aiortc sends one every 0.5-1.5 s)


def note_sender_report(sender: RTCRtpSender) -> None:
    """Remember when ``sender``'s latest SR left (aiortc keeps only the latest), so that a
    receiver report answering an earlier one still yields a round trip. Called on every
    RTCP packet from the subscriber and on the room's control tick (every 0.1 s). Without
    it, once the round trip exceeded the SR interval (a queue on a weak link) no report
    matched and the queue went unseen."""
    lsr = getattr(sender, "_RTCRtpSender__lsr", None)
    if lsr is None:
        return
    history = sender.__dict__.setdefault("_relay_sr_sent", collections.OrderedDict())
    sent = getattr(sender, "_RTCRtpSender__lsr_time")
    if history.get(lsr) != sent:
        history.pop(lsr, None)
        history[lsr] = sent
        while len(history) > SENDER_REPORTS_KEPT:
            history.popitem(last=False)


def observe_rtcp(sender: RTCRtpSender, on_remb: Callable[[int], None],
                 on_loss: Callable[[float, Optional[float]], None]) -> None:
    """Call ``on_remb(bps)`` for each REMB and ``on_loss(fraction, rtt)`` for each receiver
    report block about ``sender``'s stream (rtt in seconds, None without a sender report), then let aiortc handle the packet as before (a
    passthrough sender has no encoder, so aiortc itself would drop the REMB)."""
    handle = sender._handle_rtcp_packet

    async def handle_rtcp_packet(packet) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                bitrate, ssrcs = None, []
            if bitrate is not None and sender._ssrc in ssrcs:
                on_remb(bitrate)
        elif isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            note_sender_report(sender)
            sent_at = sender.__dict__.get("_relay_sr_sent", {})
            for report in packet.reports:
                if report.ssrc == sender._ssrc:
                    rtt = None
                    # RFC 3550 6.4.1 as aiortc computes it (its LSR is the NTP time of the
                    # last packet, so the wall-clock time the SR left is its own), unsmoothed:
                    # aiortc's figure is smoothed over ~6 reports, too slow to see a queue drain
                    if report.dlsr and report.lsr in sent_at:
                        rtt = time.time() - sent_at[report.lsr] - report.dlsr / 65536
                    on_loss(report.fraction_lost / 256, rtt)
        await handle(packet)

    sender._handle_rtcp_packet = handle_rtcp_packet


def send_remb(receiver: RTCRtpReceiver, media_ssrc: int, bitrate: int) -> None:
    """Send the publisher behind ``receiver`` a REMB (its encoder's ceiling) for ``media_ssrc``."""
    rtcp_ssrc = getattr(receiver, "_RTCRtpReceiver__rtcp_ssrc", None)
    if rtcp_ssrc is None:
        return
    packet = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0,
                            fci=pack_remb_fci(int(bitrate), [media_ssrc]))
    asyncio.ensure_future(receiver._send_rtcp(packet))


UNLIMITED_REMB_BPS = 10_000_000  # a REMB that limits nothing (a 640x480 encoder wants 2.5 Mbit/s at most)


def cap_receiver_remb(receiver: RTCRtpReceiver, cap: Callable[[], Optional[float]]) -> None:
    """aiortc's receiver sends the publisher REMBs from its own delay-based estimate of the
    uplink; each is rewritten to ``cap()`` (the subscribers' ceiling), or to a figure that
    limits nothing when there is none. aiortc's figure is kept (``_relay_uplink_remb``) but
    not sent: on a busy machine it reads the relay's scheduling delays as a queue, and it was
    measured at 33-35 kbit/s for publishers on an idle loopback link at load 20-26, which held
    their encoders at 30 kbit/s ("bandwidth" limited, 10 fps) for every subscriber. The
    publisher's own loss-based control still guards a weak uplink."""
    send = receiver._send_rtcp

    async def send_rtcp(packet) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                bitrate, ssrcs = None, []
            if bitrate is not None:
                receiver._relay_uplink_remb = bitrate
                limit = cap()
                packet = RtcpPsfbPacket(fmt=packet.fmt, ssrc=packet.ssrc, media_ssrc=packet.media_ssrc,
                                        fci=pack_remb_fci(int(UNLIMITED_REMB_BPS if limit is None else limit),
                                                          ssrcs))
        await send(packet)

    receiver._send_rtcp = send_rtcp


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
        self.buffer: Optional[_ForwardingBuffer] = None
        # packetizes each frame once for all subscribers (VP8 picture ids run per publication)
        self._packetizer = None if kind == "audio" else get_encoder(
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
        self._receiver = None

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
        data = frame.data
        if self.codec_name == "H264" and self.kind == "video":
            data = self._with_h264_parameter_sets(data, frame.keyframe)
        if self._packetizer is None:
            payloads = [data]  # Opus: one frame, one packet
        else:
            packet = av.Packet(data)
            packet.pts, packet.time_base = frame.timestamp, self._time_base
            payloads, _ = self._packetizer.pack(packet)
        packed = PackedFrame(payloads, frame.timestamp, frame.keyframe, clock.current_ntp_time())
        for track in list(self._tracks):
            track.push(packed)
