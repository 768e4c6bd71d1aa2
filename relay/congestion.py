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
        inflated = rtt is not None and min_rtt is not None and rtt - min_rtt > QUEUEING_DELAY
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
            self.value = max(min(self.value, BACKOFF * through), MAX_STEP_DOWN * self.value)
            self.queue_hold_until = now + max(rtt or 0.0, 1.0) + 1.0
        elif (loss is None or loss < LOSS_LOW) and not (
                (growth_rtt := rtt if rtt is not None else last_rtt) is not None
                and min_rtt is not None and growth_rtt - min_rtt > QUEUEING_DELAY / 2.5):
            self.value = min(self.value * GROWTH, max(APP_LIMIT * sent_bps, self.value))
        self.value = min(max(self.value, MIN_BPS), MAX_BPS)
        return self.congested

    def bps(self, now: float) -> float:
        return self.value


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

    HISTORY = 512

    def on_sent(self, seq: int, now: float) -> None:
        self.sent_at.pop(seq, None)  # a wrapped sequence number goes to the end again
        self.sent_at[seq] = now
        if len(self.sent_at) > self.HISTORY:
            oldest = next(iter(self.sent_at))  # dicts keep insertion order: the oldest first
            del self.sent_at[oldest]
            self.resent_at.pop(oldest, None)

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
        self._losses: list[float] = []
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

    def on_remb(self, pc_id: str, bps: float) -> None:
        self.estimate.on_remb(pc_id, bps, self.clock())

    def on_loss(self, fraction: float, rtt: Optional[float] = None) -> None:
        """One receiver report block: fraction lost and round-trip time (or None).

        The first reports after a silence (an outage: nothing came back for
        OUTAGE_SECONDS) count the outage's packets as lost; that is not congestion, so
        they are left out (one second's worth)."""
        now = self.clock()
        if now - self._last_report > OUTAGE_SECONDS:
            self._skip_until = now + 1.0
        self._last_report = now
        if now < self._skip_until:
            return
        self._losses.append(fraction)
        if rtt is not None and rtt > 0:
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

    def update(self, relay_lag: float = 0.0) -> bool:
        """Once a second: fold the feedback into the estimate, set the pacer's rate.
        Returns whether the link showed congestion (loss, queueing, pacer drops).
        ``relay_lag``: how late the relay's own event loop woke at worst this second; that
        much of a round trip is the relay's own delay, not a queue on the link, and is taken
        off. (Dropping the second's round trips instead, as before, left a relay at load 15
        with 17 seconds of 25 unread: it never saw a 1.7 s queue, 2026-12-07 18:20.)"""
        if relay_lag > 0:
            self._rtts = [rtt - relay_lag for rtt in self._rtts if rtt - relay_lag > 0]
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
        # the mean over the period's report blocks (one per stream): the worst one of a
        # stream of 15 packets a second would read 3 % random loss as 13 % now and then
        self.loss = sum(self._losses) / len(self._losses) if self._losses else None
        self._losses.clear()
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
