"""How the relay negotiates codecs with aiortc: Opus with in-band FEC and DTX, and only the
room's video codec offered to a subscriber (room.py). ``opus_fec_dtx`` sets a transceiver's
private ``_codecs`` (aiortc 1.16.0; see relay/passthrough.py)."""

import dataclasses
from typing import Optional

from aiortc import RTCRtpSender

# Opus as the relay negotiates it: in-band FEC (a lost packet is rebuilt from the next
# one) and DTX (silence costs almost nothing), RFC 7587 section 6.1.
OPUS_FMTP = {"minptime": 10, "useinbandfec": 1, "usedtx": 1}


def with_opus_fmtp(sdp: str) -> str:
    """The relay's offer with OPUS_FMTP on its Opus payload type (aiortc's
    setCodecPreferences takes only its capabilities as they are, without parameters)."""
    lines = sdp.split("\r\n")
    payload_types = [line.split()[0].split(":")[1] for line in lines
                     if line.lower().startswith("a=rtpmap:") and " opus/" in line.lower()]
    fmtp = ";".join(f"{k}={v}" for k, v in OPUS_FMTP.items())
    out = []
    for line in lines:
        if any(line.startswith(f"a=fmtp:{pt} ") for pt in payload_types):
            continue
        out.append(line)
        for pt in payload_types:
            if line.startswith(f"a=rtpmap:{pt} "):
                out.append(f"a=fmtp:{pt} {fmtp}")
    return "\r\n".join(out)


def opus_fec_dtx(transceiver) -> None:
    """Ask for Opus in-band FEC and DTX on this transceiver's Opus codec (its SDP fmtp)."""
    codecs = []
    for codec in transceiver._codecs:
        if codec.name.lower() == "opus":
            codec = dataclasses.replace(codec, parameters={**codec.parameters, **OPUS_FMTP})
        codecs.append(codec)
    transceiver._codecs = codecs


def prefer_codec(transceiver, codec_name: Optional[str]) -> None:
    """Negotiate only ``codec_name`` (and its RTX) on this transceiver."""
    if codec_name is None:
        return
    capabilities = RTCRtpSender.getCapabilities(transceiver.kind)
    wanted = [c for c in capabilities.codecs if c.name.lower() == codec_name.lower()]
    rtx = [c for c in capabilities.codecs if c.name.lower() == "rtx"]
    transceiver.setCodecPreferences(wanted + rtx)
