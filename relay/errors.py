"""Errors the relay raises; each message says what the client should change."""


class RelayError(Exception):
    """Base class: a request to the relay was refused; the room is unaffected."""


class InvalidSdp(RelayError):
    """The session description could not be parsed or is not usable."""


class UnsupportedEncryption(InvalidSdp):
    """The offer uses SDES (a=crypto) keying instead of DTLS-SRTP."""


class NoCommonCodec(InvalidSdp):
    """The offer does not contain the codec the room forwards."""


class UnknownParticipant(RelayError):
    """The participant is not in the room."""


class UnknownPeerConnection(RelayError):
    """The pc_id does not name a pending subscription of this participant."""


class RoomClosed(RelayError):
    """The room was closed."""
