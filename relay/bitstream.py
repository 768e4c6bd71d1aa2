"""What the relay needs to know about VP8 and H264 bitstreams: where a frame starts and
whether it can be decoded on its own. No aiortc internals here."""

import random
from typing import Optional

VP8_PACKET_MAX = 1300  # payload bytes per RTP packet, descriptor included (aiortc's PACKET_MAX)


def h264_nal_units(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream (what aiortc's depayloader yields) into NAL units."""
    units, start = [], None
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        if start is not None:
            end = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
            units.append(data[start:end])
        start = pos + 3
        pos = data.find(b"\x00\x00\x01", start)
    if start is not None and start < len(data):
        units.append(data[start:])
    return [u for u in units if u]


def _h264_slice_type(nal: bytes) -> Optional[int]:
    """slice_type of a coded slice NAL unit (H.264 7.3.3), from its first two ue(v)."""
    rbsp = nal[1:16].replace(b"\x00\x00\x03", b"\x00\x00")
    bits = "".join(f"{byte:08b}" for byte in rbsp)
    values, pos = [], 0
    for _ in range(2):
        zeros = 0
        while pos < len(bits) and bits[pos] == "0":
            zeros, pos = zeros + 1, pos + 1
        if pos + zeros >= len(bits):
            return None
        values.append(int(bits[pos:pos + zeros + 1], 2) - 1)
        pos += zeros + 1
    return values[1] % 5


def h264_is_intra(data: bytes) -> bool:
    """True if the access unit is an IDR or made only of I slices. aiortc's own encoder
    answers a PLI with a non-IDR I picture, so both must count as a picture to start on."""
    slices = [n for n in h264_nal_units(data) if n[0] & 0x1F in (1, 5)]
    if any(n[0] & 0x1F == 5 for n in slices):
        return True
    return bool(slices) and all(_h264_slice_type(n) in (2, 4) for n in slices)


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """True if the encoded frame can be decoded without any earlier frame (for H264,
    given the parameter sets, which Publication adds when the frame lacks them)."""
    if not data:
        return False
    if codec_name == "VP8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
        return data[0] & 0x01 == 0
    if codec_name == "H264":
        return h264_is_intra(data)
    return True  # audio: every frame stands alone


def starts_frame(codec_name: str, payload: bytes) -> bool:
    """True if this RTP payload is the first packet of a video frame."""
    if len(payload) < 2:
        return False
    if codec_name == "VP8":
        # RFC 7741 section 4.2: S bit set and partition index 0
        return bool(payload[0] & 0x10) and payload[0] & 0x07 == 0
    if codec_name == "H264":
        nal_type = payload[0] & 0x1F
        if nal_type == 28:  # FU-A: its start bit
            return bool(payload[1] & 0x80)
        # a single NAL unit or STAP-A: a frame start unless it is a second slice
        return nal_type in (24, 5, 6, 7, 8, 9) or (nal_type == 1 and payload[1] & 0x80 != 0)
    return True


class Vp8Packetizer:
    """A VP8 frame cut into RTP payloads (RFC 7741) exactly as aiortc's ``Vp8Encoder.pack``
    cuts it (a 4-byte descriptor: X and I set, a 15-bit picture id that counts frames; S on
    the first packet), without the ``av.Packet`` and descriptor objects it goes through."""

    def __init__(self) -> None:
        self.picture_id = random.randint(0, (1 << 15) - 1)

    def pack(self, data: bytes) -> list[bytes]:
        picture = (0x8000 | self.picture_id).to_bytes(2, "big")
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        step = VP8_PACKET_MAX - 4
        rest = b"\x80\x80" + picture
        payloads = [(b"\x90\x80" + picture) + data[:step]]
        for pos in range(step, len(data), step):
            payloads.append(rest + data[pos:pos + step])
        return payloads
