"""Checks on session descriptions that arrive from clients, before aiortc sees them."""

from aiortc import sdp as aiortc_sdp

from .errors import InvalidSdp, NoCommonCodec, UnsupportedEncryption

MAX_SDP_BYTES = 64 * 1024


def parse_client_description(text: object, *, kind: str) -> aiortc_sdp.SessionDescription:
    """Parse an offer or answer from a client and refuse what the relay cannot use.

    ``kind`` is "offer" or "answer", used in messages only. Raises InvalidSdp (or a
    subclass) with a message the client developer can act on.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidSdp(f"the {kind} is empty; send the SDP text of the {kind}")
    if len(text) > MAX_SDP_BYTES:
        raise InvalidSdp(f"the {kind} is larger than {MAX_SDP_BYTES} bytes")
    if not text.lstrip().startswith("v=0"):
        raise InvalidSdp(f"the {kind} is not SDP: it must start with 'v=0'")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc raises ValueError, IndexError, KeyError...
        raise InvalidSdp(f"the {kind} could not be parsed: {exc}") from exc
    media = [m for m in description.media if m.kind in ("audio", "video")]
    if not media:
        raise InvalidSdp(f"the {kind} has no audio or video section (m=audio / m=video)")
    for m in media:
        has_fingerprint = m.dtls is not None and bool(m.dtls.fingerprints)
        if not has_fingerprint and "a=crypto:" in text:
            raise UnsupportedEncryption(
                f"the {kind} uses SDES keys (a=crypto) without a DTLS fingerprint; the relay "
                "only accepts DTLS-SRTP (a=fingerprint and a=setup), as WebRTC browsers send"
            )
        if not has_fingerprint:
            raise InvalidSdp(f"the {kind}'s m={m.kind} section has no a=fingerprint (DTLS-SRTP)")
        if not m.ice.usernameFragment or not m.ice.password:
            raise InvalidSdp(f"the {kind}'s m={m.kind} section has no a=ice-ufrag/a=ice-pwd")
        if m.port == 0:
            continue
        if not m.rtp.codecs:
            raise InvalidSdp(f"the {kind}'s m={m.kind} section lists no codec (a=rtpmap)")
    return description


def offered_codecs(description: aiortc_sdp.SessionDescription, kind: str) -> list[str]:
    """Codec names of the first active m-line of ``kind``, in the client's order."""
    for m in description.media:
        if m.kind == kind and m.port != 0:
            return [c.name for c in m.rtp.codecs]
    return []


def choose_video_codec(
    description: aiortc_sdp.SessionDescription, preference: tuple[str, ...], fixed: str | None
) -> str | None:
    """The room's video codec: ``fixed`` if the room already has one, else the first of
    ``preference`` that the offer contains. None if the offer has no video."""
    offered = [name.upper() for name in offered_codecs(description, "video")]
    if not offered:
        return fixed
    if fixed is not None:
        if fixed.upper() not in offered:
            raise NoCommonCodec(
                f"this room forwards video as {fixed}; the offer only has {sorted(set(offered))}"
            )
        return fixed
    for name in preference:
        if name.upper() in offered:
            return name
    raise NoCommonCodec(
        f"the offer's video codecs {sorted(set(offered))} include none of {list(preference)}"
    )


def check_audio_codec(description: aiortc_sdp.SessionDescription) -> None:
    offered = [name.lower() for name in offered_codecs(description, "audio")]
    if offered and "opus" not in offered:
        raise NoCommonCodec(f"the relay forwards audio as Opus; the offer only has {offered}")
