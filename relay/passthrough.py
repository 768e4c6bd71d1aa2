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
  track's end: the sender's own task no longer reads the track. ``RtpWriter`` writes each
  frame's RTP packets at once, the way ``RTCRtpSender._run_rtp`` would, and keeps the
  sender's private ``__rtp_history`` (NACK answers),
  ``__ntp_timestamp``/``__rtp_timestamp``/``__octet_count``/``__packet_count`` (sender
  reports, getStats) up to date. Each packet goes out as ``RTCDtlsTransport._send_rtp``
  would send it, in one plain call (``send_rtp_inline``): the transport's ``_state``,
  ``_tx_srtp`` and ``__tx_bytes``/``__tx_packets``, then aioice ``Connection._nominated``
  (the selected pair) and its protocol's datagram transport. ``run_to_completion`` drives
  aiortc's receive coroutines without the event loop because nothing on that path
  suspends unless it sends RTCP.
- ``aioice Connection.data_received`` of every relay connection is replaced
  (``receive_inline``) so that its SRTP and SRTCP packets are unprotected and handed to
  ``RTCDtlsTransport._handle_rtp_data`` / ``_handle_rtcp_data`` inside the datagram
  callback, as ``RTCDtlsTransport._recv_next`` would, instead of through a queue and a task
  switch; the transport's private receive counters are kept. DTLS and STUN take aiortc's path.
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

The pieces live by responsibility: this module (the version check, loopback candidates,
installing the forwarding buffer and inline receive on a receiver, codec narrowing);
relay/forwarding_buffer.py (the jitter-buffer replacement and its gap rules);
relay/rtp_writer.py (``RtpWriter``, the sender's private state); relay/rtcp_feedback.py
(PLI, REMB, receiver reports, round trips); relay/fanout.py (Publication, ForwardingTrack,
``forward_through``).

``check_aiortc_internals()`` fails loudly if an aiortc upgrade moved any of this;
tests/relay/test_passthrough.py exercises each piece.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Optional

import aioice.ice
import aiortc
import pylibsrtp
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import State as DtlsState

from .forwarding_buffer import AudioForwardingBuffer, EncodedFrame, ForwardingBuffer, VideoForwardingBuffer
from .rtp_writer import NTP_EPOCH_OFFSET, run_to_completion

logger = logging.getLogger(__name__)

PINNED_AIORTC_VERSION = "1.16.0"

_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_ENCODER_ATTR = "_RTCRtpSender__encoder"
_DTLS_RX_ATTRS = ("_RTCDtlsTransport__rx_bytes", "_RTCDtlsTransport__rx_packets")

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


def tap_receiver(
    receiver: RTCRtpReceiver, kind: str, codec_name: str, on_frame: Callable[[EncodedFrame], None],
    rtt: Callable[[], Optional[float]] = lambda: None,
) -> "ForwardingBuffer":
    """Make ``receiver`` hand complete encoded frames to ``on_frame`` instead of decoding.

    Call before the connection starts (after setRemoteDescription). ``on_frame`` runs on
    the event loop, inside the receiver's packet handler: keep it short. ``rtt`` gives the
    round trip to the publisher (seconds, or None) for the video gap rules.
    """
    if not hasattr(receiver, _JITTER_ATTR):
        raise RuntimeError("aiortc RTCRtpReceiver has no jitter buffer attribute; see passthrough.py")
    buffer: ForwardingBuffer
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
    """Handle the SRTP and SRTCP packets of a connection inside aioice's datagram callback.

    aiortc queues every datagram and wakes the DTLS transport's task to take it off the
    queue; for a relay that is one task switch per received packet (upstream: the media;
    downstream: the subscribers' RTCP, REMBs and receiver reports many times a second).
    This does what ``RTCDtlsTransport._recv_next`` does for SRTP and SRTCP, at once. DTLS
    and STUN datagrams, and everything before the handshake is done, still take the queue.
    Idempotent: the audio and video transceivers of a bundled connection share one transport.
    """
    connection = dtls_transport.transport._connection
    if getattr(connection, "_relay_inline", False):
        return
    queue_datagram = connection.data_received

    def data_received(data: bytes, component: int) -> None:
        srtp = dtls_transport._rx_srtp
        if (srtp is None or len(data) < 2 or not 127 < data[0] < 192
                or dtls_transport._state is not DtlsState.CONNECTED):
            queue_datagram(data, component)
            return
        _count_received(dtls_transport, len(data))
        try:
            if 191 < data[1] < 209:  # RTCP (aiortc's is_rtcp)
                try:
                    plain = srtp.unprotect_rtcp(data)
                except pylibsrtp.Error:
                    return  # as aiortc: a packet that does not authenticate is dropped
                run_to_completion(dtls_transport._handle_rtcp_data(plain))
                return
            arrival_time_ms = int((time.time() + NTP_EPOCH_OFFSET) * 1000)  # aiortc's clock.current_ms()
            try:
                plain = srtp.unprotect(data)
            except pylibsrtp.Error:
                return
            run_to_completion(dtls_transport._handle_rtp_data(plain, arrival_time_ms=arrival_time_ms))
        except Exception:  # not into aioice's callback: one packet lost, the next one goes on
            logger.exception("relay: handling an RTP/RTCP packet failed")

    connection.data_received = data_received
    connection._relay_inline = True


def _count_received(dtls_transport: RTCDtlsTransport, size: int) -> None:
    """RTCDtlsTransport's own receive counters (its getStats "transport" entry)."""
    bytes_attr, packets_attr = _DTLS_RX_ATTRS
    counters = dtls_transport.__dict__
    counters[bytes_attr] += size
    counters[packets_attr] += 1


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
