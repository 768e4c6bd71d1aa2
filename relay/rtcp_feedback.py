"""RTCP feedback through aiortc: keyframe requests (PLI/FIR) both ways, REMBs and receiver
reports read from subscribers, REMBs sent to publishers, and the round trip to a subscriber.

Wraps private methods of RTCRtpSender/RTCRtpReceiver per instance; relay/passthrough.py
lists every aiortc internal the relay touches. relay/congestion.py does the deciding.
"""

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Optional

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)


_ESTIMATOR_ATTR = "_RTCRtpReceiver__remote_bitrate_estimator"


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher behind ``receiver`` for a keyframe (RTCP PLI, RFC 4585 6.3.1)."""
    asyncio.ensure_future(receiver._send_rtcp_pli(media_ssrc))


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the remote side of ``sender`` sends a PLI or FIR."""
    sender._send_keyframe = callback  # instance attribute shadows the method


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
                 on_loss: Callable[[float, Optional[float], Optional[int]], None]) -> None:
    """Call ``on_remb(bps)`` for each REMB and ``on_loss(fraction, rtt, packets)`` for each receiver
    report block about ``sender``'s stream (rtt in seconds, None without a sender report;
    packets: how many the fraction is of, None for the first report), then let aiortc handle the packet as before (a
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
                    # the packets the fraction is of: the highest sequence number since the last report
                    last = sender.__dict__.get("_relay_rr_highest")
                    sender._relay_rr_highest = report.highest_sequence
                    packets = None
                    if last is not None and 0 < report.highest_sequence - last < 1 << 16:
                        packets = report.highest_sequence - last
                    on_loss(report.fraction_lost / 256, rtt, packets)
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


def observe_uplink(receiver: RTCRtpReceiver, estimate) -> None:
    """Put ``estimate`` (congestion.UplinkEstimate) in the place of the RemoteBitrateEstimator of
    a publisher's video receiver: aiortc hands it the arrival time, abs-send-time and size of
    every packet that carries abs-send-time (its answers negotiate the extension for video).
    Its ``add`` returns None, so aiortc sends no REMB of its own: the room sends the publisher
    one a second (room_control.py). aiortc's estimate was not sent before either (it was
    rewritten): on a busy machine it read the relay's scheduling delays as a queue and was
    measured at 33-35 kbit/s for publishers on an idle loopback link at load 20-26; it also
    cost about 9 % of the relay's CPU (README "Figures")."""
    if not hasattr(receiver, _ESTIMATOR_ATTR):
        raise RuntimeError("aiortc RTCRtpReceiver has no remote bitrate estimator; see relay/passthrough.py")
    if getattr(receiver, _ESTIMATOR_ATTR) is not None:  # None: an audio receiver, which has none
        setattr(receiver, _ESTIMATOR_ATTR, estimate)


def uplink_counts(receiver: RTCRtpReceiver) -> tuple[int, int]:
    """(packets received, packets expected) over the streams ``receiver`` gets (a video
    stream and its retransmissions), from aiortc's RTCP statistics, without their side
    effects (``fraction_lost`` moves the receiver reports' interval)."""
    received = expected = 0
    for stream in getattr(receiver, "_RTCRtpReceiver__remote_streams", {}).values():
        received += stream.packets_received
        expected += stream.packets_expected
    return received, expected
