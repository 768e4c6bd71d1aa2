"""What a relay room knows of its participants and of its downstream connections (room.py)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from aiortc import RTCPeerConnection, RTCRtpSender

from .congestion import SubscriberLink
from .fanout import ForwardingTrack, Publication

Message = dict[str, Any]
SendCallback = Callable[[str, Message], Optional[Awaitable[None]]]


@dataclass
class Downstream:
    """The relay's peer connection carrying one publisher's media to one subscriber."""

    pc_id: str
    publisher_id: str
    subscriber_id: str
    pc: RTCPeerConnection
    tracks: dict[str, ForwardingTrack]
    senders: dict[str, RTCRtpSender]
    answered: bool = False


@dataclass
class Participant:
    participant_id: str
    upstream: Optional[RTCPeerConnection] = None
    publications: dict[str, Publication] = field(default_factory=dict)
    audio_only: bool = False  # asked for by the participant
    auto_audio_only: bool = False  # decided by the relay: its downlink cannot carry video
    # (monotonic time, packets received, packets lost) on the upstream, for windowed loss
    upstream_counts: list[tuple[float, int, int]] = field(default_factory=list)
    link: Optional[SubscriberLink] = None  # its downlink: estimate and pacer

    @property
    def video_paused(self) -> bool:
        return self.audio_only or self.auto_audio_only
