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
