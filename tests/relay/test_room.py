"""A relay room end to end: real aiortc peers on loopback, no mocks."""

import asyncio
import time

import pytest
from aiortc import RTCPeerConnection

from relay import InvalidSdp, NoCommonCodec, UnsupportedEncryption
from relay.passthrough import loopback_candidates, sender_opened_encoder
from relay.sim import ClipTrack, SimParticipant, encode_clip, frame_digest, wait_for

pytestmark = pytest.mark.asyncio

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)

COLOURS = {"doctor": RED, "expert": GREEN, "patient": BLUE}


def is_colour(rgb, expected, tolerance=20.0) -> bool:
    return rgb is not None and all(abs(a - b) <= tolerance for a, b in zip(rgb, expected))


def sees(person: SimParticipant, publisher: str, colour, frames: int = 3) -> bool:
    got = person.received.get(publisher)
    return got is not None and got.video_frames >= frames and is_colour(got.last_rgb, colour)


async def full_room(make_room, **config):
    harness = make_room(**config)
    for pid, rgb in COLOURS.items():
        await harness.join(pid, rgb)
    everyone_sees_everyone = lambda: all(  # noqa: E731
        sees(harness.people[s], p, COLOURS[p]) for s in COLOURS for p in COLOURS if s != p)
    assert await wait_for(everyone_sees_everyone, timeout=10), {
        s: {p: (r.video_frames, r.last_rgb) for p, r in harness.people[s].received.items()}
        for s in COLOURS}
    return harness


async def test_three_participants_see_each_others_colour_and_hear_audio(make_room):
    # given three participants publishing a distinct colour each, and audio
    harness = await full_room(make_room)

    # then each decoded the other two's colours (checked in full_room) and got their audio
    for subscriber in COLOURS:
        assert set(harness.people[subscriber].received) == set(COLOURS) - {subscriber}
    assert await wait_for(lambda: all(
        r.audio_frames > 10 for p in harness.people.values() for r in p.received.values()),
        timeout=3)
    # and the relay forwarded without ever opening a video encoder
    video_senders = [d.senders["video"] for d in harness.room.downstreams()]
    assert len(video_senders) == 6
    assert not any(sender_opened_encoder(s) for s in video_senders)


async def test_h264_room_forwards_h264(make_room):
    # given a room that forwards H264 only
    harness = await full_room(make_room, video_codecs=("H264",))

    # then the offers to subscribers carried H264 and not VP8
    assert harness.room.video_codec == "H264"
    offers = [m["sdp"] for p in harness.people.values() for m in p.messages
              if m["type"] == "subscribe_offer"]
    assert offers and all("H264/90000" in o and "VP8/90000" not in o for o in offers)


async def test_forwarded_frames_are_byte_identical_to_what_was_published(make_room):
    # given two publishers sending a pre-encoded VP8 clip, and subscribers that keep the bytes
    harness = make_room()
    clips = {pid: encode_clip(rgb, width=160, height=120, fps=30, frames=30, gop=30)
             for pid, rgb in (("doctor", RED), ("expert", GREEN))}
    for pid, clip in clips.items():
        await harness.join(pid, video=ClipTrack(clip, fps=30), decode=False)

    # when frames flow for a while
    doctor, expert = harness.people["doctor"], harness.people["expert"]
    assert await wait_for(lambda: all(
        p.received.get(o) and p.received[o].video_frames >= 30
        for p, o in ((doctor, "expert"), (expert, "doctor"))), timeout=10)

    # then every frame a subscriber got is, byte for byte, a frame of the publisher's clip
    for subscriber, publisher in ((doctor, "expert"), (expert, "doctor")):
        published = {frame_digest(data) for data, _ in clips[publisher]}
        received = subscriber.received[publisher].digests
        assert received and set(received) <= published
    assert not any(sender_opened_encoder(d.senders["video"]) for d in harness.room.downstreams())


async def test_late_joiner_gets_a_picture_fast_because_its_keyframe_request_is_forwarded(make_room):
    # given a running room of two; aiortc's VP8 encoder only makes a keyframe every 3000
    # frames unless asked, so a late joiner only gets a picture if a PLI reaches the publisher
    harness = make_room()
    await harness.join("doctor", RED)
    await harness.join("expert", GREEN)
    # (running: the expert has decoded a second's worth of the doctor's frames past the first keyframe)
    assert await wait_for(lambda: sees(harness.people["expert"], "doctor", RED, 30), timeout=10)
    requests_before = {pid: harness.room.stats()[pid]["video"]["keyframe_requests_sent"]
                       for pid in ("doctor", "expert")}

    # when the patient joins
    patient = await harness.join("patient", BLUE)

    # then the relay asked each publisher for a keyframe on the patient's behalf, and the patient
    # decodes both pictures: without the request the next keyframe would come 3000 frames (100 s) on,
    # past this wait's deadline
    assert await wait_for(lambda: all(harness.room.stats()[pid]["video"]["keyframe_requests_sent"] > before
                                      for pid, before in requests_before.items()), timeout=10)
    assert await wait_for(lambda: sees(patient, "doctor", RED, 1) and sees(patient, "expert", GREEN, 1),
                          timeout=10)


async def test_audio_only_stops_video_to_that_participant_and_back(make_room):
    # given a full room
    harness = await full_room(make_room)
    patient = harness.people["patient"]
    from_doctor = patient.received["doctor"]

    # when the patient drops to audio only (the doctor's audio, 50 frames a second, is the clock here)
    harness.room.set_audio_only("patient", True)
    await _audio_frames_pass(from_doctor, 25)  # video frames already in flight land meanwhile
    video_before = from_doctor.video_frames
    expert_from_doctor = harness.people["expert"].received["doctor"].video_frames
    await _audio_frames_pass(from_doctor, 50)

    # then no video reaches the patient while a second of audio does, and the others still get video
    assert from_doctor.video_frames == video_before
    assert harness.people["expert"].received["doctor"].video_frames > expert_from_doctor
    assert any(m == {"type": "audio_only", "participant": "patient", "enabled": True}
               for m in harness.people["doctor"].messages)

    # when video is back on, the picture returns (the relay asks the publishers for a keyframe)
    harness.room.set_audio_only("patient", False)
    assert await wait_for(lambda: from_doctor.video_frames > video_before + 5, timeout=10)
    assert is_colour(from_doctor.last_rgb, RED)


async def _audio_frames_pass(received, frames: int) -> None:
    """Wait until `frames` more audio frames of this subscription have been received."""
    target = received.audio_frames + frames
    assert await wait_for(lambda: received.audio_frames >= target, timeout=10), (received.audio_frames, target)


async def test_leave_removes_the_participants_tracks(make_room):
    # given a full room
    harness = await full_room(make_room)
    doctor, expert = harness.people["doctor"], harness.people["expert"]

    # when the patient leaves
    await harness.room.leave("patient")

    # then the others were told to drop the patient's subscription, the relay has no
    # peer connection for the patient, and the doctor and expert still see each other
    assert await wait_for(lambda: all(
        any(m["type"] == "unsubscribe" and m["publisher"] == "patient" for m in p.messages)
        for p in (doctor, expert)), timeout=2)
    assert await wait_for(lambda: all(
        "patient" not in p.publisher_of[pc_id] for p in (doctor, expert) for pc_id in p.subscriptions),
        timeout=2)
    assert harness.room.participant_ids == ["doctor", "expert"]
    assert all("patient" not in (d.publisher_id, d.subscriber_id) for d in harness.room.downstreams())
    before = doctor.received["expert"].video_frames
    assert await wait_for(lambda: doctor.received["expert"].video_frames > before + 5, timeout=2)


async def _client_offer(video_codec: str | None = None) -> str:
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
    from aiortc import RTCRtpSender
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    if video_codec:
        caps = RTCRtpSender.getCapabilities("video").codecs
        pc.getTransceivers()[1].setCodecPreferences([c for c in caps if c.name == video_codec])
    with loopback_candidates():
        await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def sdes_offer(offer: str) -> str:
    lines = [line for line in offer.splitlines() if not line.startswith(("a=fingerprint", "a=setup"))]
    out = []
    for line in lines:
        out.append(line)
        if line.startswith("m="):
            out.append("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
    return "\r\n".join(out) + "\r\n"


async def test_bad_offers_are_refused_and_the_room_keeps_working(make_room):
    # given a full room that forwards VP8
    harness = await full_room(make_room, video_codecs=("VP8",))
    good_offer = await _client_offer()

    # when bad offers arrive, each is refused with a reason
    with pytest.raises(InvalidSdp, match="not SDP"):
        await harness.room.publish("intruder", "hello")
    with pytest.raises(InvalidSdp, match="empty"):
        await harness.room.publish("intruder", "")
    with pytest.raises(InvalidSdp, match="no audio or video"):
        await harness.room.publish("intruder", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
    with pytest.raises(UnsupportedEncryption, match="SDES"):
        await harness.room.publish("intruder", sdes_offer(good_offer))
    with pytest.raises(NoCommonCodec, match="VP8"):
        await harness.room.publish("intruder", await _client_offer("H264"))

    # then nobody was added and the room still forwards
    assert "intruder" not in harness.room.participant_ids
    doctor = harness.people["doctor"]
    before = doctor.received["patient"].video_frames
    assert await wait_for(lambda: doctor.received["patient"].video_frames > before + 5, timeout=2)
    # and a well-behaved newcomer still gets in
    nurse = await harness.join("nurse", YELLOW)
    assert await wait_for(lambda: sees(nurse, "doctor", RED) and sees(doctor, "nurse", YELLOW),
                          timeout=5)


async def test_quality_reports_loss_and_round_trip_time_per_participant(make_room):
    # given a full room that reports quality every half second
    harness = await full_room(make_room, quality_interval=0.5)

    # when RTCP has flowed both ways: every figure of every participant is measured
    report = await _measured_quality(harness.room)

    # then every participant has a loss figure and a round-trip time (loopback: no loss)
    assert set(report) == set(COLOURS)
    for figures in report.values():
        assert figures["upstream_loss"] == 0.0
        assert figures["downstream_loss"] == 0.0
        assert 0 < figures["rtt_ms"] < 500
        assert figures["upstream_state"] == "connected"
    # and the room pushed the same kind of report to the clients
    pushed = [m for m in harness.people["doctor"].messages if m["type"] == "quality"]
    assert pushed and set(pushed[-1]["participants"]) == set(COLOURS)


async def _measured_quality(room, timeout: float = 15.0) -> dict:
    """room.quality() once no figure is None (RTCP reports come about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        report = await room.quality()
        measured = report and all(f[k] is not None for f in report.values()
                                  for k in ("upstream_loss", "downstream_loss", "rtt_ms"))
        if measured or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.5)


async def test_reconnecting_participant_keeps_its_place_in_the_room(make_room):
    # given a full room
    harness = await full_room(make_room)
    old_patient = harness.people["patient"]

    # when the patient's network drops and it publishes again with the same id
    # (a new upstream, as after an ICE restart; this time its camera shows yellow)
    await old_patient.close()
    patient = await harness.join("patient", YELLOW)

    # then it sees the others again, and the others see its new picture on the
    # subscription they already had (no new subscribe_offer for them)
    assert await wait_for(lambda: sees(patient, "doctor", RED) and sees(patient, "expert", GREEN),
                          timeout=5)
    doctor = harness.people["doctor"]
    assert await wait_for(lambda: is_colour(doctor.received["patient"].last_rgb, YELLOW), timeout=5)
    offers_to_doctor = [m for m in doctor.messages
                        if m["type"] == "subscribe_offer" and m["publisher"] == "patient"]
    assert len(offers_to_doctor) == 1
    assert sorted(harness.room.participant_ids) == sorted(COLOURS)
