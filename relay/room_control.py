"""A relay room's quality reports and congestion control (once per CONTROL_TICK: the video gap
timers; once a second: each subscriber's audio-only decision, its layer of each publisher's
video (the publisher's own or the relay-made low layer) and each publisher's REMB ceiling),
as a mixin of RelayRoom (room.py), which owns the state read here."""

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Optional

from . import rtcp_feedback
from .config import RelayConfig
from .congestion import AUDIO_BPS, LOSS_LOW, publisher_remb_bps, video_share_bps
from .fanout import ForwardingTrack, Publication
from .layers import low_layer_target_bps, video_allocation
from .participants import Downstream, Message, Participant

logger = logging.getLogger("relay.room")  # the room's log, as before room.py was split

LOSS_WINDOW_SECONDS = 5.0
CONTROL_TICK = 0.1


def _windowed_loss(participant: Participant, received: int, lost: int) -> tuple[int, int]:
    """(lost, expected) over about the last LOSS_WINDOW_SECONDS, so that a link that just
    got worse shows at once instead of being averaged over the whole call."""
    now = time.monotonic()
    counts = participant.upstream_counts
    if counts and received < counts[-1][1]:
        counts.clear()  # a new upstream after a reconnect: its counters start again
    counts.append((now, received, lost))
    while len(counts) > 2 and now - counts[1][0] >= LOSS_WINDOW_SECONDS:
        counts.pop(0)
    _, first_received, first_lost = counts[0] if len(counts) > 1 else (0, 0, 0)
    window_lost = max(lost - first_lost, 0)
    return window_lost, (received - first_received) + window_lost


class RoomControl:
    """Quality and congestion control of a RelayRoom (its methods; the room holds the state)."""

    room_id: str
    config: RelayConfig
    _participants: dict[str, Participant]
    _closed: bool
    _quality_task: Optional[asyncio.Task]
    _loop_lag: float

    if TYPE_CHECKING:  # RelayRoom's own, in room.py
        def downstreams(self, subscriber_id: Optional[str] = None) -> list[Downstream]: ...
        async def quality(self) -> dict[str, dict[str, Any]]: ...
        def _pause_video_to(self, participant: Participant) -> None: ...
        def _broadcast(self, message: Message, exclude: Optional[str] = None) -> None: ...

    # --- quality -----------------------------------------------------------------

    async def _participant_quality(self, participant: Participant) -> dict[str, Any]:
        received = lost = 0
        if participant.upstream is not None:
            for receiver in participant.upstream.getReceivers():
                for stat in (await receiver.getStats()).values():
                    if stat.type == "inbound-rtp":
                        received += stat.packetsReceived
                        lost += max(stat.packetsLost, 0)
        rtts, fractions = [], []
        for downstream in self.downstreams(participant.participant_id):
            for sender in downstream.senders.values():
                for stat in (await sender.getStats()).values():
                    if stat.type == "remote-inbound-rtp":
                        if stat.roundTripTime is not None:
                            rtts.append(stat.roundTripTime)
                        fractions.append(stat.fractionLost / 256)
        window_lost, window_total = _windowed_loss(participant, received, lost)
        return {
            "upstream_loss": round(window_lost / window_total, 4) if window_total else None,
            "downstream_loss": max(fractions) if fractions else None,
            "rtt_ms": round(1000 * sum(rtts) / len(rtts), 1) if rtts else None,
            "upstream_state": participant.upstream.connectionState if participant.upstream else None,
            "audio_only": participant.audio_only,
            "auto_audio_only": participant.auto_audio_only,
            "downlink_kbps": round(participant.link.estimate_bps() / 1000) if participant.link else None,
            "downlink_backoffs": dict(participant.link.estimate.reasons) if participant.link else None,
        }

    def _start_quality_reports(self) -> None:
        if self.config.quality_interval > 0 and self._quality_task is None:
            self._quality_task = asyncio.ensure_future(self._report_quality())

    async def _report_quality(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.config.quality_interval)
            try:
                report = await self.quality()
            except Exception:  # a peer connection closing under us; try again next time
                logger.exception("room %s: quality report failed", self.room_id)
                continue
            self._broadcast({"type": "quality", "participants": report})

    # --- congestion control ------------------------------------------------------

    async def _control(self) -> None:
        """Every CONTROL_TICK: the video gap timers of every publication. Every second:
        each subscriber's audio-only decision and each publisher's REMB ceiling."""
        ticks = 0
        loop = asyncio.get_running_loop()
        while not self._closed:
            asked = loop.time()
            await asyncio.sleep(CONTROL_TICK)
            # how late the loop woke us: a relay starved of CPU delays every packet it sends,
            # which its subscribers' round trips show; that is not a queue on their links
            self._loop_lag = max(self._loop_lag, loop.time() - asked - CONTROL_TICK)
            ticks += 1
            try:
                for participant in list(self._participants.values()):
                    rtt = self._rtt_to(participant.participant_id)
                    for publication in participant.publications.values():
                        publication.rtt = rtt
                        publication.tick()
                if ticks % round(1 / CONTROL_TICK) == 0:
                    self._adapt()
            except Exception:  # a connection closing under us; go on next tick
                logger.exception("room %s: congestion control failed", self.room_id)

    def _rtt_to(self, participant_id: str) -> Optional[float]:
        senders = [sender for d in self.downstreams(participant_id) for sender in d.senders.values()]
        for sender in senders:
            rtcp_feedback.note_sender_report(sender)
        rtts = [rtt for sender in senders if (rtt := rtcp_feedback.sender_rtt(sender)) is not None]
        return sum(rtts) / len(rtts) if rtts else None

    def _video_share(self, subscriber: Participant) -> Optional[float]:
        """What each video stream to this subscriber can have (bps), or None (no video)."""
        if subscriber.link is None:
            return None
        mine = self.downstreams(subscriber.participant_id)
        audio = sum(1 for d in mine if "audio" in d.tracks)
        video = sum(1 for d in mine if "video" in d.tracks)
        return video_share_bps(subscriber.link.estimate_bps(), audio, video)

    def _allocation(self, subscriber: Participant) -> dict[Publication, float]:
        """What each picture this subscriber receives can have (layers.video_allocation),
        from the publishers' rates measured this second."""
        if subscriber.link is None:
            return {}
        mine = self.downstreams(subscriber.participant_id)
        audio = sum(1 for d in mine if "audio" in d.tracks)
        rates: dict[Publication, Optional[float]] = {}
        for d in mine:
            publisher = self._participants.get(d.publisher_id)
            publication = publisher.publications.get("video") if publisher is not None else None
            if "video" in d.tracks and publication is not None:
                rates[publication] = publication.rate_bps
        # the audio as sent (Chromium's Opus with FEC came to 55 kbit/s a stream with its
        # headers, not the 40 assumed), so that the pictures' shares leave it room
        audio_bps = max(AUDIO_BPS * audio, subscriber.link.audio_bps)
        return video_allocation(subscriber.link.estimate_bps() - audio_bps, rates)

    def _adapt(self) -> None:
        """Once a second. A subscriber's estimate counts for its own audio-only switch only
        while its link shows loss, and for the publishers' ceiling while its link showed
        congestion (loss, queueing delay, pacer drops) within REMB_HOLD_SECONDS: see
        SubscriberLink.limits_publishers."""
        now = time.monotonic()
        lag, self._loop_lag = self._loop_lag, 0.0
        for participant in self._participants.values():
            if participant.link is not None:
                participant.link.update(relay_lag=lag)
        self._auto_audio_only(now)
        for participant in self._participants.values():
            publication = participant.publications.get("video")
            if publication is not None:
                publication.rate_bps = publication.measure_rate(now)
        allocations = {p.participant_id: self._allocation(p) for p in self._participants.values()}
        self._choose_layers(now, allocations)
        self._send_rembs(allocations)

    def _auto_audio_only(self, now: float) -> None:
        """Each subscriber's audio-only decision (congestion.AutoAudioOnly), told to everyone."""
        for subscriber in list(self._participants.values()):
            if subscriber.link is None:
                continue
            share = self._video_share(subscriber)
            losing = subscriber.link.loss is not None and subscriber.link.loss >= LOSS_LOW
            if not losing and not subscriber.auto_audio_only:
                # not limited by its link: no reason to go audio only. Queueing delay alone
                # does not count here: on a busy machine a loopback link shows it too
                share = None
            decision = subscriber.link.auto.update(share, subscriber.link.loss, now)
            if decision is not None and decision != subscriber.auto_audio_only:
                subscriber.auto_audio_only = decision
                self._pause_video_to(subscriber)
                self._broadcast({
                    "type": "downlink", "participant": subscriber.participant_id,
                    "audio_only": decision, "reason": "bandwidth",
                    "estimate_kbps": round(subscriber.link.estimate_bps() / 1000)})

    def _send_rembs(self, allocations: dict[str, dict[Publication, float]]) -> None:
        """Each publisher's REMB ceiling (congestion.publisher_remb_bps)."""
        for publisher in list(self._participants.values()):
            publication = publisher.publications.get("video")
            if publication is None:
                continue
            cap = publisher_remb_bps(self._remb_shares(publication, allocations))
            publication.remb_cap = cap
            if cap is not None:
                publication.send_remb(cap)

    def _video_downstreams(self) -> list[tuple[Participant, ForwardingTrack, Publication]]:
        """(subscriber, its video track, the publication it copies) of every downstream."""
        out = []
        for d in self.downstreams():
            subscriber, publisher = self._participants.get(d.subscriber_id), self._participants.get(d.publisher_id)
            track = d.tracks.get("video")
            publication = publisher.publications.get("video") if publisher is not None else None
            if subscriber is not None and track is not None and publication is not None:
                out.append((subscriber, track, publication))
        return out

    def _remb_shares(self, of: Publication, allocations: dict[str, dict[Publication, float]]) -> list[Optional[float]]:
        """The shares that hold a publisher's REMB ceiling: what subscribers of its own
        picture whose link showed congestion lately can give it (not those on its low
        layer, nor paused ones)."""
        return [allocations[subscriber.participant_id].get(publication)
                for subscriber, track, publication in self._video_downstreams()
                if publication is of and subscriber.link is not None and subscriber.link.limits_publishers()
                and not subscriber.video_paused and not (track.low or track.want_low)]

    def _choose_layers(self, now: float, allocations: dict[str, dict[Publication, float]]) -> None:
        """Once a second: each subscriber's layer of each publisher's video (layers.py), the
        low layers started, retargeted or stopped accordingly."""
        wanted: dict[Publication, list[float]] = {}
        choices = []
        for subscriber, track, publication in self._video_downstreams():
            if not publication.can_make_low_layer or subscriber.link is None or subscriber.video_paused:
                continue
            share = allocations[subscriber.participant_id].get(publication)
            low = track.choice.update(share_bps=share, source_bps=publication.rate_bps,
                                      congested_recently=subscriber.link.link_congested_recently(), now=now)
            if low and share is not None:
                wanted.setdefault(publication, []).append(share)
            choices.append((track, low))
        for publication, shares in wanted.items():
            publication.start_low_layer(low_layer_target_bps(shares))
        for track, low in choices:
            track.set_want_low(low)
        for participant in self._participants.values():
            publication = participant.publications.get("video")
            if publication is not None and publication not in wanted and not publication.needs_low_layer():
                publication.stop_low_layer()
