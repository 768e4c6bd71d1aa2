"""The relay's congestion control as pure logic (relay/congestion.py, relay/pacer.py) and the video gap
rules of its forwarding buffer (relay/forwarding_buffer.py), on a fake clock."""

import pytest
from aiortc.rtp import RtpPacket

from relay import congestion, pacer as pacer_module
from relay.congestion import (
    AutoAudioOnly,
    DownlinkEstimate,
    RtxPolicy,
    publisher_remb_bps,
    video_share_bps,
)
from relay.forwarding_buffer import VideoForwardingBuffer
from relay.pacer import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, object]] = []

    def __call__(self) -> float:
        return self.now

    def schedule(self, delay, callback):
        self.timers.append((self.now + delay, callback))
        return None

    def advance(self, seconds: float, step: float = 0.001) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(self.now + step, end)
            due = [t for t in self.timers if t[0] <= self.now]
            self.timers = [t for t in self.timers if t[0] > self.now]
            for _, callback in due:
                callback()


# --- pacer ---------------------------------------------------------------------------------


def test_pacer_holds_video_to_its_rate_and_never_holds_audio():
    clock = FakeClock()
    sent: list[tuple[float, str, int]] = []
    pacer = Pacer(400_000, clock, clock.schedule)
    video = object()
    # given one second of 1 Mbit/s video offered to a 400 kbit/s pacer, with audio between
    for ms in range(0, 1000, 10):
        for _ in range(1):
            pacer.send_video(1250, lambda: sent.append((clock.now, "v", 1250)), video)
        pacer.send_audio(100, lambda: sent.append((clock.now, "a", 100)))
        clock.advance(0.010)
    # then every audio packet left at the moment it was given
    audio_times = [t for t, kind, _ in sent if kind == "a"]
    assert audio_times == pytest.approx([100.0 + ms / 1000 for ms in range(0, 1000, 10)])
    # and video did not go out faster than the rate (plus one burst), the rest waited or was dropped
    video_bytes = sum(size for _, kind, size in sent if kind == "v")
    audio_bytes = sum(size for _, kind, size in sent if kind == "a")
    assert (video_bytes + audio_bytes) * 8 <= 400_000 * 1.0 + 8 * 1500 * 2
    assert video_bytes * 8 >= 400_000 * 0.6


def test_pacer_overflow_drops_the_stream_backlog_and_tells_the_stream():
    clock = FakeClock()
    overflowed = []
    pacer = Pacer(100_000, clock, clock.schedule, on_overflow=overflowed.append)
    stream = object()
    sent = []
    # given a 20 KB keyframe at once: it waits, whole (a keyframe must fit)
    for _ in range(17):
        pacer.send_video(1200, lambda: sent.append(1), stream)
    assert not overflowed and pacer.queued_bytes > 15_000
    # when far more comes than the backlog may hold
    for _ in range(30):
        pacer.send_video(1200, lambda: sent.append(1), stream)
    # then the backlog was dropped at once and the stream told (it restarts at a keyframe)
    assert overflowed and overflowed[0] is stream
    assert pacer.queued_bytes <= pacer_module.VIDEO_BACKLOG_MIN_BYTES
    assert pacer.dropped_packets > 0


def test_pacer_flush_of_one_stream_keeps_the_others():
    clock = FakeClock()
    pacer = Pacer(50_000, clock, clock.schedule)
    a, b = object(), object()
    sent = []
    for _ in range(2):
        pacer.send_video(1000, lambda: sent.append("a"), a)
        pacer.send_video(1000, lambda: sent.append("b"), b)
    # when the subscriber goes audio-only for stream a
    pacer.flush(a)
    clock.advance(1.0)
    # then nothing queued of a goes out any more, b's packets still do
    assert "b" in sent and sent.count("a") <= 1  # at most the one that went before queueing


# --- estimate, audio-only, REMB -------------------------------------------------------------


def test_estimate_backs_off_below_what_got_through_on_congestion():
    est = DownlinkEstimate(value=600_000)
    # given a link that queues (RTT 400 ms above its lowest) while the relay sends 400 kbit/s:
    # one such second may be a busy machine, two in a row are a queue
    assert not est.update(now=1, loss=0.05, rtt=0.55, min_rtt=0.15, sent_bps=400_000)
    assert est.bps(now=1) == 600_000
    assert est.update(now=2, loss=0.05, rtt=0.55, min_rtt=0.15, sent_bps=400_000)
    # then the estimate falls below what got through at once, not by steps from its start
    assert est.bps(now=2) == pytest.approx(0.85 * 400_000 * 0.95)
    # heavy loss alone (a drop-tail queue overflowing) counts as congestion too
    lossy = DownlinkEstimate(value=500_000)
    assert lossy.update(now=1, loss=0.4, rtt=None, min_rtt=None, sent_bps=500_000)
    assert lossy.bps(now=1) == pytest.approx(0.85 * 500_000 * 0.6)
    # but never more than halved in one step (a start-up second sends little)
    assert lossy.update(now=2, loss=0.4, rtt=None, min_rtt=None, sent_bps=10_000)
    assert lossy.bps(now=2) == pytest.approx(0.85 * 500_000 * 0.6 / 2)


def test_estimate_grows_only_when_the_link_is_clear_and_used():
    est = DownlinkEstimate(value=300_000)
    # 7 % loss, or a queue of 200 ms: hold
    for t in range(1, 10):
        assert not est.update(now=t, loss=0.07, rtt=0.16, min_rtt=0.15, sent_bps=290_000)
        assert not est.update(now=t, loss=0.0, rtt=0.35, min_rtt=0.15, sent_bps=290_000)
    assert est.bps(now=10) == 300_000
    # clear, or 3 % random loss without a queue: grows 8 % a second
    est.update(now=11, loss=0.03, rtt=0.15, min_rtt=0.15, sent_bps=290_000)
    assert est.bps(now=11) == pytest.approx(300_000 * congestion.GROWTH)
    # but a link carrying only audio does not raise it past 1.5x what it carries
    quiet = DownlinkEstimate(value=100_000)
    for t in range(30):
        quiet.update(now=t, loss=0.0, rtt=0.15, min_rtt=0.15, sent_bps=90_000)
    assert quiet.bps(now=30) == pytest.approx(135_000)
    # and a low REMB alone (a busy receiver's jitter) does not lower it
    quiet.on_remb("pc1", 20_000, now=30)
    quiet.update(now=31, loss=0.0, rtt=0.15, min_rtt=0.15, sent_bps=90_000)
    assert quiet.bps(now=31) == pytest.approx(135_000)


def test_goes_audio_only_when_video_cannot_fit_and_tries_again_later():
    auto = AutoAudioOnly()
    share = video_share_bps(100_000, audio_streams=2, video_streams=2)  # 10 kbit/s per picture
    assert auto.update(share, 0.0, now=0) is None  # not at once: a dip is allowed
    assert auto.update(share, 0.0, now=congestion.AUDIO_ONLY_AFTER + 0.1) is True
    # while audio only, video is tried again after PROBE_FIRST if loss is low
    assert auto.update(0.0, 0.0, now=5) is None
    assert auto.update(0.0, 0.0, now=congestion.AUDIO_ONLY_AFTER + congestion.PROBE_FIRST + 0.2) is False
    # the attempt fails quickly: audio only again, and the next attempt waits twice as long
    t = congestion.AUDIO_ONLY_AFTER + congestion.PROBE_FIRST + 0.2
    auto.update(share, 0.3, now=t + 1)
    assert auto.update(share, 0.3, now=t + 1 + congestion.AUDIO_ONLY_AFTER + 0.1) is True
    assert auto.probe_wait == 2 * congestion.PROBE_FIRST
    # a good link keeps video
    fine = AutoAudioOnly()
    assert all(fine.update(video_share_bps(2e6, 2, 2), 0.0, now=t) is None for t in range(30))


def test_publisher_remb_is_the_lowest_subscriber_share():
    # the patient's share (its 300 kbit/s split over two pictures) holds the doctor's encoder down
    patient = video_share_bps(300_000, audio_streams=2, video_streams=2)
    expert = video_share_bps(3_000_000, audio_streams=2, video_streams=2)
    assert publisher_remb_bps([expert, patient]) == patient * congestion.REMB_HEADROOM + congestion.AUDIO_BPS
    assert publisher_remb_bps([None]) is None
    assert publisher_remb_bps([0.0], floor_bps=100_000) == 100_000  # never below the floor


# --- NACK rules -----------------------------------------------------------------------------


def test_nack_for_a_packet_older_than_about_an_rtt_is_ignored():
    policy = RtxPolicy()
    policy.on_sent(10, now=0.0)
    policy.on_sent(11, now=0.5)
    assert policy.allow(11, 1200, now=0.6, rtt=0.1, estimate_bps=1e6)
    assert not policy.allow(10, 1200, now=0.6, rtt=0.1, estimate_bps=1e6)
    assert policy.refused_old == 1


def test_a_packet_is_not_resent_twice_within_an_rtt():
    policy = RtxPolicy()
    policy.on_sent(5, now=0.0)
    assert policy.allow(5, 1200, now=0.1, rtt=0.2, estimate_bps=1e6)
    assert not policy.allow(5, 1200, now=0.2, rtt=0.2, estimate_bps=1e6)
    assert policy.allow(5, 1200, now=0.31, rtt=0.2, estimate_bps=1e6)


def test_retransmissions_are_capped_to_a_share_of_the_estimate():
    policy = RtxPolicy()
    for seq in range(200):
        policy.on_sent(seq, now=0.0)
    allowed = sum(policy.allow(seq, 1000, now=0.1, rtt=0.2, estimate_bps=300_000) for seq in range(200))
    # 25 % of 300 kbit/s over one second is 9,375 bytes: 9 packets of 1000 bytes
    assert allowed == int(congestion.RTX_SHARE * 300_000 / 8 / 1000)
    assert policy.refused_budget == 200 - allowed


# --- video gap rules (forwarding buffer) ------------------------------------------------------


def _vp8_packet(seq: int, timestamp: int, *, start: bool, marker: bool, key: bool = False) -> RtpPacket:
    descriptor = bytes([0x10 if start else 0x00])
    frame_tag = bytes([0x00 if key else 0x01, 0, 0])
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp, marker=int(marker))
    packet.ssrc = 1234
    packet.payload = descriptor + frame_tag + b"x" * 20
    packet._data = frame_tag + b"x" * 20 if start else b"y" * 20
    return packet


def _frame(seq: int, timestamp: int, packets: int, key: bool = False) -> list[RtpPacket]:
    return [_vp8_packet(seq + i, timestamp, start=i == 0, marker=i == packets - 1, key=key)
            for i in range(packets)]


def _buffer(clock, rtt=0.1):
    frames, nacks = [], []
    buffer = VideoForwardingBuffer("VP8", frames.append, send_nack=lambda ssrc, seqs: nacks.append(seqs),
                                   rtt=lambda: rtt, clock=clock)
    return buffer, frames, nacks


def test_a_keyframe_behind_a_gap_goes_out_as_soon_as_it_is_complete():
    clock = FakeClock()
    buffer, frames, _ = _buffer(clock)
    for p in _frame(0, 0, 2, key=True):
        buffer.add(p)
    # given a delta frame whose second packet is lost
    buffer.add(_frame(2, 3000, 2)[0])
    # when a whole keyframe arrives behind the gap
    pli = False
    for p in _frame(4, 6000, 3, key=True):
        pli = buffer.add(p)[0] or pli
    # then it is released at once (not held until the gap is given up) and no PLI is needed
    assert [f.keyframe for f in frames] == [True, True]
    assert frames[-1].timestamp == 6000
    assert not pli
    assert buffer.keyframes_skipped_to == 1


def test_a_gap_is_renacked_each_rtt_and_given_up_after_two():
    clock = FakeClock()
    buffer, frames, nacks = _buffer(clock, rtt=0.1)
    for p in _frame(0, 0, 2, key=True):
        buffer.add(p)
    buffer.add(_frame(2, 3000, 2)[0])  # packet 3 lost
    buffer.add(_frame(4, 6000, 2)[0])  # a delta frame behind it, complete
    buffer.add(_frame(4, 6000, 2)[1])
    assert len(frames) == 1
    # when one RTT passes, the gap is NACKed again (aiortc NACKed it once on its own)
    clock.now += 0.11
    assert buffer.tick() is False
    assert nacks == [[3]]
    # when two RTTs have passed without the packet, the gap is given up and the keyframe asked for
    clock.now += 0.11
    assert buffer.tick() is True
    assert buffer.gaps_given_up == 1
    # and the complete frame behind it goes on
    assert frames[-1].timestamp == 6000


def test_a_gap_filled_by_a_retransmission_releases_the_frames_in_order():
    clock = FakeClock()
    buffer, frames, nacks = _buffer(clock, rtt=0.1)
    first, second = _frame(0, 0, 2, key=True), _frame(2, 3000, 2)
    buffer.add(first[0])
    buffer.add(second[0])
    buffer.add(second[1])
    clock.now += 0.05
    buffer.add(first[1])  # the retransmission
    assert [f.timestamp for f in frames] == [0, 3000]
    assert buffer.gaps_given_up == 0


def test_link_reads_the_mean_loss_and_ignores_the_reports_that_count_an_outage():
    clock = FakeClock()
    link = congestion.SubscriberLink(clock.schedule, clock)
    link.estimate.value = 300_000
    # given 3 % random loss, read by four streams, one of them small (13 % on its own)
    for _ in range(5):
        clock.advance(1.0, step=1.0)
        for fraction in (0.02, 0.02, 0.0, 0.13):
            link.on_loss(fraction, rtt=0.15)
        link.pacer.sent_bytes["video"] += 35_000
        assert not link.update()
    assert link.estimate_bps() >= 300_000  # not taken for congestion
    # when nothing comes back for 10 s (an outage), the estimate holds
    before = link.estimate_bps()
    clock.advance(10.0, step=1.0)
    assert not link.update() and link.estimate_bps() == before
    # and the first reports after it, which count the outage's packets as lost, do not lower it
    link.on_loss(1.0, rtt=0.15)
    clock.advance(0.5, step=0.5)
    link.on_loss(0.9, rtt=0.15)
    link.update()
    assert link.estimate_bps() >= before


def test_a_busy_relay_does_not_read_its_own_delay_as_a_queue():
    clock = FakeClock()
    link = congestion.SubscriberLink(clock.schedule, clock)
    link.estimate.value = 300_000
    link.on_loss(0.0, rtt=0.15)
    clock.advance(1.0, step=1.0)
    link.update()
    # given round trips 600 ms above the lowest while the relay's event loop was late
    for _ in range(4):
        link.on_loss(0.0, rtt=0.75)
        clock.advance(1.0, step=1.0)
        assert not link.update(relay_lag=0.6)
    assert link.estimate_bps() >= 300_000
    # but the same round trips on a relay with time to spare are a queue
    for _ in range(2):
        link.on_loss(0.0, rtt=0.75)
        link.pacer.sent_bytes["video"] += 35_000
        clock.advance(1.0, step=1.0)
        congested = link.update()
    assert congested and link.estimate_bps() < 300_000


def test_a_round_trip_from_an_earlier_second_is_not_read_as_a_queue():
    clock = FakeClock()
    link = congestion.SubscriberLink(clock.schedule, clock)
    link.estimate.value = 300_000
    link.on_loss(0.0, rtt=0.15)
    clock.advance(1.0, step=1.0)
    link.update()
    # given one report that measured a 900 ms queue, then reports with no round trip (once
    # the RTT exceeds the SR interval, no report answers the latest SR)
    link.on_loss(0.0, rtt=0.9)
    link.pacer.sent_bytes["video"] += 35_000
    clock.advance(1.0, step=1.0)
    link.update()
    for _ in range(8):
        link.on_loss(0.0, rtt=None)
        link.pacer.sent_bytes["video"] += 35_000
        clock.advance(1.0, step=1.0)
        # then the old round trip does not count as a queue second after second
        assert not link.update()
    # but, not knowing the queue has drained, the estimate does not grow either
    assert link.estimate_bps() == 300_000


def test_the_lowest_round_trip_follows_a_path_that_got_longer():
    clock = FakeClock()
    link = congestion.SubscriberLink(clock.schedule, clock)
    link.on_rtt(0.005)  # a clean loopback-like path
    # given the path becomes a 150 ms one
    for _ in range(int(congestion.MIN_RTT_WINDOW) + 2):
        clock.advance(1.0, step=1.0)
        link.on_rtt(0.15)
    # then 150 ms is the base, not a 145 ms standing queue
    assert link.min_rtt == 0.15


def test_a_congested_link_holds_its_publishers_ceiling_for_a_while():
    clock = FakeClock()
    link = congestion.SubscriberLink(clock.schedule, clock)
    link.on_loss(0.0, rtt=0.1)
    clock.advance(1.0, step=1.0)
    link.update()
    assert not link.limits_publishers()
    # given one second of heavy loss
    link.on_loss(0.2, rtt=0.1)
    link.pacer.sent_bytes["video"] += 100_000
    clock.advance(1.0, step=1.0)
    assert link.update()
    # then its share holds the publishers down through the clear seconds that follow
    for _ in range(int(congestion.REMB_HOLD_SECONDS) - 1):
        link.on_loss(0.0, rtt=0.1)
        clock.advance(1.0, step=1.0)
        assert not link.update()
        assert link.limits_publishers()
    # and lets go once the link has been clear for REMB_HOLD_SECONDS
    clock.advance(2.0, step=1.0)
    assert not link.limits_publishers()


def test_a_link_never_sends_more_than_its_estimate_and_audio_goes_first():
    clock = FakeClock()
    link = congestion.SubscriberLink(clock.schedule, clock)
    # given an estimate of 300 kbit/s (what a 300 kbit/s link with 3 % random loss allows)
    for _ in range(3):
        link.on_loss(0.03, rtt=0.15)
        link.pacer.sent_bytes["video"] += 40_000
        clock.advance(1.0, step=1.0)
        link.update()
    link.estimate.value = 300_000
    link.on_loss(0.03, rtt=0.15)
    clock.advance(1.0, step=1.0)
    link.update()
    estimate = link.estimate_bps()
    sent: list[tuple[str, int]] = []
    video = type("Stream", (), {"restart_at_keyframe": lambda self: None})()
    # when 1 Mbit/s of video and two audio streams are offered for 5 s
    start_audio, start_video = link.pacer.sent_bytes["audio"], link.pacer.sent_bytes["video"]
    for _ in range(500):
        link.pacer.send_video(1250, lambda: sent.append(("v", 1250)), video)
        link.pacer.send_audio(100, lambda: sent.append(("a", 100)))
        clock.advance(0.010)
    # then every audio packet went out, and audio plus video stayed within the estimate
    audio = link.pacer.sent_bytes["audio"] - start_audio
    total = audio + link.pacer.sent_bytes["video"] - start_video
    assert [kind for kind, _ in sent].count("a") == 500
    assert total * 8 / 5.0 <= estimate * 1.02 + 1500 * 8 / 5.0, (total * 8 / 5.0, estimate)


def test_after_a_queueing_back_off_the_queue_gets_a_round_trip_to_drain():
    clock = FakeClock()
    estimate = DownlinkEstimate(value=1_000_000)
    # given a queue read two seconds in a row: one back-off
    assert not estimate.update(clock.now, 0.0, 0.9, 0.15, 1_000_000)
    assert estimate.update(clock.now + 1, 0.0, 0.9, 0.15, 1_000_000)
    after_one = estimate.value
    # when the round trip still shows it in the next second (it lags by a round trip)
    # then the estimate holds instead of halving again
    assert not estimate.update(clock.now + 2, 0.0, 0.9, 0.15, 1_000_000)
    assert estimate.value == after_one
    # and a queue that is still there a round trip and a second later backs it off again
    assert estimate.update(clock.now + 4, 0.0, 0.9, 0.15, 800_000)
    assert estimate.value < after_one
