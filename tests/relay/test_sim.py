"""The simulated participants' media: the benchmark's clips must carry a camera's load."""

from relay.bitstream import is_keyframe
from relay.sim import clip_bitrate, encode_camera_clip, encode_clip


def test_camera_clip_spends_the_bitrate_it_is_asked_for():
    # given a textured, moving clip asked for 300 kbit/s at 320x240, 30 fps
    clip = encode_camera_clip(width=320, height=240, fps=30, frames=150, bitrate=300_000)

    # then it encodes within 25 % of the target, every frame carries data, and only
    # frame 0 is a keyframe (a camera's encoder sends one on request, not on a timer)
    assert 225_000 <= clip_bitrate(clip, 30) <= 375_000
    assert len(clip) == 150
    assert [k for _, k in clip] == [True] + [False] * 149
    assert is_keyframe("VP8", clip[0][0])
    assert min(len(data) for data, _ in clip[10:]) > 300


def test_flat_colour_clip_is_far_below_its_bitrate():
    # the reason for the camera clip: a flat colour stays far under what it is asked for
    clip = encode_clip((40, 120, 200), width=320, height=240, fps=30, frames=60, gop=60, bitrate=300_000)

    assert clip_bitrate(clip, 30) < 100_000
