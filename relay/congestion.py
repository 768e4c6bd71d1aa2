"""Per-subscriber congestion control of the relay: the downlink estimate, the pacer, the
rules for retransmissions and the REMB sent up to a publisher. Pure logic on injected
clocks and callbacks (no aiortc): passthrough.py and room.py wire it to the peer
connections; tests/relay/test_congestion.py drives it alone.

A subscriber has one peer connection per publisher, all over the same access link, so
its estimate is the sum of what each of them reports (Chromium sends a receiver
estimated maximum bitrate, REMB, per connection, from abs-send-time) capped by a
loss-based rate from RTCP receiver reports (as GCC's sender side does). Everything the
relay sends that subscriber goes through one pacer at a rate a little above that
estimate; audio never waits for video.
"""

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

# --- downlink estimate ----------------------------------------------------------------

START_BPS = 1_000_000  # before any feedback (what a browser starts at, roughly)
MIN_BPS = 30_000
MAX_BPS = 20_000_000
LOSS_HIGH = 0.10  # above: the loss-based rate falls by half the loss
LOSS_LOW = 0.02  # below: it grows 8 % per report
REMB_STALE_SECONDS = 5.0  # a connection that said nothing for this long no longer counts


@dataclass
class DownlinkEstimate:
    """What one subscriber's link can carry, in bits per second.

    ``on_remb(pc_id, bps, now)``: a REMB from one of its connections (the latest per
    connection counts; the subscriber's figure is their sum). ``on_loss(fraction, now)``:
    a receiver report's fraction lost for what the relay sends it. ``bps(now)`` is the
    smaller of the REMB sum and the loss-based rate.
    """

    loss_based: float = START_BPS
    remb: dict[str, tuple[float, float]] = field(default_factory=dict)  # pc_id -> (bps, when)
    last_loss_update: float = float("-inf")

    def on_remb(self, pc_id: str, bps: float, now: float) -> None:
        self.remb[pc_id] = (max(float(bps), 0.0), now)

    def forget(self, pc_id: str) -> None:
        self.remb.pop(pc_id, None)

    def on_loss(self, fraction: float, now: float, sent_bps: Optional[float] = None) -> None:
        # one update per ~report interval: several connections report the same link
        if now - self.last_loss_update < 0.5:
            return
        self.last_loss_update = now
        if fraction > LOSS_HIGH:
            base = min(self.loss_based, sent_bps) if sent_bps else self.loss_based
            self.loss_based = base * (1 - 0.5 * fraction)
        elif fraction < LOSS_LOW:
            self.loss_based *= 1.08
        self.loss_based = min(max(self.loss_based, MIN_BPS), MAX_BPS)

    def remb_bps(self, now: float) -> Optional[float]:
        fresh = [bps for bps, when in self.remb.values() if now - when <= REMB_STALE_SECONDS]
        return sum(fresh) if fresh else None

    def bps(self, now: float) -> float:
        remb = self.remb_bps(now)
        value = self.loss_based if remb is None else min(remb, self.loss_based)
        return min(max(value, MIN_BPS), MAX_BPS)


# --- audio-only by itself --------------------------------------------------------------

AUDIO_BPS = 40_000  # one Opus stream as browsers send it (with FEC), headers included
VIDEO_MIN_BPS = 60_000  # below this per video stream, a picture is not worth sending
VIDEO_RESUME_BPS = 100_000  # per video stream, to try video again
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


def publisher_remb_bps(subscriber_shares: list[Optional[float]], floor_bps: float = VIDEO_MIN_BPS) -> Optional[float]:
    """The bitrate to ask a (non-simulcast) publisher's encoder for: the lowest share any
    subscriber still receiving its video can take (audio-only ones do not hold it down),
    never below ``floor_bps``. None: no subscriber says anything yet."""
    shares = [s for s in subscriber_shares if s is not None]
    if not shares:
        return None
    return max(min(shares) + AUDIO_BPS, floor_bps)


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
        self.sent_at[seq] = now
        if len(self.sent_at) > self.HISTORY:
            # dicts keep insertion order: the oldest first
            for old in list(self.sent_at)[: len(self.sent_at) - self.HISTORY]:
                del self.sent_at[old]
                self.resent_at.pop(old, None)

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


# --- pacer --------------------------------------------------------------------------------

PACING_FACTOR = 1.5  # send up to this times the estimate (headroom for the estimate to grow)
BURST_SECONDS = 0.02  # what may go at once after an idle spell
VIDEO_BACKLOG_SECONDS = 0.5  # more queued video than this much time at the pacing rate: flush


@dataclass
class _Queued:
    size: int
    send: Callable[[], Any]  # sends the packet; may return nothing
    stream: Any  # which video stream it belongs to (flushed together)


class Pacer:
    """Sends one subscriber's packets no faster than ``rate_bps`` (token bucket).

    ``send_audio`` goes at once (audio is never held behind video; it is counted against
    the budget, so video gives way). ``send_video`` goes at once when the budget allows
    and nothing is queued, else it waits in order; the queue drains on a timer
    (``schedule(delay, callback)``, e.g. ``loop.call_later``). When more than
    VIDEO_BACKLOG_SECONDS of video waits, the queue of the stream that overflows is
    dropped and ``on_overflow(stream)`` called (the caller makes that stream restart at a
    keyframe). ``flush(stream)`` drops a stream's queued packets at once (audio-only).
    """

    def __init__(self, rate_bps: float, clock: Callable[[], float],
                 schedule: Callable[[float, Callable[[], None]], Any],
                 on_overflow: Callable[[Any], None] = lambda stream: None) -> None:
        self.rate_bps = float(rate_bps)
        self._clock = clock
        self._schedule = schedule
        self._on_overflow = on_overflow
        self._tokens = self.rate_bps / 8 * BURST_SECONDS  # bytes
        self._last = clock()
        self._queue: collections.deque[_Queued] = collections.deque()
        self._queued_bytes = 0
        self._timer: Any = None
        self.sent_bytes = {"audio": 0, "video": 0}
        self.dropped_packets = 0

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def set_rate(self, rate_bps: float) -> None:
        self._refill()
        self.rate_bps = max(float(rate_bps), 8_000.0)

    def _refill(self) -> None:
        now = self._clock()
        burst = self.rate_bps / 8 * BURST_SECONDS
        self._tokens = min(self._tokens + (now - self._last) * self.rate_bps / 8, max(burst, 1500))
        self._last = now

    def send_audio(self, size: int, send: Callable[[], Any]) -> None:
        self._refill()
        self._tokens -= size
        self.sent_bytes["audio"] += size
        send()

    def charge(self, size: int) -> None:
        """Count bytes sent outside the queue (retransmissions) against the budget."""
        self._refill()
        self._tokens -= size

    def send_video(self, size: int, send: Callable[[], Any], stream: Any) -> None:
        self._refill()
        if not self._queue and self._tokens > 0:
            self._tokens -= size
            self.sent_bytes["video"] += size
            send()
            return
        self._queue.append(_Queued(size, send, stream))
        self._queued_bytes += size
        if self._queued_bytes * 8 > self.rate_bps * VIDEO_BACKLOG_SECONDS:
            self.flush(stream)
            self._on_overflow(stream)
            return
        self._arm()

    def flush(self, stream: Any = None) -> int:
        """Drop queued video of ``stream`` (all streams if None); returns packets dropped."""
        kept = collections.deque(q for q in self._queue if stream is not None and q.stream is not stream)
        dropped = len(self._queue) - len(kept)
        self._queue = kept
        self._queued_bytes = sum(q.size for q in kept)
        self.dropped_packets += dropped
        return dropped

    def _arm(self) -> None:
        if self._timer is not None or not self._queue:
            return
        deficit = max(self._queue[0].size - self._tokens, 1.0)
        delay = min(max(deficit * 8 / self.rate_bps, 0.002), 0.1)
        self._timer = self._schedule(delay, self._drain)

    def _drain(self) -> None:
        self._timer = None
        self._refill()
        while self._queue and self._tokens > 0:
            item = self._queue.popleft()
            self._queued_bytes -= item.size
            self._tokens -= item.size
            self.sent_bytes["video"] += item.size
            item.send()
        self._arm()

    def close(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        cancel = getattr(self._timer, "cancel", None)
        if cancel is not None:
            cancel()
        self._timer = None


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
        self.loss: Optional[float] = None

    def estimate_bps(self) -> float:
        return self.estimate.bps(self.clock())

    def on_remb(self, pc_id: str, bps: float) -> None:
        self.estimate.on_remb(pc_id, bps, self.clock())
        self.pacer.set_rate(self.estimate_bps() * PACING_FACTOR)

    def on_loss(self, fraction: float) -> None:
        self.loss = fraction
        self.estimate.on_loss(fraction, self.clock())
        self.pacer.set_rate(self.estimate_bps() * PACING_FACTOR)

    def close(self) -> None:
        self.pacer.close()
