"""The receive side of the passthrough: complete encoded frames out of an aiortc receiver.

The buffers here take the place of aiortc's JitterBuffer (relay/passthrough.py installs
them, ``tap_receiver``, and lists the aiortc internals that involves): a video frame is
released as soon as it is complete, and a gap is re-NACKed and then given up by the rules
of ``VideoForwardingBuffer``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add, uint16_gt

from .bitstream import h264_nal_units, is_keyframe, starts_frame

# A gap in a publisher's video is given up after this many round trips (at least
# GAP_GIVE_UP_MIN seconds): NACK retransmissions fill a gap within one round trip or two.
GAP_GIVE_UP_RTTS = 2.0
GAP_GIVE_UP_MIN = 0.1
# A memory bound only: the timers above give a gap up long before this many packets.
MAX_VIDEO_GAP_PACKETS = 1024


@dataclass
class EncodedFrame:
    data: bytes
    timestamp: int  # RTP timestamp, unwrapped, counted from the stream's first frame
    ssrc: int
    keyframe: bool


class _TimestampUnwrapper:
    def __init__(self) -> None:
        self._origin: Optional[int] = None
        self._last = 0

    def unwrap(self, timestamp: int) -> int:
        if self._origin is None:
            self._origin = timestamp
        elif timestamp < self._last and self._last - timestamp > (1 << 31):
            self._origin -= 1 << 32
        self._last = timestamp
        return timestamp - self._origin


class ForwardingBuffer:
    """Takes the place of aiortc's JitterBuffer: ``add`` never returns a frame (so the
    receiver never decodes); complete frames go to ``on_frame`` instead."""

    def __init__(self, codec_name: str, on_frame: Callable[[EncodedFrame], None]) -> None:
        self._codec_name = codec_name
        self._on_frame = on_frame
        self._unwrapper = _TimestampUnwrapper()

    @property
    def capacity(self) -> int:  # read by nothing in 1.16.0; kept for interface parity
        return 1 << 16

    def _emit(self, data: bytes, timestamp: int, ssrc: int) -> None:
        self._on_frame(
            EncodedFrame(
                data=data,
                timestamp=self._unwrapper.unwrap(timestamp),
                ssrc=ssrc,
                keyframe=is_keyframe(self._codec_name, data),
            )
        )


class AudioForwardingBuffer(ForwardingBuffer):
    """Opus: one RTP packet is one frame; forward it at once, drop duplicates and late ones."""

    def __init__(self, codec_name: str, on_frame: Callable[[EncodedFrame], None]) -> None:
        super().__init__(codec_name, on_frame)
        self._last_seq: Optional[int] = None

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        seq = packet.sequence_number
        if self._last_seq is not None and not uint16_gt(seq, self._last_seq):
            return False, None
        self._last_seq = seq
        self._emit(packet._data, packet.timestamp, packet.ssrc)
        return False, None


class VideoForwardingBuffer(ForwardingBuffer):
    """Reassembles video frames and releases each as soon as it is complete.

    A frame is complete when its packets run without a gap from the packet after the
    previous frame's marker packet up to a packet carrying the marker bit. The first
    frame is kept only if its first packet says it starts a frame (``starts_frame``).

    Gap rules (a missing packet holds back the frames behind it):
    - a complete keyframe behind the gap is released at once, and what lies before it
      dropped (it is not needed any more);
    - the gap is NACKed again (``send_nack(ssrc, seqs)``) once per round trip while it
      stays open: aiortc's receiver NACKs a packet only once, when it sees it missing;
    - after ``GAP_GIVE_UP_RTTS`` round trips (``rtt()`` seconds, at least
      ``GAP_GIVE_UP_MIN``) the gap is given up: the frame it is in is dropped and the
      frames after it go on; ``pli_flag=True`` makes aiortc ask the publisher for a keyframe.
    ``tick()`` applies the timers without a new packet (called by the room's control loop).
    """

    def __init__(self, codec_name: str, on_frame: Callable[[EncodedFrame], None],
                 send_nack: Optional[Callable[[int, list[int]], None]] = None,
                 rtt: Callable[[], Optional[float]] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(codec_name, on_frame)
        self._packets: dict[int, RtpPacket] = {}
        self._next_seq: Optional[int] = None  # first packet of the next frame to release
        self._newest_seq: Optional[int] = None
        self._send_nack = send_nack
        self._rtt = rtt
        self._clock = clock
        self._gap_seq: Optional[int] = None  # the missing packet that holds frames back
        self._gap_since = 0.0
        self._last_nack = 0.0
        self._ssrc = 0
        self.gaps_given_up = 0
        self.keyframes_skipped_to = 0
        self.renacks = 0

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        seq = packet.sequence_number
        self._ssrc = packet.ssrc
        if self._next_seq is None:
            if starts_frame(self._codec_name, packet.payload):
                self._next_seq = seq
            elif packet.marker:
                self._next_seq = uint16_add(seq, 1)  # the next frame starts after this one
                return False, None
            else:
                return False, None
        if uint16_gt(self._next_seq, seq):
            return False, None  # already released or given up: a late duplicate
        self._packets[seq] = packet
        if self._newest_seq is None or uint16_gt(seq, self._newest_seq):
            self._newest_seq = seq
        pli = self._release_complete_frames()
        if (
            self._next_seq is not None
            and uint16_gt(self._newest_seq, self._next_seq)
            and uint16_add(self._newest_seq, -self._next_seq) > MAX_VIDEO_GAP_PACKETS
        ):
            self._give_up_until_newest_marker()
            pli = True
        return self._gap_rules() or pli, None

    def tick(self) -> bool:
        """Apply the gap timers; True if a keyframe should be asked for."""
        return self._gap_rules()

    def _gap_rules(self) -> bool:
        if not self._packets or self._next_seq is None:
            self._gap_seq = None
            return False
        missing = self._first_missing()
        if missing is None:
            self._gap_seq = None
            return False
        now = self._clock()
        if missing != self._gap_seq:
            # a new gap: aiortc's receiver has just NACKed it
            self._gap_seq, self._gap_since, self._last_nack = missing, now, now
        if self._skip_to_complete_keyframe():
            self._gap_rules()
            return False
        rtt = self._rtt() or 0.2
        if now - self._gap_since > max(GAP_GIVE_UP_RTTS * rtt, GAP_GIVE_UP_MIN):
            self.gaps_given_up += 1
            self._give_up_gap(missing)
            self._release_complete_frames()
            self._gap_rules()
            return True
        if now - self._last_nack >= max(rtt, 0.02) and self._send_nack is not None:
            self._last_nack = now
            self.renacks += 1
            self._send_nack(self._ssrc, self._missing_list())
        return False

    def _first_missing(self) -> Optional[int]:
        if self._newest_seq is None or self._next_seq is None:
            return None
        # what is held lies in [next, newest]: as many packets as that span holds means no gap
        # (the common case, checked per packet, without walking the frame held so far)
        if len(self._packets) == ((self._newest_seq - self._next_seq) & 0xFFFF) + 1:
            return None
        seq = self._next_seq
        while seq != self._newest_seq:
            if seq not in self._packets:
                return seq
            seq = uint16_add(seq, 1)
        return None

    def _missing_list(self, limit: int = 64) -> list[int]:
        missing, seq = [], self._next_seq
        while seq != self._newest_seq and len(missing) < limit:
            if seq not in self._packets:
                missing.append(seq)
            seq = uint16_add(seq, 1)
        return missing

    def _skip_to_complete_keyframe(self) -> bool:
        """Release the newest complete keyframe lying behind the gap, if there is one."""
        for seq in sorted(self._packets, key=lambda s: uint16_add(s, -self._next_seq), reverse=True):
            first = self._packets[seq]
            if not first._data or not starts_frame(self._codec_name, first.payload):
                continue
            if not _starts_keyframe(self._codec_name, first._data):
                continue
            end = seq
            while True:
                packet = self._packets.get(end)
                if packet is None or packet.timestamp != first.timestamp:
                    break
                if packet.marker:
                    self.keyframes_skipped_to += 1
                    self._drop_until(seq)
                    self._release_complete_frames()
                    return True
                end = uint16_add(end, 1)
        return False

    def _give_up_gap(self, missing: int) -> None:
        """Drop everything up to the first frame start after ``missing``."""
        seq = uint16_add(missing, 1)
        while seq != uint16_add(self._newest_seq, 1):
            packet = self._packets.get(seq)
            if packet is not None and packet._data and starts_frame(self._codec_name, packet.payload):
                self._drop_until(seq)
                return
            seq = uint16_add(seq, 1)
        self._drop_until(uint16_add(self._newest_seq, 1))

    def _release_complete_frames(self) -> bool:
        pli = False
        while True:
            first = self._packets.get(self._next_seq)
            if first is None:
                return pli
            if not first._data:
                # padding (bandwidth probing) between frames belongs to no frame
                self._drop_until(uint16_add(self._next_seq, 1))
                continue
            seq, frame = self._next_seq, []
            while True:
                packet = self._packets.get(seq)
                if packet is None:
                    return pli  # wait for the gap to be filled (NACK/RTX)
                if packet.timestamp != first.timestamp:
                    # the frame's marker packet never came: drop the frame, ask for a keyframe
                    self._drop_until(seq)
                    pli = True
                    break
                frame.append(packet)
                if packet.marker:
                    self._drop_until(uint16_add(seq, 1))
                    data = b"".join(p._data for p in frame)
                    self._emit(data, first.timestamp, first.ssrc)
                    break
                seq = uint16_add(seq, 1)

    def _drop_until(self, seq: int) -> None:
        while self._next_seq != seq:
            self._packets.pop(self._next_seq, None)
            self._next_seq = uint16_add(self._next_seq, 1)

    def _give_up_until_newest_marker(self) -> None:
        markers = [s for s, p in self._packets.items() if p.marker]
        if not markers:
            self._packets.clear()
            self._next_seq = None
            return
        newest_marker = markers[0]
        for s in markers[1:]:
            if uint16_gt(s, newest_marker):
                newest_marker = s
        self._drop_until(uint16_add(newest_marker, 1))


def _starts_keyframe(codec_name: str, first_data: bytes) -> bool:
    """Whether a frame's first packet (depacketized) begins a keyframe."""
    if codec_name == "H264":
        return any(nal[0] & 0x1F in (5, 7) for nal in h264_nal_units(first_data))
    return is_keyframe(codec_name, first_data)
