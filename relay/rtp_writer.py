"""The send side of the passthrough: frames written as RTP packets through an aiortc
sender's transport, in the caller's call stack, instead of by aiortc's sender task.

Reaches into RTCRtpSender's private state (its NACK history and sender-report counters,
``_SENDER_ATTRS``); relay/passthrough.py lists every aiortc internal the relay touches.
"""

import functools
import struct
import time
from dataclasses import dataclass
from typing import Optional

from aiortc import RTCDtlsTransport, RTCRtpSender
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpsender import RTP_HISTORY_SIZE, random_sequence_number
from aiortc.rtp import HeaderExtensions, RtpPacket
from aiortc.utils import random32

from .congestion import RtxPolicy

# RTCRtpSender state that RtpWriter keeps up to date, as RTCRtpSender._run_rtp would
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


@dataclass
class PackedFrame:
    """One frame cut into RTP payloads once, for every subscriber of a publication."""

    payloads: list[bytes]
    timestamp: int  # in the codec's RTP clock, counted from the publication's first frame
    keyframe: bool
    received_ntp: int  # NTP time the frame was complete, for abs-send-time and SR


def run_to_completion(coroutine) -> None:
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


class RtpWriter:
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
        # the extension block around abs-send-time, which alone changes from packet to packet
        self._tail_template: Optional[tuple[bytes, bytes]] = None
        self._template_made = False
        self.rtx = RtxPolicy()
        self.closed = False

    def write(self, frame: PackedFrame, ntp_time: int) -> None:
        """Send ``frame``; ``ntp_time`` is now (one clock read for all subscribers)."""
        timestamp = (self._timestamp_origin + frame.timestamp) & 0xFFFFFFFF
        payloads = frame.payloads
        last = len(payloads) - 1
        link = self._link
        send = self._send_packet
        if link is None:
            for index, payload in enumerate(payloads):
                send(payload, index == last, timestamp, ntp_time)
        elif self._kind == "audio":
            pacer = link.pacer
            for index, payload in enumerate(payloads):
                pacer.count_audio(len(payload) + RTP_OVERHEAD)  # audio goes at once
                send(payload, index == last, timestamp, ntp_time)
        else:
            pacer = link.pacer
            for index, payload in enumerate(payloads):
                size = len(payload) + RTP_OVERHEAD
                if pacer.admit_video(size):  # the common case: no callback made for it
                    send(payload, index == last, timestamp, None)
                else:
                    pacer.queue_video(size, functools.partial(send, payload, index == last, timestamp, None),
                                      self._stream)

    def sent_packet(self, sequence_number: int) -> Optional[RtpPacket]:
        """The packet sent with ``sequence_number``, while the NACK history still holds it."""
        packet = self._history.get(sequence_number % RTP_HISTORY_SIZE)
        return packet if packet is not None and packet.sequence_number == sequence_number else None

    def _send_packet(self, payload: bytes, marker: bool, timestamp: int, ntp_time: Optional[int]) -> None:
        if self.closed:
            return
        sender = self._sender
        if ntp_time is None:
            ntp_time = ntp_now()
        abs_send_time = (ntp_time >> 14) & 0x00FFFFFF
        cached_time, extensions, extension_tail = self._tail_cache
        if cached_time != abs_send_time:
            # packets sent in the same instant share their header extensions: encode them once
            extensions = HeaderExtensions(abs_send_time=abs_send_time, mid=self._mid)
            if not self._template_made:
                self._tail_template = _abs_send_time_template(self._extensions_map, self._mid)
                self._template_made = True
            template = self._tail_template
            if template is not None:
                extension_tail = template[0] + abs_send_time.to_bytes(3, "big") + template[1]
            else:
                extension_tail = _extension_tail(self._extensions_map, extensions)
            self._tail_cache = (abs_send_time, extensions, extension_tail)
        seq = self._sequence_number
        ssrc = sender._ssrc
        try:
            send_rtp_inline(sender.transport, rtp_bytes(self._payload_type, marker, seq, timestamp, ssrc,
                                                        extension_tail, payload))
        except ConnectionError:
            self.closed = True  # the subscriber's connection is closing
            return
        # the NACK history (RTCRtpSender._retransmit serializes these packets again)
        self._history[seq % RTP_HISTORY_SIZE] = _SentPacket(self._payload_type, int(marker), seq, timestamp, ssrc,
                                                            payload, extensions)
        self._sequence_number = (seq + 1) & 0xFFFF
        if self._link is not None:
            self.rtx.on_sent(seq, time.monotonic())
        # what RTCRtpSender's sender reports and getStats() read
        sender.__dict__.update({_NTP_ATTR: ntp_time, _RTP_TS_ATTR: timestamp})
        counters = sender.__dict__
        counters[_OCTETS_ATTR] += len(payload)
        counters[_PACKETS_ATTR] += 1


class _SentPacket(RtpPacket):
    """An ``RtpPacket`` as the NACK history holds it, made with its header extensions at once
    (``RtpPacket()`` makes an empty ``HeaderExtensions`` first). Same attributes."""

    def __init__(self, payload_type: int, marker: int, sequence_number: int, timestamp: int, ssrc: int,
                 payload: bytes, extensions: HeaderExtensions) -> None:
        self.version = 2
        self.marker = marker
        self.payload_type = payload_type
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrc: list[int] = []
        self.extensions = extensions
        self.payload = payload
        self.padding_size = 0


_HEADER = struct.Struct("!BBHLL")  # RTP header without CSRCs


def rtp_bytes(payload_type: int, marker: bool, sequence_number: int, timestamp: int, ssrc: int,
              extension_tail: bytes, payload: bytes) -> bytes:
    """``RtpPacket.serialize`` for the packets the relay sends (no CSRC, no padding), with
    the extension block encoded once for the packets that share it, and no packet object."""
    header = _HEADER.pack(0x90 if extension_tail else 0x80,  # version 2, X bit if extensions
                          (0x80 if marker else 0) | payload_type, sequence_number, timestamp, ssrc)
    return header + extension_tail + payload
_NTP_ATTR, _RTP_TS_ATTR = _SENDER_ATTRS["ntp_timestamp"], _SENDER_ATTRS["rtp_timestamp"]
_OCTETS_ATTR, _PACKETS_ATTR = _SENDER_ATTRS["octet_count"], _SENDER_ATTRS["packet_count"]
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


def ntp_now() -> int:
    """``aiortc.clock.current_ntp_time()`` (64-bit NTP time, now) without its datetime objects."""
    now = time.time()
    seconds = int(now)
    return ((seconds + NTP_EPOCH_OFFSET) << 32) | int((now - seconds) * 4294967296.0)


def send_rtp_inline(dtls_transport: RTCDtlsTransport, data: bytes) -> None:
    """``RTCDtlsTransport._send_rtp`` for an RTP packet (SRTP protect, then the ICE
    connection's nominated pair's datagram transport) as one plain call, not the chain of
    coroutines aiortc and aioice go through; their counters are kept (getStats). Raises
    ConnectionError as they would when the connection is not (or no longer) up."""
    if dtls_transport._state is not DtlsState.CONNECTED:
        raise ConnectionError("Cannot send encrypted RTP, not connected")
    data = dtls_transport._tx_srtp.protect(data)
    pair = dtls_transport.transport._connection._nominated.get(1)
    if pair is None:
        raise ConnectionError("Cannot send data, not connected")
    pair.protocol.transport.sendto(data, pair.remote_addr)
    counters = dtls_transport.__dict__
    counters[_DTLS_TX_BYTES] += len(data)
    counters[_DTLS_TX_PACKETS] += 1


_DTLS_TX_BYTES, _DTLS_TX_PACKETS = "_RTCDtlsTransport__tx_bytes", "_RTCDtlsTransport__tx_packets"


def _abs_send_time_template(extensions_map, mid: Optional[str]) -> Optional[tuple[bytes, bytes]]:
    """The extension block aiortc's map makes for ``mid`` and any abs-send-time, as the bytes
    before and after the 3 bytes of abs-send-time; None if the block is not like that
    (abs-send-time not negotiated: the map is asked per packet)."""
    low = _extension_tail(extensions_map, HeaderExtensions(abs_send_time=0, mid=mid))
    high = _extension_tail(extensions_map, HeaderExtensions(abs_send_time=0xFFFFFF, mid=mid))
    differ = [i for i, (a, b) in enumerate(zip(low, high)) if a != b]
    if len(low) != len(high) or len(differ) != 3 or differ[2] - differ[0] != 2:
        return None
    start = differ[0]
    if high[start:start + 3] != b"\xff\xff\xff":
        return None
    return low[:start], low[start + 3:]


def _extension_tail(extensions_map, extensions: HeaderExtensions) -> bytes:
    """The header-extension block of an RTP packet, encoded by aiortc's own map."""
    profile, value = extensions_map.set(extensions)
    return struct.pack("!HH", profile, len(value) >> 2) + value if value else b""


