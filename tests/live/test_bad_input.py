"""Bad frames on the room socket get an error frame and change nothing; floods are cut off."""
import json

import pytest
from asgiref.sync import sync_to_async

from live.models import Room
from tests.live.conftest import drain_events, joined, receive_until, socket

pytestmark = pytest.mark.django_db(transaction=True)

SDES_OFFER = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0",
    "m=video 9 RTP/SAVPF 96", "c=IN IP4 127.0.0.1", "a=rtpmap:96 VP8/90000", "a=sendonly",
    "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", ""])


def _last_seq(room_id: int) -> int:
    return Room.objects.get(pk=room_id).last_seq


async def _ready(room, cookie):
    """A joined socket with the history drained."""
    communicator_cm = socket(f"/ws/rooms/{room.pk}/", cookie)
    communicator = await communicator_cm.__aenter__()
    welcome = await joined(communicator)
    await drain_events(communicator, welcome["last_seq"])
    return communicator_cm, communicator


BAD_FRAMES = [
    ("not json {", "malformed"),
    (json.dumps([1, 2]), "malformed"),
    (json.dumps({"type": "launch_missiles"}), "unknown_type"),
    (json.dumps({"kind": "chat"}), "unknown_type"),
    (json.dumps({"type": "chat"}), "invalid"),
    (json.dumps({"type": "chat", "text": ""}), "invalid"),
    (json.dumps({"type": "chat", "text": 42}), "invalid"),
    (json.dumps({"type": "chat", "text": "x" * 2001}), "invalid"),
    (json.dumps({"type": "chat", "text": "hi", "admin": True}), "invalid"),
    (json.dumps({"type": "mute", "audio": "yes", "video": False}), "invalid"),
    (json.dumps({"type": "admit", "participant": True}), "invalid"),
    (json.dumps({"type": "join", "last_seq": -1}), "invalid"),
    (json.dumps({"type": "quality", "loss": 2, "rtt_ms": 10}), "invalid"),
    (json.dumps({"type": "publish", "sdp": "hello"}), "invalid_sdp"),
    (json.dumps({"type": "publish", "sdp": "v=0\r\nm=garbage"}), "invalid_sdp"),
    (json.dumps({"type": "publish", "sdp": SDES_OFFER}), "unsupported_encryption"),
    (json.dumps({"type": "publish", "sdp": "v=0", "id": "first"}), "invalid"),
    (json.dumps({"type": "publish", "sdp": "v=0", "id": 0}), "invalid"),
    (json.dumps({"type": "subscribe_answer", "pc_id": "../../x", "sdp": "v=0"}), "invalid"),
    (json.dumps({"type": "chat", "text": "x" * (1024 * 1024)}), "too_large"),
]


@pytest.mark.parametrize("frame,code", BAD_FRAMES, ids=[c + str(i) for i, (_, c) in enumerate(BAD_FRAMES)])
async def test_bad_frame_gets_an_error_frame_and_changes_nothing(room, cookies, frame, code):
    cm, host = await _ready(room, cookies["village_doctor"])
    try:
        before = await sync_to_async(_last_seq)(room.pk)
        # when the client sends a bad frame
        await host.send_to(text_data=frame)
        # then it gets an error frame with the reason's code, nothing is stored, and the socket still works
        reply = await host.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["code"] == code, reply
        assert reply["detail"]
        assert await sync_to_async(_last_seq)(room.pk) == before
        await host.send_json_to({"type": "ping"})
        assert (await host.receive_json_from(timeout=5)) == {"type": "pong"}
    finally:
        await cm.__aexit__(None, None, None)


async def test_binary_frames_are_refused(room, cookies):
    cm, host = await _ready(room, cookies["village_doctor"])
    try:
        await host.send_to(bytes_data=b"\x00\x01")
        assert (await host.receive_json_from(timeout=5))["code"] == "binary_unsupported"
    finally:
        await cm.__aexit__(None, None, None)


async def test_a_flood_is_rate_limited_then_closed_and_the_room_carries_on(room, cookies):
    cm, flooder = await _ready(room, cookies["expert"])
    try:
        # when one client sends 300 pings at once
        for _ in range(300):
            await flooder.send_json_to({"type": "ping"})
        # then it is told to slow down and, as it does not, is closed with 4429
        frames = []
        while True:
            output = await flooder.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                break
            frames.append(json.loads(output["text"]))
        assert output["code"] == 4429
        codes = [f.get("code") for f in frames if f["type"] == "error"]
        assert codes and set(codes) == {"rate_limited"}
        assert sum(1 for f in frames if f["type"] == "pong") < 300
    finally:
        await cm.__aexit__(None, None, None)
    # and the room still works for everyone else
    cm, host = await _ready(room, cookies["village_doctor"])
    try:
        await host.send_json_to({"type": "chat", "text": "还在吗"})
        await receive_until(host, lambda f: f.get("kind") == "chat")
    finally:
        await cm.__aexit__(None, None, None)


async def test_messages_before_join_are_refused(room, cookies):
    async with socket(f"/ws/rooms/{room.pk}/", cookies["village_doctor"]) as host:
        await host.send_json_to({"type": "chat", "text": "hi"})
        assert (await host.receive_json_from(timeout=5))["code"] == "join_first"
