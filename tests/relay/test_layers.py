"""Layer selection (relay/layers.py), the switch between a publisher's own picture and the
relay-made low layer at keyframes (ForwardingTrack), and the low layer itself
(relay/low_layer.py: a real libvpx decode, scale and encode)."""

import asyncio

import av
import pytest

from relay import layers
from relay.fanout import Publication
from relay.forwarding_buffer import EncodedFrame
from relay.layers import EncoderRate, LayerChoice, low_layer_target_bps, low_layer_width, scaled_size
from relay.low_layer import LowLayer
from relay.rtp_writer import PackedFrame
from relay.sim import encode_clip, wait_for

SOURCE = 1_700_000  # a 640x480 picture as Chromium sends it on a clear link


# --- which layer ------------------------------------------------------------------------------


def test_a_congested_subscriber_whose_share_cannot_carry_the_source_goes_to_the_low_layer():
    choice = LayerChoice()
    # given a 300 kbit/s link: two pictures share what the audio leaves, about 110 kbit/s each
    # when its link shows congestion, it gets the low layer at once
    assert choice.update(share_bps=110_000, source_bps=SOURCE, congested_recently=True, now=10.0)
    # and keeps it while the share stays small, congested or not
    for second in range(11, 60):
        assert choice.update(share_bps=120_000, source_bps=SOURCE, congested_recently=second % 7 == 0,
                             now=float(second))


def test_without_congestion_on_the_link_a_subscriber_keeps_the_source():
    choice = LayerChoice()
    # given a clean link whose estimate is still growing from its start (the pacer's own drops
    # are not the link's congestion)
    assert not choice.update(share_bps=1_200_000, source_bps=SOURCE, congested_recently=False, now=1.0)
    # and a loopback link on a busy machine that backed off to 0.85 x what it sent
    assert not choice.update(share_bps=0.85 * SOURCE, source_bps=SOURCE, congested_recently=True, now=2.0)


def test_back_to_the_source_when_the_share_carries_it():
    choice = LayerChoice()
    choice.update(share_bps=100_000, source_bps=SOURCE, congested_recently=True, now=0.0)
    assert choice.low
    assert not choice.update(share_bps=1.3 * SOURCE, source_bps=SOURCE, congested_recently=True, now=1.0)


def test_an_attempt_at_the_source_waits_for_a_clear_link_and_a_failed_one_doubles_the_wait():
    choice = LayerChoice()
    choice.update(share_bps=100_000, source_bps=SOURCE, congested_recently=True, now=0.0)
    # a clear link whose share is far under the source's rate (a weak link on its low layer)
    # never tries the source again
    assert choice.update(share_bps=200_000, source_bps=SOURCE, congested_recently=False, now=100.0)
    # given a link that recovered: clear, and half the source's rate fits
    assert not choice.update(share_bps=0.6 * SOURCE, source_bps=SOURCE, congested_recently=False, now=101.0)
    # when the attempt congests the link within TRIAL_SECONDS, back to the low layer
    assert choice.update(share_bps=0.3 * SOURCE, source_bps=SOURCE, congested_recently=True, now=105.0)
    # then the next attempt waits twice as long
    assert choice.probe_wait == 2 * layers.PROBE_FIRST
    wait_ends = 105.0 + 2 * layers.PROBE_FIRST
    assert choice.update(share_bps=0.6 * SOURCE, source_bps=SOURCE, congested_recently=False, now=wait_ends - 1)
    assert not choice.update(share_bps=0.6 * SOURCE, source_bps=SOURCE, congested_recently=False, now=wait_ends)


def test_unknown_figures_change_nothing():
    choice = LayerChoice()
    assert not choice.update(share_bps=None, source_bps=SOURCE, congested_recently=True, now=1.0)
    assert not choice.update(share_bps=50_000, source_bps=None, congested_recently=True, now=2.0)


# --- how the low layer is encoded ----------------------------------------------------------------


def test_the_low_layer_aims_under_the_lowest_share_within_bounds():
    assert low_layer_target_bps([110_000, 400_000]) == pytest.approx(110_000 * layers.LOW_HEADROOM)
    assert low_layer_target_bps([10_000]) == layers.LOW_MIN_BPS
    assert low_layer_target_bps([5_000_000]) == layers.LOW_MAX_BPS


def test_the_low_layers_width_follows_its_bitrate_with_a_dead_band():
    assert low_layer_width(100_000, None) == 320
    assert low_layer_width(40_000, 320) == 160
    assert low_layer_width(70_000, 160) == 160  # in the band: as it is
    assert low_layer_width(70_000, 320) == 320
    assert scaled_size(640, 480, 320) == (320, 240)
    assert scaled_size(640, 360, 160) == (160, 90)
    assert scaled_size(160, 120, 320) == (160, 120)  # never upscaled


def test_the_encoders_rate_goes_down_at_once_and_up_slowly():
    rate = EncoderRate(100_000, changed_at=0.0)
    assert not rate.propose(110_000, now=10.0)  # within the dead band: no restart of libvpx
    assert rate.propose(70_000, now=10.5) and rate.bps == 70_000  # the link got worse
    assert not rate.propose(120_000, now=11.0)  # up: not yet
    assert rate.propose(120_000, now=10.5 + layers.RATE_UP_AFTER) and rate.bps == 120_000


# --- the switch at keyframes ---------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.frames: list[tuple[str, int]] = []

    def write(self, frame: PackedFrame, ntp_time: int) -> None:
        self.frames.append((frame.payloads[0].decode(), frame.timestamp))


def _frame(layer: str, timestamp: int, keyframe: bool = False) -> PackedFrame:
    return PackedFrame([layer.encode()], timestamp, keyframe, 0)


def test_a_subscriber_switches_layers_only_at_a_keyframe_of_the_wanted_one_and_never_stops():
    publication = Publication("video", "VP8", keyframe_interval=0.0, queue_frames=10)
    track = publication.subscribe()
    writer = track._writer = _Writer()  # type: ignore[assignment]
    try:
        # given a subscriber receiving the publisher's own frames
        track.push(_frame("full", 0, keyframe=True))
        track.push(_frame("full", 3000))
        # when it is moved to the low layer, it keeps the source until the low layer's keyframe
        track.set_want_low(True)
        track.push(_frame("low", 6000), low=True)  # a delta frame of the low layer: not yet
        track.push(_frame("full", 6000))
        track.push(_frame("low", 9000, keyframe=True), low=True)
        track.push(_frame("full", 9000))  # the source, after the switch: no more
        track.push(_frame("low", 12000), low=True)
        assert writer.frames == [("full", 0), ("full", 3000), ("full", 6000), ("low", 9000), ("low", 12000)]
        assert track.low and track.layer_switches == 1
        # and back to the source at the source's next keyframe
        track.set_want_low(False)
        track.push(_frame("full", 15000))
        track.push(_frame("low", 15000), low=True)
        track.push(_frame("full", 18000, keyframe=True))
        track.push(_frame("low", 18000, keyframe=True), low=True)
        assert writer.frames[5:] == [("low", 15000), ("full", 18000)]
        assert not track.low and track.layer_switches == 2
    finally:
        track.stop()


def test_a_keyframe_request_goes_to_the_layer_the_subscriber_gets():
    publication = Publication("video", "VP8", keyframe_interval=0.0, queue_frames=10)
    track = publication.subscribe()
    asked: list[str] = []
    publication.request_keyframe = lambda: asked.append("publisher")  # type: ignore[method-assign]
    publication.request_low_keyframe = lambda: asked.append("low layer")  # type: ignore[method-assign]
    try:
        track.request_keyframe()
        track.low = True
        track.request_keyframe()
        assert asked == ["publisher", "low layer"]
    finally:
        track.stop()


# --- the low layer: decode, scale, encode ----------------------------------------------------------


@pytest.fixture(scope="module")
def clip_640x480():
    # 3 s of a 640x480 picture at 20 fps, a keyframe each second (the source's)
    return encode_clip((40, 120, 200), width=640, height=480, fps=20, frames=60, gop=20, bitrate=800_000)


def _decoded_sizes(frames: list[PackedFrame]) -> list[tuple[int, int]]:
    from aiortc.codecs.vpx import vp8_depayload

    decoder = av.CodecContext.create("libvpx", "r")
    sizes = []
    for frame in frames:
        data = b"".join(vp8_depayload(p) for p in frame.payloads)
        sizes += [(picture.width, picture.height) for picture in decoder.decode(av.Packet(data))]
    return sizes


@pytest.mark.asyncio
async def test_the_low_layer_starts_at_a_source_keyframe_and_sends_a_smaller_picture(clip_640x480):
    out: list[PackedFrame] = []
    source_keyframe_requests = []
    # given a low layer asked for 100 kbit/s
    low = LowLayer(on_frame=out.append, request_source_keyframe=lambda: source_keyframe_requests.append(1),
                   target_bps=100_000)
    try:
        # when it is fed the source from a delta frame on (a subscriber moved mid-stream)
        for index, (data, keyframe) in enumerate(clip_640x480[5:], start=5):
            low.feed(EncodedFrame(data, index * 4500, 1, keyframe))
            await asyncio.sleep(0.02)
        assert await wait_for(lambda: low._pending == 0, timeout=20)
        # then it asked the publisher for a keyframe and started there, with a keyframe of its own
        assert source_keyframe_requests
        assert out and out[0].keyframe and out[0].timestamp == 20 * 4500
        # and every source frame from there came out at 320x240 with the source's timestamps
        # (but those it skipped to keep up, on a busy machine)
        stamps = [f.timestamp for f in out]
        assert stamps == sorted(stamps) and set(stamps) <= {i * 4500 for i in range(20, 60)}
        assert len(out) + low.frames_skipped == 40
        assert set(_decoded_sizes(out)) == {(320, 240)}
        # at about its bitrate (the keyframe aside)
        bits = 8 * sum(len(p) for f in out[1:] for p in f.payloads)
        assert bits / (len(out[1:]) / 20) < 2 * 100_000
    finally:
        low.close()


@pytest.mark.asyncio
async def test_the_low_layer_sends_a_keyframe_when_a_subscriber_asks_and_narrows_on_a_weak_link(clip_640x480):
    out: list[PackedFrame] = []
    low = LowLayer(on_frame=out.append, request_source_keyframe=lambda: None, target_bps=100_000)
    try:
        for index, (data, keyframe) in enumerate(clip_640x480[:30]):
            if index == 10:
                low.request_keyframe()
            if index == 20:
                low.set_target(40_000)  # the link got worse
            low.feed(EncodedFrame(data, index * 4500, 1, keyframe))
            await asyncio.sleep(0.02)
        assert await wait_for(lambda: low._pending == 0, timeout=20)
        keyframes = [f.timestamp // 4500 for f in out if f.keyframe]
        assert 0 in keyframes and 20 in keyframes and any(10 <= k < 20 for k in keyframes)
        sizes = _decoded_sizes(out)
        assert sizes[0] == (320, 240) and sizes[-1] == (160, 120)
    finally:
        low.close()


def test_a_publications_rate_is_measured_over_a_few_seconds():
    publication = Publication("video", "VP8", keyframe_interval=0.0, queue_frames=10)
    assert publication.measure_rate(0.0) is None
    for second in range(1, 6):
        publication.bytes_in += 25_000
        rate = publication.measure_rate(float(second))
    assert rate == pytest.approx(200_000)


# --- in a room ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_starved_subscriber_gets_the_low_layer_while_the_others_keep_the_publishers_picture(make_room):
    from relay.sim import ClipTrack, encode_camera_clip

    harness = make_room()
    clip = encode_camera_clip(width=640, height=480, fps=20, frames=40, bitrate=600_000)
    doctor = await harness.join("doctor", video=ClipTrack(clip, fps=20))
    expert = await harness.join("expert", (0, 255, 0))
    patient = await harness.join("patient", (0, 0, 255))
    assert await wait_for(lambda: all(p.received.get("doctor") and p.received["doctor"].last_size == (640, 480)
                                      for p in (expert, patient)), timeout=15)
    room = harness.room
    # when the patient's link shows congestion and its estimate cannot carry the doctor's picture
    link = room._participants["patient"].link
    link.estimate.value = 200_000
    link.link_congested_at = link.congested_at = link.clock()
    # then the patient gets the doctor's picture smaller, from the relay's low layer
    from_doctor = patient.received["doctor"]
    assert await wait_for(lambda: from_doctor.last_size is not None and from_doctor.last_size[0] <= 320,
                          timeout=10), (from_doctor.last_size, room.stats())
    assert room.stats()["patient"]["low_layer_from"] == ["doctor"]  # the expert's small picture fits
    # and the expert keeps the doctor's own 640x480 picture, which the patient no longer holds down
    frames = expert.received["doctor"].video_frames
    assert await wait_for(lambda: expert.received["doctor"].video_frames > frames + 10, timeout=10)
    assert expert.received["doctor"].last_size == (640, 480)
    assert room.publication("doctor", "video").remb_cap is None
    # when the patient's link carries the doctor's picture again
    link.estimate.value = 5_000_000
    link.link_congested_at = link.congested_at = None
    # then it is back on it, and the low layer stops
    assert await wait_for(lambda: from_doctor.last_size == (640, 480), timeout=10), room.stats()
    assert await wait_for(lambda: room.publication("doctor", "video").low_layer is None, timeout=5)
    assert doctor.received["patient"].video_frames > 0


def test_a_picture_that_needs_little_leaves_the_rest_of_the_link_to_the_other():
    # given a doctor's link after a back-off: 1.6 Mbit/s for video, the patient's picture
    # at 250 kbit/s and the expert's at 1.7 Mbit/s
    got = layers.video_allocation(1_600_000, {"patient": 250_000, "expert": 1_700_000})
    # then the expert's picture can have all but the patient's 250 kbit/s, and keeps its layer
    assert got == {"patient": 800_000, "expert": 1_350_000}
    choice = LayerChoice()
    assert not choice.update(share_bps=got["expert"], source_bps=1_700_000, congested_recently=True, now=1.0)
    # and two large pictures over a weak link divide it evenly; an unknown rate counts as large
    assert layers.video_allocation(220_000, {"doctor": 1_700_000, "expert": None}) == {
        "doctor": 110_000, "expert": 110_000}
