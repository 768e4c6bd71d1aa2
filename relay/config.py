"""Settings of the media relay: ICE servers, loopback candidates, codec choice."""

from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCIceServer

# Codecs the relay can forward without decoding, by MIME subtype as aiortc names them.
FORWARDABLE_VIDEO_CODECS = ("VP8", "H264")
FORWARDABLE_AUDIO_CODECS = ("opus",)


@dataclass(frozen=True)
class RelayConfig:
    """How the relay builds its peer connections.

    ice_servers: STUN/TURN servers handed to aiortc. Empty means host candidates only;
        aiortc would otherwise ask a public STUN server, which an offline machine cannot reach.
    loopback: also offer a 127.0.0.1 host candidate (tests; a browser started with
        --allow-loopback-in-peer-connection). Neither aiortc nor Chromium does by default.
    video_codecs: preference order; a room uses the first one its first publisher offers
        and keeps it (one codec per room, so frames can be forwarded as they are).
    keyframe_request_interval: seconds; at most one PLI per publisher per interval, so that
        many subscribers asking at once do not make the publisher send a keyframe storm.
    subscriber_queue_frames: frames kept for a subscriber whose connection is not up yet
        (sent as soon as it is); past that many, the relay drops them and waits for the
        next keyframe. Once connected, frames are sent as they arrive and never queue.
    quality_interval: seconds between "quality" messages to every participant; 0 = never.
    """

    ice_servers: list[RTCIceServer] = field(default_factory=list)
    loopback: bool = False
    video_codecs: tuple[str, ...] = FORWARDABLE_VIDEO_CODECS
    keyframe_request_interval: float = 0.25
    subscriber_queue_frames: int = 60
    quality_interval: float = 0.0

    def __post_init__(self) -> None:
        unknown = [c for c in self.video_codecs if c not in FORWARDABLE_VIDEO_CODECS]
        if unknown or not self.video_codecs:
            raise ValueError(
                f"video_codecs must be a non-empty subset of {FORWARDABLE_VIDEO_CODECS}, "
                f"got {self.video_codecs}"
            )

    def rtc_configuration(self) -> RTCConfiguration:
        return RTCConfiguration(iceServers=list(self.ice_servers))
