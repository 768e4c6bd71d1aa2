"""Media relay for live rooms: forwards each participant's encoded audio and video to
every other participant through aiortc, without decoding it. Imports no Django."""

from .config import RelayConfig
from .errors import (
    InvalidSdp,
    NoCommonCodec,
    RelayError,
    RoomClosed,
    UnknownParticipant,
    UnknownPeerConnection,
    UnsupportedEncryption,
)
from .room import Relay, RelayRoom

__all__ = [
    "InvalidSdp",
    "NoCommonCodec",
    "Relay",
    "RelayConfig",
    "RelayError",
    "RelayRoom",
    "RoomClosed",
    "UnknownParticipant",
    "UnknownPeerConnection",
    "UnsupportedEncryption",
]
