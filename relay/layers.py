"""Which layer of a publisher's video each subscriber gets, the publisher's own picture
(passthrough) or the relay-made low layer (relay/low_layer.py), and the size and bitrate
the low layer is encoded at. Pure logic on injected times (no aiortc, no codec):
room_control.py applies it once a second, tests/relay/test_layers.py drives it alone.

Publishers send one layer (aiortc 1.16 takes no simulcast), so a subscriber whose downlink
cannot carry it gets a copy that the relay decodes, scales and encodes once per publisher,
at what its downlink allots that picture. The well-connected subscribers keep the
publisher's own picture: a starved subscriber no longer holds the publisher's REMB down.
"""

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Optional, TypeVar

Key = TypeVar("Key", bound=Hashable)

# --- the choice per (subscriber, publisher) ----------------------------------------------


def video_allocation(video_bps: float, source_bps: dict[Key, Optional[float]]) -> dict[Key, float]:
    """How much each picture a subscriber receives could have of ``video_bps`` (its estimate
    less its audio), max-min fair: the pictures that need less than an equal split (a weak
    uplink's 250 kbit/s) take what they need, the others divide the rest. A picture's figure
    is its fair level, not capped by its own rate (so the REMB ceiling built on it does not
    follow the encoder down). A source of unknown rate (None) counts as needing it all."""
    allocation: dict[Key, float] = {}
    left = max(video_bps, 0.0)
    ordered = sorted(source_bps.items(), key=lambda item: float("inf") if item[1] is None else item[1])
    for index, (key, wanted) in enumerate(ordered):
        allocation[key] = fair = left / (len(ordered) - index)
        left -= fair if wanted is None else min(wanted, fair)
    return allocation

FULL_HEADROOM = 0.7  # to the low layer when the share is under this much of the source's rate:
# a loopback link on a busy machine backs off on queueing now and then (to 0.85 x what it sent),
# which must not cost that subscriber its 640x480 picture; in between, the REMB ceiling applies
UP_FACTOR = 1.3  # back to the source when the share carries this much more than its rate
PROBE_SHARE = 0.5  # or, on a clear link, when the share carries half of it (on the low layer the
# estimate can only grow to 1.5 x what the low layer sends, so it cannot show the full rate)
PROBE_FIRST = 10.0  # seconds on the low layer before such an attempt
PROBE_MAX = 60.0  # the wait doubles after each failed attempt, up to this
TRIAL_SECONDS = 15.0  # congestion this soon after going back to the source: the attempt failed


@dataclass
class LayerChoice:
    """One subscriber's choice for one publisher's video.

    ``update(share_bps, source_bps, congested_recently, now)`` once a second returns
    whether the subscriber should get the low layer:
    - to the low layer when its link showed congestion lately (``congested_recently``: loss
      or queueing, SubscriberLink.link_congested_recently) and its share of the estimate
      for this picture is under FULL_HEADROOM of the source's measured rate;
    - back to the source when the share carries UP_FACTOR times the source's rate, or when
      the link has been clear (not ``congested_recently``), the share carries PROBE_SHARE
      of the source's rate and PROBE_FIRST seconds have passed on the low layer: an attempt,
      since a low layer that fits the link cannot show by itself that the source would fit
      too. An attempt that ends in congestion within TRIAL_SECONDS doubles that wait (up
      to PROBE_MAX).
    Unknown figures (None) change nothing.
    """

    low: bool = False
    since: float = 0.0  # when the current layer was chosen
    probe_wait: float = PROBE_FIRST
    trial_since: Optional[float] = None  # back on the source, on trial, since then

    def update(self, *, share_bps: Optional[float], source_bps: Optional[float],
               congested_recently: bool, now: float) -> bool:
        if share_bps is None or not source_bps:
            return self.low
        if not self.low:
            if congested_recently and share_bps < source_bps * FULL_HEADROOM:
                failed = self.trial_since is not None and now - self.trial_since < TRIAL_SECONDS
                self.probe_wait = min(self.probe_wait * 2, PROBE_MAX) if failed else PROBE_FIRST
                self.low, self.since, self.trial_since = True, now, None
            return self.low
        fits = share_bps >= source_bps * UP_FACTOR
        attempt = (not congested_recently and share_bps >= source_bps * PROBE_SHARE
                   and now - self.since >= self.probe_wait)
        if fits or attempt:
            self.low, self.since, self.trial_since = False, now, now
        return self.low


# --- how the low layer is encoded ----------------------------------------------------------

LOW_HEADROOM = 0.8  # of the share: RTP headers, the encoder's overshoot and retransmissions
# come on top of the encoder's target (the same reasoning as congestion.REMB_HEADROOM)
LOW_MIN_BPS = 30_000  # libvpx's VP8 keeps its frame rate down to about this at 160x120
LOW_MAX_BPS = 800_000  # more than a 320x240 picture needs
WIDE_FROM_BPS = 80_000  # 320 px wide from this target up ...
NARROW_UNDER_BPS = 55_000  # ... 160 px under this (between: the width stays as it is)
WIDE, NARROW = 320, 160
RATE_DOWN = 0.8  # a target this far under the encoder's rate applies at once
RATE_UP = 1.25  # one this far above it applies after RATE_UP_AFTER seconds at the old rate
RATE_UP_AFTER = 3.0  # (each change restarts libvpx, which costs a keyframe)


def low_layer_target_bps(shares: list[float]) -> float:
    """The encoder target of a publisher's low layer: LOW_HEADROOM of the lowest share among
    the subscribers that receive it, within [LOW_MIN_BPS, LOW_MAX_BPS]."""
    return min(max(min(shares) * LOW_HEADROOM, LOW_MIN_BPS), LOW_MAX_BPS)


def low_layer_width(target_bps: float, current: Optional[int]) -> int:
    """The low layer's width for a target bitrate, with a dead band against flapping."""
    if target_bps >= WIDE_FROM_BPS:
        return WIDE
    if target_bps < NARROW_UNDER_BPS:
        return NARROW
    return current or NARROW


def scaled_size(source_width: int, source_height: int, max_width: int) -> tuple[int, int]:
    """The source's aspect ratio at no more than ``max_width`` (never upscaled), even sizes."""
    if source_width <= max_width:
        width, height = source_width, source_height
    else:
        width, height = max_width, round(source_height * max_width / source_width)
    return max(width - width % 2, 2), max(height - height % 2, 2)


@dataclass
class EncoderRate:
    """The bitrate the low layer's encoder runs at. ``propose(target_bps, now)`` returns
    True when it changed: down at once (the link got worse), up only after RATE_UP_AFTER
    seconds, and only past the dead band [RATE_DOWN, RATE_UP] around the current rate."""

    bps: float
    changed_at: float

    def propose(self, target_bps: float, now: float) -> bool:
        down = target_bps < self.bps * RATE_DOWN
        up = target_bps > self.bps * RATE_UP and now - self.changed_at >= RATE_UP_AFTER
        if down or up:
            self.bps, self.changed_at = target_bps, now
            return True
        return False
