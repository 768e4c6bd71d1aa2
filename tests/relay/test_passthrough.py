"""The module that reaches into aiortc internals (pinned aiortc==1.16.0), piece by piece."""

import asyncio
import fractions

import aiortc
import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpCodecParameters
from aiortc.codecs import get_encoder
from aiortc.mediastreams import VideoStreamTrack
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from relay import passthrough, rtcp_feedback, rtp_writer
from relay.bitstream import Vp8Packetizer, h264_is_intra, is_keyframe
from relay.forwarding_buffer import AudioForwardingBuffer, VideoForwardingBuffer
from relay.passthrough import loopback_candidates
from relay.sim import encode_clip, wait_for

VP8_START = bytes([0x10])  # payload descriptor: S=1, partition 0
VP8_MIDDLE = bytes([0x00])


def vp8_packet(seq: int, timestamp: int, body: bytes, *, start: bool, marker: bool) -> RtpPacket:
    packet = RtpPacket(payload_type=96, sequence_number=seq % 65536, timestamp=timestamp, marker=int(marker))
    packet.ssrc = 1234
    packet.payload = (VP8_START if start else VP8_MIDDLE) + body
    packet._data = body
    return packet


def frame_packets(first_seq: int, timestamp: int, parts: list[bytes]) -> list[RtpPacket]:
    return [vp8_packet(first_seq + i, timestamp, part, start=i == 0, marker=i == len(parts) - 1)
            for i, part in enumerate(parts)]


def collecting_buffer():
    frames = []
    return VideoForwardingBuffer("VP8", frames.append), frames


def test_installed_aiortc_is_the_pinned_one():
    assert aiortc.__version__ == passthrough.PINNED_AIORTC_VERSION
    passthrough.check_aiortc_internals()


def test_video_frame_is_released_on_its_marker_packet_not_one_frame_late():
    # given a buffer and the three packets of one frame
    buffer, frames = collecting_buffer()
    packets = frame_packets(100, 3000, [b"\x10aa", b"bb", b"cc"])

    # when the packets arrive, with no packet of the next frame yet
    results = [buffer.add(p) for p in packets]

    # then the frame is out right after its marker packet, whole, and never handed to aiortc
    assert [len(frames)] == [1]
    assert frames[0].data == b"\x10aabbcc" and frames[0].timestamp == 0
    assert all(r == (False, None) for r in results)


def test_reordered_packets_are_released_once_the_frame_is_complete():
    buffer, frames = collecting_buffer()
    first, middle, last = frame_packets(65534, 3000, [b"\x10a", b"b", b"c"])  # wraps 65535 -> 0
    buffer.add(first)
    buffer.add(last)
    assert frames == []
    buffer.add(middle)
    assert [f.data for f in frames] == [b"\x10abc"]


def test_frame_without_its_marker_packet_is_dropped_and_a_keyframe_requested():
    buffer, frames = collecting_buffer()
    broken = frame_packets(10, 3000, [b"\x10a", b"b", b"c"])[:2]  # marker packet lost
    following = frame_packets(13, 6000, [b"\x11x", b"y"])
    for p in broken:
        buffer.add(p)
    # the lost packet's sequence number (12) never arrives; NACK gives up
    buffer.add(vp8_packet(12, 3000, b"c", start=False, marker=False))  # arrives, but no marker
    results = [buffer.add(p) for p in following]
    assert [f.data for f in frames] == [b"\x11xy"]
    assert any(pli for pli, _ in results)


def test_stream_joined_mid_frame_starts_at_the_next_frame():
    buffer, frames = collecting_buffer()
    tail = vp8_packet(50, 3000, b"tail", start=False, marker=True)
    buffer.add(tail)
    for p in frame_packets(51, 6000, [b"\x10n", b"ext"]):
        buffer.add(p)
    assert [f.data for f in frames] == [b"\x10next"]


def test_audio_packets_are_forwarded_at_once_and_duplicates_dropped():
    frames = []
    buffer = AudioForwardingBuffer("opus", frames.append)
    for seq in (7, 8, 8, 6, 9):
        packet = RtpPacket(sequence_number=seq, timestamp=seq * 960, marker=0)
        packet._data = bytes([seq])
        buffer.add(packet)
    assert [f.data for f in frames] == [b"\x07", b"\x08", b"\x09"]


def test_keyframes_are_recognised_in_real_vp8_and_h264_streams():
    for codec, name in (("libvpx", "VP8"), ("libx264", "H264")):
        clip = encode_clip((10, 200, 30), width=64, height=48, fps=10, frames=12, gop=6, codec=codec)
        assert [is_keyframe(name, data) for data, _ in clip] == [key for _, key in clip], codec
    assert h264_is_intra(b"\x00\x00\x00\x01\x65\x88") is True  # IDR slice
    assert h264_is_intra(b"\x00\x00\x00\x01\x41\x9a") is False  # P slice


@pytest.mark.asyncio
async def test_loopback_candidate_only_inside_the_context():
    async def candidates(loopback: bool) -> list[str]:
        pc = RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
        pc.addTrack(VideoStreamTrack())
        with loopback_candidates(loopback):
            await pc.setLocalDescription(await pc.createOffer())
        await pc.close()
        return [line for line in pc.localDescription.sdp.splitlines() if line.startswith("a=candidate")]

    with_loopback, without = await asyncio.gather(candidates(True), candidates(False))
    assert any(" 127.0.0.1 " in c for c in with_loopback)
    assert not any(" 127.0.0.1 " in c for c in without)


def test_padding_between_frames_is_skipped_without_a_keyframe_request():
    buffer, frames = collecting_buffer()
    for p in frame_packets(20, 3000, [b"\x10a", b"b"]):
        buffer.add(p)
    padding = vp8_packet(22, 3000, b"", start=False, marker=False)
    padding.payload = b""
    results = [buffer.add(padding)] + [buffer.add(p) for p in frame_packets(23, 6000, [b"\x11c"])]
    assert [f.data for f in frames] == [b"\x10ab", b"\x11c"]
    assert not any(pli for pli, _ in results)


async def _doctor_seen_by_expert(make_room, counter: str):
    """A room where the expert has received 10 of the doctor's frames (video_frames or audio_frames)."""
    harness = make_room()
    await harness.join("doctor", (255, 0, 0))
    expert = await harness.join("expert", (0, 255, 0))
    assert await wait_for(lambda: expert.received.get("doctor") and
                          getattr(expert.received["doctor"], counter) >= 10, timeout=10)
    return harness


def stats_of(report, kind: str):
    return [s for s in report.values() if s.type == kind]


@pytest.mark.asyncio
async def test_forwarded_packets_are_counted_and_kept_for_retransmission(make_room):
    # given two participants whose video flows through the relay
    harness = await _doctor_seen_by_expert(make_room, "video_frames")
    sender = next(d for d in harness.room.downstreams("expert")).senders["video"]

    # when the subscriber asks for the newest packet again (what its NACK makes aiortc do)
    history = getattr(sender, "_RTCRtpSender__rtp_history")
    newest = max(history.values(), key=lambda p: p.timestamp)
    sent_before = stats_of(await sender.getStats(), "transport")[0].packetsSent
    await sender._retransmit(newest.sequence_number)

    # then the relay's sender counted what it forwarded (sender reports, getStats) and
    # re-sent the packet from its history
    outbound = stats_of(await sender.getStats(), "outbound-rtp")[0]
    assert outbound.packetsSent >= 10 and outbound.bytesSent > 0
    assert stats_of(await sender.getStats(), "transport")[0].packetsSent > sent_before
    assert getattr(sender, "_RTCRtpSender__ntp_timestamp") > 0
    # and the bytes the relay wrote are what aiortc's own serializer makes of the packet
    extensions_map = getattr(sender, "_RTCRtpSender__rtp_header_extensions_map")
    tail = rtp_writer._extension_tail(extensions_map, newest.extensions)
    # (the block the writer patches per packet is the one aiortc's map makes)
    before, after = rtp_writer._abs_send_time_template(extensions_map, newest.extensions.mid)
    assert before + newest.extensions.abs_send_time.to_bytes(3, "big") + after == tail
    assert rtp_writer.rtp_bytes(newest.payload_type, newest.marker, newest.sequence_number, newest.timestamp,
                                newest.ssrc, tail, newest.payload) == newest.serialize(extensions_map)


def test_the_writers_ntp_clock_reads_as_aiortcs():
    from aiortc import clock

    before = clock.current_ntp_time()
    now = rtp_writer.ntp_now()
    after = clock.current_ntp_time()
    assert before - (1 << 20) <= now <= after + (1 << 20)  # a quarter millisecond of rounding either way


@pytest.mark.asyncio
async def test_upstream_packets_handled_inline_still_feed_receiver_statistics(make_room):
    # given a publisher whose packets the relay handles in aioice's datagram callback
    harness = await _doctor_seen_by_expert(make_room, "audio_frames")

    # when the relay reads its upstream statistics
    upstream = harness.room._participants["doctor"].upstream
    receiver = next(r for r in upstream.getReceivers() if r.track.kind == "audio")
    report = await receiver.getStats()

    # then packets and bytes were counted as aiortc's own receive loop would
    assert stats_of(report, "inbound-rtp")[0].packetsReceived >= 10
    assert stats_of(report, "transport")[0].packetsReceived >= 10


@pytest.mark.asyncio
async def test_a_subscribers_rtcp_is_handled_as_it_arrives(make_room):
    # given a subscriber receiving video through the relay
    harness = await _doctor_seen_by_expert(make_room, "video_frames")
    sender = next(d for d in harness.room.downstreams("expert")).senders["video"]

    # then its connection hands SRTCP to aiortc inside the datagram callback, and its
    # receiver reports reach the relay's sender that way (aiortc's remote-inbound stats)
    assert sender.transport.transport._connection._relay_inline

    async def reported() -> bool:
        return bool(stats_of(await sender.getStats(), "remote-inbound-rtp"))
    deadline = asyncio.get_running_loop().time() + 10
    while not await reported() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert await reported()


def test_send_path_that_suspends_is_refused_loudly():
    async def suspends():
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="suspended"):
        rtp_writer.run_to_completion(suspends())


async def test_publisher_remb_is_the_relays_ceiling_not_aiortcs_delay_estimate():
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci, unpack_remb_fci

    sent = []

    class Receiver:
        async def _send_rtcp(self, packet):
            sent.append(packet)

    receiver, ceiling = Receiver(), [None]
    rtcp_feedback.cap_receiver_remb(receiver, lambda: ceiling[0])

    def aiortc_remb(bps):
        return RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(bps, [42]))

    # given aiortc's estimate of 35 kbit/s (a busy machine's jitter) and no subscriber limiting
    await receiver._send_rtcp(aiortc_remb(35_000))
    # then the publisher is told nothing limits it; aiortc's figure is kept aside
    assert unpack_remb_fci(sent[-1].fci) == (rtcp_feedback.UNLIMITED_REMB_BPS, [42])
    assert receiver._relay_uplink_remb == 35_000
    # and when a congested subscriber sets a ceiling, the publisher gets that ceiling
    ceiling[0] = 150_000
    await receiver._send_rtcp(aiortc_remb(35_000))
    assert unpack_remb_fci(sent[-1].fci) == (150_000, [42])


async def test_a_receiver_report_answering_an_earlier_sender_report_still_gives_a_round_trip(monkeypatch):
    from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

    class Sender:  # the attributes of aiortc's RTCRtpSender that observe_rtcp reads
        _ssrc = 1111
        _RTCRtpSender__lsr = None
        _RTCRtpSender__lsr_time = None

        async def _handle_rtcp_packet(self, packet):
            pass

    sender, got = Sender(), []
    rtcp_feedback.observe_rtcp(sender, on_remb=lambda bps: None, on_loss=lambda f, rtt: got.append(rtt))
    now = [1000.0]
    monkeypatch.setattr(rtcp_feedback.time, "time", lambda: now[0])
    # given an SR sent at t=1000, seen by the room's tick, then a second SR at t=1001
    sender._RTCRtpSender__lsr, sender._RTCRtpSender__lsr_time = 0xAAAA, 1000.0
    rtcp_feedback.note_sender_report(sender)
    sender._RTCRtpSender__lsr, sender._RTCRtpSender__lsr_time = 0xBBBB, 1001.0
    # when at t=1001.2 a report arrives that answers the first one, held 0.1 s by the receiver
    now[0] = 1001.2
    report = RtcpReceiverInfo(ssrc=1111, fraction_lost=0, packets_lost=0, highest_sequence=1,
                              jitter=0, lsr=0xAAAA, dlsr=int(0.1 * 65536))
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=5, reports=[report]))
    # then its round trip is 1.1 s (aiortc, which keeps only the latest SR, had none)
    assert got and abs(got[0] - 1.1) < 0.01


@pytest.mark.parametrize("size", [1, 1296, 1297, 5000])
def test_vp8_payloads_are_cut_as_aiortcs_packetizer_cuts_them(size):
    frame = bytes(range(256)) * (size // 256) + bytes(size % 256)
    ours, aiortcs = Vp8Packetizer(), get_encoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000))
    ours.picture_id = aiortcs.picture_id = 0x7FFF  # and across the picture id's wrap
    for _ in range(2):
        packet = av.Packet(frame)
        packet.pts, packet.time_base = 0, fractions.Fraction(1, 90000)
        assert ours.pack(frame) == aiortcs.pack(packet)[0]


def test_the_nack_historys_packets_are_aiortcs_packets():
    # RTCRtpSender._retransmit serializes what the writer keeps: the same attributes as RtpPacket's
    kept = rtp_writer._SentPacket(96, 1, 7, 1234, 5678, b"payload", RtpPacket().extensions)
    assert isinstance(kept, RtpPacket)
    assert sorted(vars(kept)) == sorted(vars(RtpPacket()))
    assert kept.serialize(HeaderExtensionsMap()) == RtpPacket(
        payload_type=96, marker=1, sequence_number=7, timestamp=1234, ssrc=5678, payload=b"payload").serialize(
        HeaderExtensionsMap())
