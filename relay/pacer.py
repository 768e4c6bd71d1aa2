"""One subscriber's pacer (relay/congestion.py sets its rate from the downlink estimate): a token
bucket that sends audio at once and video when the budget allows, dropping a stream's backlog
when it grows too long. Pure logic on an injected clock and timer (no aiortc)."""

import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PACING_FACTOR = 1.0  # send no more than the estimate: what is sent into a link is the estimate's
# own (1.5 put 420 kbit/s and 1.1 put 266-346 kbit/s into a 300 kbit/s link, a standing queue).
# The encoded video it carries aims lower still (layers.LOW_HEADROOM, congestion.REMB_HEADROOM).
BURST_SECONDS = 0.02  # what may go at once after an idle spell
VIDEO_BACKLOG_SECONDS = 0.5  # more queued video than this much time at the pacing rate: flush
VIDEO_BACKLOG_MIN_BYTES = 24_000  # but never less: a keyframe must fit, or each flush would ask
# for another as large (a keyframe storm). 64 KB (a 640x480 keyframe) held 1.2-1.7 s of video in
# the pacer of a 300 kbit/s link; a starved subscriber now gets the low layer's small keyframes


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
        self.charged_bytes = 0
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
        self.count_audio(size)
        send()

    def count_audio(self, size: int) -> None:
        """``send_audio`` for a caller that sends the packet itself, at once."""
        self._refill()
        self._tokens -= size
        self.sent_bytes["audio"] += size

    def admit_video(self, size: int) -> bool:
        """True (and counted) if a video packet of ``size`` may go at once, as ``send_video``
        would send it: the caller sends it itself, with no callback made for it. False: hand
        it to ``queue_video``."""
        self._refill()
        if not self._queue and self._tokens > 0:
            self._tokens -= size
            self.sent_bytes["video"] += size
            return True
        return False

    def charge(self, size: int) -> None:
        """Count bytes sent outside the queue (retransmissions) against the budget."""
        self._refill()
        self._tokens -= size
        self.charged_bytes += size

    def send_video(self, size: int, send: Callable[[], Any], stream: Any) -> None:
        if self.admit_video(size):
            send()
            return
        self.queue_video(size, send, stream)

    def queue_video(self, size: int, send: Callable[[], Any], stream: Any) -> None:
        """The rest of ``send_video`` once ``admit_video`` said no: wait in order."""
        self._queue.append(_Queued(size, send, stream))
        self._queued_bytes += size
        if self._queued_bytes > max(self.rate_bps / 8 * VIDEO_BACKLOG_SECONDS, VIDEO_BACKLOG_MIN_BYTES):
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
