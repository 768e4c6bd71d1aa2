"""Per-subscriber congestion control of the relay: the downlink estimate, the pacer (pacer.py), the
rules for retransmissions and the REMB sent up to a publisher. Pure logic on injected
clocks and callbacks (no aiortc): rtp_writer.py, rtcp_feedback.py, room.py and room_control.py wire it to the peer
connections; tests/relay/test_congestion.py drives it alone.

A subscriber has one peer connection per publisher, all over the same access link; the
relay keeps one estimate per subscriber, GCC's sender side in spirit, from what the
subscriber reports about the relay's streams in RTCP receiver reports: fraction lost, and
the round-trip time, whose growth above the lowest seen is queueing delay (REMB is read
but not trusted, see DownlinkEstimate). Everything the relay sends that subscriber goes through
one pacer at a rate a little above the estimate; audio never waits for video.
"""

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from .pacer import PACING_FACTOR, Pacer

# --- downlink estimate ----------------------------------------------------------------

START_BPS = 2_500_000  # before any feedback: what a clean link carries of 640x480 video
# (a weak link's first reports halve it each second)
MIN_BPS = 30_000
MAX_BPS = 20_000_000
LOSS_HIGH = 0.08  # more lost than this: the link is full (GCC uses 10 %; a drop-tail queue on a
# 100 kbit/s link carrying 4 streams was measured shedding 8-11 %)
LOSS_LOW = 0.05  # less (and no queue): the estimate may grow. GCC grows only under 2 %, but
# its delay-based side grows too; this one has no other way up on a link with 3 % random loss
GROWTH = 1.08  # per second while the link shows no congestion
# Near the rate that got through at the last back-off (the link's rate, as far as it is known)
# the estimate grows slower, as GCC's additive increase near its link capacity: at 8 %/s it
# passed a 300 kbit/s link's rate within seconds of each back-off, and the queue it built
# (a 30 KB drop-tail queue: 0.8 s) froze the pictures (2026-12-07 22:00, weaklink_bench)
NEAR_CAPACITY = 0.9
GROWTH_NEAR_CAPACITY = 1.02
CAPACITY_MEMORY = 30.0  # seconds without a back-off after which the last one says nothing more
BACKOFF = 0.85  # of what got through, on congestion (GCC's beta)
APP_LIMIT = 1.5  # the estimate grows no further than this times what is being sent
# RTT this far above the lowest seen: packets wait in a queue. Not less: on a busy machine
# (load 15 on 2 cores) the median RTT on an idle loopback link rose 50-70 ms above its lowest.
QUEUEING_DELAY = 0.25
QUEUEING_UPDATES = 2
MAX_STEP_DOWN = 0.5  # at most halved per update (a start-up second sends little: no collapse)
REMB_STALE_SECONDS = 5.0
MIN_RTT_WINDOW = 10.0  # seconds over which the lowest round trip is taken. At 30 s, a link shaped to
# 150 ms mid-call read its new base as a standing queue for 30 s: the estimate never grew and backed
# off on "queueing" down to 95 kbit/s (2026-12-07 18:11, weak-link test). The sawtooth drains the
# queue every few seconds, so 10 s still sees the base; a queue that never drains overflows into loss.
NACK_LOSS_MIN_PACKETS = 20  # fewer packets sent in a second say nothing of the loss
LOSS_WEIGHT_DEFAULT = 20.0  # packets a report block of unknown size stands for (about a second of video)
OUTAGE_SECONDS = 2.5  # no receiver report for this long: the link was down, not congested  # a connection that said nothing for this long no longer counts


@dataclass
class DownlinkEstimate:
    """What one subscriber's link can carry, in bits per second.

    ``on_remb(pc_id, bps, now)``: a REMB from one of its connections (the latest per
    connection counts). ``update(now, loss, rtt, min_rtt, sent_bps)`` once a second:
    - congestion (loss above LOSS_HIGH, or RTT more than QUEUEING_DELAY above the lowest
      seen in two updates in a row): the estimate falls to BACKOFF times what got through (what was sent, less
      the loss), by at most half per update;
    - loss under LOSS_LOW and no queue (RTT within 100 ms of its lowest): it grows by GROWTH a second, but not beyond
      APP_LIMIT times what is being sent (a link carrying only audio proves nothing more);
    - in between: it holds.
    The REMBs are kept (``remb_bps``, the "quality" figures) but do not move the estimate:
    measured here, Chromium sent REMB on only some of a subscriber's connections, and
    values of 35 kbit/s on an idle loopback link while the machine was busy (its
    receive-side estimator follows what it receives and takes scheduling jitter for
    queueing), which would have starved links that were not full.
    """

    value: float = START_BPS
    queueing_delay: float = QUEUEING_DELAY  # the delay above the lowest that reads as a queue
    max_step_down: float = MAX_STEP_DOWN  # the estimate falls to no less than this times itself
    drain_seconds: float = 1.0  # after a queueing back-off: a round trip and this long before another
    min_bps: float = MIN_BPS
    capacity: Optional[float] = None  # what got through at the last back-off: the link's rate
    capacity_at: float = 0.0
    remb: dict[str, tuple[float, float]] = field(default_factory=dict)  # pc_id -> (bps, when)
    congested: bool = False
    queue_streak: int = 0
    queue_hold_until: float = 0.0  # after a back-off the queue needs a round trip to drain
    reasons: collections.Counter = field(default_factory=collections.Counter)  # why it backed off

    def on_remb(self, pc_id: str, bps: float, now: float) -> None:
        self.remb[pc_id] = (max(float(bps), 0.0), now)

    def forget(self, pc_id: str) -> None:
        self.remb.pop(pc_id, None)

    def remb_bps(self, now: float) -> Optional[float]:
        fresh = [bps for bps, when in self.remb.values() if now - when <= REMB_STALE_SECONDS]
        return sum(fresh) if fresh else None

    def update(self, now: float, loss: Optional[float], rtt: Optional[float], min_rtt: Optional[float],
               sent_bps: float, last_rtt: Optional[float] = None) -> bool:
        """Apply one second of feedback; returns whether the link showed congestion.
        ``rtt``: measured this second (None: no report carried one); ``last_rtt``: the
        latest ever measured, which may hold growth back but never counts as a queue."""
        inflated = rtt is not None and min_rtt is not None and rtt - min_rtt > self.queueing_delay
        self.queue_streak = self.queue_streak + 1 if inflated else 0
        # two updates in a row: one slow second of a busy machine is not a queue
        # and not again before the queue had a round trip to drain: the RTT shows it a round
        # trip late, and backing off each second on it took a 300 kbit/s link's estimate to 95k
        queueing = self.queue_streak >= QUEUEING_UPDATES and now >= self.queue_hold_until
        lossy = loss is not None and loss > LOSS_HIGH
        self.congested = queueing or lossy
        if self.congested:
            self.reasons["queueing" if queueing else "loss"] += 1
            through = sent_bps * (1 - (loss or 0.0))
            self.value = max(min(self.value, BACKOFF * through), self.max_step_down * self.value)
            self.queue_hold_until = now + max(rtt or 0.0, 1.0) + self.drain_seconds
            self.capacity, self.capacity_at = through, now
        elif (loss is None or loss < LOSS_LOW) and not (
                (growth_rtt := rtt if rtt is not None else last_rtt) is not None
                and min_rtt is not None and growth_rtt - min_rtt > self.queueing_delay / 2.5):
            growth = GROWTH
            if self.capacity is not None and now - self.capacity_at <= CAPACITY_MEMORY:
                if self.value >= NEAR_CAPACITY * self.capacity:
                    growth = GROWTH_NEAR_CAPACITY
            self.value = min(self.value * growth, max(APP_LIMIT * sent_bps, self.value))
        self.value = min(max(self.value, self.min_bps), MAX_BPS)
        return self.congested

    def bps(self, now: float) -> float:
        return self.value


# --- a publisher's uplink, seen from the relay -------------------------------------------

ABS_SEND_TIME_UNIT = 1 << 18  # abs-send-time: seconds in 6.18 fixed point
ABS_SEND_TIME_WRAP = 1 << 24  # 24 bits: it wraps every 64 s
UPLINK_QUEUEING_DELAY = 0.25  # one-way delay this far above its lowest: the uplink queues. At
# 0.15 s the doctor's and the expert's loopback uplinks read as queued at load 5-9 (host delays of
# 0.15-0.2 s not shared by the third publisher) and their 640x480 fell to 480x360
UPLINK_MIN_BPS = 100_000  # a back-off goes no lower: a queue that stands while the encoder
# follows its REMB (about a second, plus the queue's own drain) took a 300 kbit/s uplink's estimate
# to 30 kbit/s in four back-offs, and 50 s to grow back
UPLINK_RATE_SECONDS = 3  # what got through: the highest rate over this many periods (a second's
# arrivals on a 300 kbit/s uplink read 30-230 kbit/s of video)
UPLINK_MIN_DELAY_WINDOW = MIN_RTT_WINDOW


class UplinkEstimate:
    """What one publisher's uplink carries, from the relay's side: the one-way delay of its
    video packets (arrival at the relay less the abs-send-time Chromium stamps on them as they
    leave its pacer; the offset between the two clocks cancels against its lowest over
    UPLINK_MIN_DELAY_WINDOW) and the fraction of them lost, folded once a second by the
    rules of DownlinkEstimate (a queue: 0.85 x what got through; clear: +8 %/s), with two
    differences: what got through is measured here, where it arrives, so a back-off goes to
    0.85 x that at once (not at most halving a second); and loss alone is not taken for
    congestion: the publisher's own loss-based control (Chromium's) answers loss already, and
    a random-loss link (3 %) would otherwise hold its encoder down for nothing. The loss is
    measured (``loss``) and reported.

    Without it the relay told a publisher only what its subscribers could take: a patient
    behind a 300 kbit/s link, whose subscribers (doctor, expert) took anything, was told
    10 Mbit/s; its encoder filled its own uplink (a 30 KB queue: 0.8 s), and every receiver
    report the patient sent about its *downlink* waited in that queue, so the relay read its
    downlink's round trip at 0.9-1 s and held its estimate at 90-220 kbit/s (2026-12-07).

    ``add`` has the signature of aiortc's RemoteBitrateEstimator.add, whose place it takes
    on a publisher's video receiver (rtcp_feedback.observe_uplink); it returns None, so aiortc
    sends no REMB of its own (the room sends one a second, room_control.py).
    """

    def __init__(self) -> None:
        self.estimate = DownlinkEstimate(queueing_delay=UPLINK_QUEUEING_DELAY, max_step_down=0.0,
                                         drain_seconds=2.0, min_bps=UPLINK_MIN_BPS)
        self._rates: collections.deque[float] = collections.deque(maxlen=UPLINK_RATE_SECONDS)
        self._last_abs: Optional[int] = None
        self._send_s = 0.0  # abs-send-time unwrapped, seconds
        self._delays: list[float] = []  # arrival - send (seconds, arbitrary offset) this period
        self._bytes = 0
        self._minima: collections.deque[tuple[float, float]] = collections.deque()  # (when, lowest delay)
        self._counts: Optional[tuple[int, int]] = None  # (received, expected) at the last update
        self._last_update: Optional[float] = None
        self._seconds: Optional[float] = None
        self.loss: Optional[float] = None
        self.queue_delay: Optional[float] = None  # the last period's median above the lowest
        self.received_bps: Optional[float] = None

    def add(self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int) -> None:
        if self._last_abs is None:
            self._last_abs = abs_send_time
        step = (abs_send_time - self._last_abs) % ABS_SEND_TIME_WRAP
        if step >= ABS_SEND_TIME_WRAP // 2:  # sent before the last one (reordered): no step back
            send_s = self._send_s - (ABS_SEND_TIME_WRAP - step) / ABS_SEND_TIME_UNIT
        else:
            self._send_s += step / ABS_SEND_TIME_UNIT
            self._last_abs = abs_send_time
            send_s = self._send_s
        self._delays.append(arrival_time_ms / 1000 - send_s)
        self._bytes += payload_size
        return None

    def measure(self, now: float, received: int, expected: int, relay_lag: float = 0.0) -> None:
        """Once a second, first: the period's loss, rate and queueing delay. ``received``/
        ``expected``: the publisher's video packets so far (RTP statistics of its streams,
        from their first packet); ``relay_lag``: how late the relay's event loop woke at worst
        this period (that much of an arrival time is the relay's own)."""
        self._seconds = None if self._last_update is None else max(now - self._last_update, 0.1)
        self._last_update = now
        counts, self._counts = self._counts, (received, expected)
        self.loss = None
        if counts is not None and expected - counts[1] > 0:
            self.loss = max(0.0, 1 - (received - counts[0]) / (expected - counts[1]))
        delays, self._delays = self._delays, []
        got, self._bytes = self._bytes, 0
        self.queue_delay = None
        if not delays:
            return
        delays.sort()
        median = delays[len(delays) // 2] - relay_lag
        self._minima.append((now, delays[0]))
        while self._minima and now - self._minima[0][0] > UPLINK_MIN_DELAY_WINDOW:
            self._minima.popleft()
        self.queue_delay = max(median - min(d for _, d in self._minima), 0.0)
        if self._seconds is not None:
            self.received_bps = got * 8 / self._seconds
            self._rates.append(self.received_bps)

    def queued(self) -> bool:
        """Whether this period's packets waited longer than a queue's worth (``measure``)."""
        return self.queue_delay is not None and self.queue_delay > UPLINK_QUEUEING_DELAY

    def fold(self, now: float, others_queued: bool = False) -> bool:
        """Then: fold the period into the estimate; returns whether the uplink showed a queue.
        ``others_queued``: every other publisher of the room showed a queue too this period.
        Links to one relay do not queue together; their packets are late together when the
        relay's host is (measured: a shared 2-core machine at load 6 delayed the packets of
        three publishers by 0.6-1.3 s at once, while the relay's event loop woke in time,
        so two of them on loopback read as queued). Such a period counts only if this uplink
        also loses packets (LOSS_HIGH: a full drop-tail queue; at load 16 the patient's uplink
        queued 0.9-1.6 s, 40-80 % lost, while the other two read 0.9 s from the host's stalls,
        and skipping those periods left it unchecked for 30 s)."""
        if self.queue_delay is None or self._seconds is None or self.received_bps is None:
            return False
        if others_queued and self.queued() and not (self.loss is not None and self.loss > LOSS_HIGH):
            return False
        return self.estimate.update(now, None, self.queue_delay, 0.0, max(self._rates))

    def update(self, now: float, received: int, expected: int, relay_lag: float = 0.0) -> bool:
        """``measure`` then ``fold``, for a publisher alone."""
        self.measure(now, received, expected, relay_lag)
        return self.fold(now)

    def bps(self) -> float:
        return self.estimate.value


# --- audio-only by itself --------------------------------------------------------------

AUDIO_BPS = 40_000  # one Opus stream as Chromium sends it, headers included (measured: 39-42 kbit/s)
VIDEO_MIN_BPS = 30_000  # below this per video stream, audio only (Chromium's VP8 encoder floor)
AUDIO_ONLY_AFTER = 2.0  # seconds below the minimum before switching to audio only
PROBE_FIRST = 8.0  # seconds of audio only before the first attempt at video again
PROBE_MAX = 60.0  # the wait doubles after each failed attempt, up to this


def video_share_bps(estimate_bps: float, audio_streams: int, video_streams: int) -> Optional[float]:
    """What each video stream to a subscriber can have once its audio is served."""
    if video_streams <= 0:
        return None
    return max(estimate_bps - AUDIO_BPS * audio_streams, 0.0) / video_streams


@dataclass
class AutoAudioOnly:
    """Decides when a subscriber's link is too weak for video, and when to try again.

    ``update(share_bps, loss, now)`` takes the per-video-stream share of the estimate
    (``video_share_bps``) and the latest loss fraction, and returns True (go audio only),
    False (video again) or None (no change). While audio only, the estimate cannot grow
    (the link carries only audio), so video is tried again after PROBE_FIRST seconds if
    the loss is low, then after twice as long each time the attempt fails.
    """

    audio_only: bool = False
    below_since: Optional[float] = None
    since: float = 0.0  # when the current audio-only period began
    probe_wait: float = PROBE_FIRST
    probing_since: Optional[float] = None  # video resumed on trial

    def update(self, share_bps: Optional[float], loss: Optional[float], now: float) -> Optional[bool]:
        if share_bps is None:
            self.below_since = None
            return None
        if not self.audio_only:
            if share_bps < VIDEO_MIN_BPS:
                if self.below_since is None:
                    self.below_since = now
                if now - self.below_since >= AUDIO_ONLY_AFTER:
                    if self.probing_since is not None and now - self.probing_since < 15.0:
                        self.probe_wait = min(self.probe_wait * 2, PROBE_MAX)  # the trial failed
                    else:
                        self.probe_wait = PROBE_FIRST
                    self.audio_only, self.since, self.below_since = True, now, None
                    self.probing_since = None
                    return True
            else:
                self.below_since = None
            return None
        if now - self.since >= self.probe_wait and (loss is None or loss < LOSS_HIGH):
            self.audio_only, self.probing_since = False, now
            return False
        return None


# --- REMB towards a publisher ------------------------------------------------------------


REMB_HEADROOM = 0.8  # of the share: an encoder's target leaves out RTP headers and its own
# overshoot, and retransmissions come on top. At 1.0 the two pictures plus audio filled the
# pacer (1.1 x the estimate) and its backlog overflowed every few seconds (a keyframe each time).
# The share itself grows with the estimate (8 %/s while the link is clear).
REMB_HOLD_SECONDS = 20.0  # a subscriber holds its publishers' ceiling this long after its link
# last showed congestion. Only during congested seconds (as before) the ceiling came and went:
# the publisher's encoder rose again each clear second, refilled the link and congested it.


def publisher_remb_bps(subscriber_shares: list[Optional[float]], floor_bps: float = VIDEO_MIN_BPS) -> Optional[float]:
    """The bitrate to ask a (non-simulcast) publisher's encoder for: the lowest share any
    subscriber still receiving its video can take (audio-only ones do not hold it down),
    plus its own audio, never below ``floor_bps``. None: no subscriber limits it."""
    shares = [s for s in subscriber_shares if s is not None]
    if not shares:
        return None
    return max(min(shares) * REMB_HEADROOM + AUDIO_BPS, floor_bps)


# --- retransmissions -------------------------------------------------------------------

RTX_SHARE = 0.25  # of the subscriber's estimate, over a RTX_WINDOW
RTX_WINDOW = 1.0
DEFAULT_RTT = 0.2


@dataclass
class RtxPolicy:
    """Which NACKed packets a subscriber gets again.

    A packet is resent only if it was first sent no longer ago than about one round trip
    (``1.5 * rtt + 50 ms``: the NACK needs half a round trip to come back and the receiver
    a little time to see the gap; older, the receiver has given it up or it is too late to
    be shown); not again within one RTT of its last resend; and only while the
    retransmitted bytes over the last second stay under RTX_SHARE of the estimate.
    """

    sent_at: dict[int, float] = field(default_factory=dict)  # seq -> first send
    resent_at: dict[int, float] = field(default_factory=dict)
    spent: collections.deque = field(default_factory=collections.deque)  # (when, bytes)
    spent_bytes: int = 0
    refused_old: int = 0
    refused_budget: int = 0
    refused_repeat: int = 0
    resent: int = 0
    sent_packets: int = 0  # packets sent (first sends)
    nacked_packets: int = 0  # of those, how many the subscriber NACKed (each once)
    nacked: set[int] = field(default_factory=set)

    HISTORY = 512

    def on_sent(self, seq: int, now: float) -> None:
        self.sent_packets += 1
        self.sent_at.pop(seq, None)  # a wrapped sequence number goes to the end again
        self.sent_at[seq] = now
        self.nacked.discard(seq)
        if len(self.sent_at) > self.HISTORY:
            oldest = next(iter(self.sent_at))  # dicts keep insertion order: the oldest first
            del self.sent_at[oldest]
            self.resent_at.pop(oldest, None)
            self.nacked.discard(oldest)

    def on_nack(self, seq: int) -> None:
        """A NACK for ``seq``: counted once per packet sent (``nacked_packets``), whether
        it is resent or not. The subscriber's receiver reports do not show the loss that
        retransmissions repaired: resent on the same SSRC, a packet counts as received
        (measured: 20 % dropped at a 300 kbit/s link's queue, 1-4 % reported)."""
        if seq in self.sent_at and seq not in self.nacked:
            self.nacked.add(seq)
            self.nacked_packets += 1

    def allow(self, seq: int, size: int, now: float, rtt: Optional[float], estimate_bps: float) -> bool:
        rtt = DEFAULT_RTT if rtt is None else rtt
        sent = self.sent_at.get(seq)
        if sent is None or now - sent > 1.5 * rtt + 0.05:
            self.refused_old += 1
            return False
        last = self.resent_at.get(seq)
        if last is not None and now - last < rtt:
            self.refused_repeat += 1
            return False
        while self.spent and now - self.spent[0][0] > RTX_WINDOW:
            self.spent_bytes -= self.spent.popleft()[1]
        if (self.spent_bytes + size) * 8 > RTX_SHARE * estimate_bps * RTX_WINDOW:
            self.refused_budget += 1
            return False
        self.spent.append((now, size))
        self.spent_bytes += size
        self.resent_at[seq] = now
        self.resent += 1
        return True


# --- one subscriber's link ------------------------------------------------------------------


class SubscriberLink:
    """A subscriber's downlink: its estimate, its pacer and its audio-only automaton.
    Shared by every connection the relay has to that subscriber (one per publisher)."""

    def __init__(self, schedule: Callable[[float, Callable[[], None]], Any],
                 clock: Callable[[], float]) -> None:
        self.clock = clock
        self.estimate = DownlinkEstimate()
        self.auto = AutoAudioOnly()
        self.pacer = Pacer(START_BPS * PACING_FACTOR, clock, schedule,
                           on_overflow=lambda stream: stream.restart_at_keyframe())
        self.loss: Optional[float] = None  # mean fraction lost over the last update's reports
        self.rtt: Optional[float] = None
        self.min_rtt: Optional[float] = None
        self._rtt_history: collections.deque[tuple[float, float]] = collections.deque()
        self._rtts: list[float] = []
        self._losses: list[tuple[float, float]] = []  # (fraction, packets it is of)
        self._nacks_seen: tuple[int, int] = (0, 0)
        self.report_rtt: Optional[float] = None  # the latest report's round trip, as measured
        self.nack_loss: Optional[float] = None
        self._last_report = clock()
        self._skip_until = 0.0
        self._sent_seen = 0
        self._audio_seen = 0
        self.audio_bps = 0.0  # what its audio took over the last update's period
        self._dropped_seen = 0
        self._last_update = clock()
        self.congested_at: Optional[float] = None  # loss, queueing or pacer drops
        self.link_congested_at: Optional[float] = None  # loss or queueing only

    def limits_publishers(self) -> bool:
        """Whether this link's share holds its publishers' REMB ceiling: it showed congestion
        within REMB_HOLD_SECONDS (its estimate grows back by itself while the link is clear)."""
        return self.congested_at is not None and self.clock() - self.congested_at <= REMB_HOLD_SECONDS

    def link_congested_recently(self) -> bool:
        """Whether the link itself showed congestion (loss or queueing, not the pacer's own
        drops, which a clean link shows while its estimate grows from its start) within
        REMB_HOLD_SECONDS: what moves a subscriber to a publisher's low layer (layers.py)."""
        return self.link_congested_at is not None and self.clock() - self.link_congested_at <= REMB_HOLD_SECONDS

    def estimate_bps(self) -> float:
        return self.estimate.bps(self.clock())

    def nack_rtt(self, sender_rtt: Optional[float]) -> Optional[float]:
        """The round trip a NACK takes (RtxPolicy's age rule): the longer of aiortc's
        smoothed figure and the latest report's. aiortc's matches only the latest sender
        report, so behind a queue longer than the report interval it stays at its last
        short value; the NACKs, which wait in the same queues, were then refused as too old
        (40 packets resent of about 400 lost in a minute on a 300 kbit/s link, 2026-12-07)."""
        rtts = [rtt for rtt in (sender_rtt, self.report_rtt) if rtt is not None]
        return max(rtts) if rtts else None

    def on_remb(self, pc_id: str, bps: float) -> None:
        self.estimate.on_remb(pc_id, bps, self.clock())

    def on_loss(self, fraction: float, rtt: Optional[float] = None, packets: Optional[int] = None) -> None:
        """One receiver report block: fraction lost, round-trip time (or None) and how many
        packets the fraction is of (None: unknown, weighs as one report of LOSS_WEIGHT_DEFAULT).

        The first reports after a silence (an outage: nothing came back for
        OUTAGE_SECONDS) count the outage's packets as lost; that is not congestion, so
        they are left out (one second's worth)."""
        now = self.clock()
        if now - self._last_report > OUTAGE_SECONDS:
            self._skip_until = now + 1.0
        self._last_report = now
        if now < self._skip_until:
            return
        self._losses.append((fraction, float(packets) if packets else LOSS_WEIGHT_DEFAULT))
        if rtt is not None and rtt > 0:
            self.report_rtt = rtt
            self._rtts.append(rtt)

    def on_rtt(self, rtt: Optional[float]) -> None:
        if rtt is None or rtt <= 0:
            return
        now = self.clock()
        self.rtt = rtt
        # the lowest over a window, not ever: a path that got longer (another route, a
        # shaped link) would otherwise read as a standing queue and never let it grow
        self._rtt_history.append((now, rtt))
        while self._rtt_history and now - self._rtt_history[0][0] > MIN_RTT_WINDOW:
            self._rtt_history.popleft()
        self.min_rtt = min(r for _, r in self._rtt_history)

    def update(self, relay_lag: float = 0.0, uplink_queue: float = 0.0,
               nacks: Optional[tuple[int, int]] = None) -> bool:
        """Once a second: fold the feedback into the estimate, set the pacer's rate.
        Returns whether the link showed congestion (loss, queueing, pacer drops).
        ``relay_lag``: how late the relay's own event loop woke at worst this second; that
        much of a round trip is the relay's own delay, not a queue on the link, and is taken
        off. (Dropping the second's round trips instead, as before, left a relay at load 15
        with 17 seconds of 25 unread: it never saw a 1.7 s queue, 2026-12-07 18:20.)
        ``uplink_queue``: how long this participant's own packets queued on its uplink this
        second (its UplinkEstimate): its receiver reports waited that long too, which is no
        queue on its downlink. (At the start of a call on a 300 kbit/s link the round trips
        read 1-1.7 s, mostly the uplink's queue; the lowest over 10 s rose with them, and
        a downlink estimate of 900 kbit/s put 570 kbit/s into the link for 30 s.)
        ``nacks``: (packets sent, packets NACKed) so far over its connections (RtxPolicy):
        the NACKed share of this second's packets is kept as ``nack_loss`` (room stats) but does
        not move the estimate: folded in as loss (the higher of it and the reports'), a lossy
        first second on a 300 kbit/s link halved the estimate twice to 83-97 kbit/s and, with
        the reports then silent for 10-20 s, held it there (the patient at 0-1.5 fps in two
        runs of three, 2026-12-07 22:40-22:51 at load 8-12)."""
        taken_off = relay_lag + uplink_queue
        if taken_off > 0:
            self._rtts = [rtt - taken_off for rtt in self._rtts if rtt - taken_off > 0]
        now = self.clock()
        seconds = max(now - self._last_update, 0.1)
        self._last_update = now
        sent = sum(self.pacer.sent_bytes.values()) + self.pacer.charged_bytes
        sent_bps = (sent - self._sent_seen) * 8 / seconds
        self._sent_seen = sent
        audio = self.pacer.sent_bytes["audio"]
        self.audio_bps = (audio - self._audio_seen) * 8 / seconds
        self._audio_seen = audio
        fresh_rtt = bool(self._rtts)
        if fresh_rtt:
            self.on_rtt(sorted(self._rtts)[len(self._rtts) // 2])  # the median of the period's reports
            self._rtts.clear()
        # the mean over the period's report blocks (one per stream), each weighing as many
        # packets as its fraction is of: the worst one of a stream of 15 packets a second
        # would read 3 % random loss as 13 % now and then, and the plain mean of the blocks
        # still read it over 8 % (a loss back-off) 8 times a minute on a 300 kbit/s link
        weight = sum(w for _, w in self._losses)
        self.loss = sum(f * w for f, w in self._losses) / weight if self._losses else None
        self._losses.clear()
        if nacks is not None:
            last, self._nacks_seen = self._nacks_seen, nacks
            sent_packets, nacked = nacks[0] - last[0], nacks[1] - last[1]
            if self.loss is not None and sent_packets >= NACK_LOSS_MIN_PACKETS and nacked >= 0:
                self.nack_loss = min(nacked / sent_packets, 1.0)
        dropped = self.pacer.dropped_packets - self._dropped_seen
        self._dropped_seen = self.pacer.dropped_packets
        if self.loss is None:
            congested = dropped > 0  # nothing came back (an outage, or no media): hold the estimate
        else:
            # only this period's round trips say whether a queue is there now. A report gives
            # one only if it answers the latest SR, so once the RTT exceeds the SR interval
            # (about 1 s) none comes; the last one, kept, read as a queue every second and
            # walked the estimate down to its floor on a link that had long drained
            rtt = self.rtt if fresh_rtt else None
            link_congested = self.estimate.update(now, self.loss, rtt, self.min_rtt, sent_bps,
                                                  last_rtt=self.rtt)
            if link_congested:
                self.link_congested_at = now
            congested = link_congested or dropped > 0
            self.pacer.set_rate(self.estimate_bps() * PACING_FACTOR)
        if congested:
            self.congested_at = now
        return congested

    def close(self) -> None:
        self.pacer.close()
