"""A real browser in a live room: Daphne and a relay_worker as subprocesses on the Redis layer,
Debian's chromium with a fake camera, and an aiortc peer joining through the same socket protocol."""
import asyncio
import json
import time
from types import SimpleNamespace

import pytest
import websockets
from asgiref.sync import sync_to_async
from playwright.async_api import async_playwright

from live.models import Participant, RelayWorker
from live.services import tokens
from tests.conftest import ARTIFACTS, postgres_url
from tests.live.conftest import session_cookie
from tests.live.peers import colour_peer, websocket_signalling
from tests.live.servers import server_env, start_daphne, start_relay_worker, stop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--allow-loopback-in-peer-connection", "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
RED, GREEN = (255, 0, 0), (0, 255, 0)


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        env = server_env(postgres_url())
    logs = tmp_path_factory.mktemp("live-e2e")
    relay = start_relay_worker(env, logs / "relay.log", name="e2e-relay")
    daphne, port = start_daphne(env, logs / "daphne.log")
    yield SimpleNamespace(port=port, base=f"http://127.0.0.1:{port}", ws=f"ws://127.0.0.1:{port}", logs=logs)
    stop(daphne)
    stop(relay)


@pytest.fixture(autouse=True)
async def settle(room):
    """After a test: wait until Daphne has recorded every socket's disconnect, so that no request
    of the server process holds row locks while the test database is flushed (a deadlock)."""
    yield
    deadline = time.monotonic() + 15
    while await sync_to_async(Participant.objects.filter(connected=True).exists)():
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)


async def _relay_registered(timeout: float = 10) -> None:
    """The test database is flushed between tests; the worker's next heartbeat re-registers it."""
    deadline = time.monotonic() + timeout
    while not await sync_to_async(RelayWorker.objects.filter(name="e2e-relay").exists)():
        assert time.monotonic() < deadline, "relay worker not registered"
        await asyncio.sleep(0.3)


class SocketPeer:
    """An aiortc participant over a real WebSocket to Daphne."""

    def __init__(self, ws, me: dict, rgb):
        self.ws, self.me = ws, me
        self.signalling = websocket_signalling(ws)
        self.peer = colour_peer(me["id"], self.signalling, rgb)

    @classmethod
    async def join(cls, stack, room_id: int, cookie: bytes, rgb) -> "SocketPeer":
        ws = await websockets.connect(f"{stack.ws}/ws/rooms/{room_id}/", origin=stack.base,
                                      additional_headers={"Cookie": cookie.decode()}, max_size=2**20)
        await ws.send(json.dumps({"type": "join"}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        return cls(ws, welcome["me"], rgb)

    def events(self, kind: str) -> list[dict]:
        return [f for f in self.signalling.frames if f.get("type") == "event" and f["kind"] == kind]

    async def close(self):
        await self.peer.close()
        await self.signalling.stop()
        await self.ws.close()


def _watch_console(page) -> list[str]:
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.25)


# Decoding checks that run in the page: size, frames advancing (requestVideoFrameCallback), colour.
FRAMES_JS = """(selector) => new Promise((resolve) => {
  const video = document.querySelector(selector);
  if (!video || !video.videoWidth) { resolve(null); return; }
  let frames = 0;
  const count = () => { frames += 1; video.requestVideoFrameCallback(count); };
  video.requestVideoFrameCallback(count);
  setTimeout(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 16; canvas.height = 12;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(video, 0, 0, 16, 12);
    const px = ctx.getImageData(0, 0, 16, 12).data;
    const rgb = [0, 0, 0];
    for (let i = 0; i < px.length; i += 4) { rgb[0] += px[i]; rgb[1] += px[i + 1]; rgb[2] += px[i + 2]; }
    resolve({ width: video.videoWidth, frames, rgb: rgb.map((v) => v / (px.length / 4)) });
  }, 1500);
})"""


def _dominant(rgb, channel: int) -> bool:
    return rgb[channel] > 150 and all(rgb[channel] > rgb[i] + 80 for i in range(3) if i != channel)


async def test_browser_host_and_aiortc_expert_see_each_other_through_the_relay(stack, room, people):
    await _relay_registered()
    ARTIFACTS.mkdir(exist_ok=True)
    # given the expert as an aiortc peer sending green
    expert = await SocketPeer.join(stack, room.pk, await sync_to_async(session_cookie)(people["expert"]), GREEN)
    try:
        await expert.peer.publish()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 860})
                sid = (await sync_to_async(session_cookie)(people["village_doctor"])).decode().split("=", 1)[1]
                await context.add_cookies([{"name": "sessionid", "value": sid, "domain": "127.0.0.1", "path": "/"}])
                page = await context.new_page()
                errors = _watch_console(page)
                # when the village doctor opens the room page in chromium (fake camera)
                await page.goto(f"{stack.base}/live/rooms/{room.pk}/")
                remote = f'#tiles figure.tile[data-participant="{expert.me["id"]}"] video'
                # then the page decodes the expert's video: a size, frames advancing, green
                seen = await _until(lambda: page.evaluate(FRAMES_JS, remote), 30, "the expert's video in the page")
                assert seen["width"] > 0 and seen["frames"] >= 5 and _dominant(seen["rgb"], 1), seen
                decoded = await page.evaluate("""async () => {
                    let n = 0;
                    for (const {pc} of window.liveRoom.media.downstreams.values())
                      (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded; });
                    return n; }""")
                assert decoded > 0
                # and the aiortc expert decodes the browser's camera
                host_id = str(await page.evaluate("window.liveRoom.state.me.id"))
                await _until(lambda: _async(expert.peer.received.get(host_id) is not None
                                            and expert.peer.received[host_id].video_frames >= 5), 30,
                             "the browser's video at the aiortc peer")
                # and a chat line from the expert shows on the page
                await expert.ws.send(json.dumps({"type": "chat", "text": "心电图已收到"}))
                await page.wait_for_selector("#chat-log li:has-text('心电图已收到')", timeout=10000)
                # and the host makes the patient's link and QR code from the page
                await page.click("#btn-invite")
                await page.wait_for_selector("#invite-qr svg", timeout=10000)
                link = await page.input_value("#invite-url")
                assert link.startswith(f"{stack.base}/live/rooms/{room.pk}/join/#")
                await page.screenshot(path=str(ARTIFACTS / "live-room-host.png"))
                # when the page's socket drops and a chat line is posted meanwhile
                last_seq = await page.evaluate("window.liveRoom.client.lastSeq")
                await page.evaluate("window.liveRoom.client.drop()")
                await expert.ws.send(json.dumps({"type": "chat", "text": "断线期间的消息"}))
                # then the page reconnects by itself, shows the missed line once, and the video returns
                await page.wait_for_selector("#chat-log li:has-text('断线期间的消息')", timeout=15000)
                assert await page.locator("#chat-log li:has-text('断线期间的消息')").count() == 1
                assert await page.locator("#chat-log li:has-text('心电图已收到')").count() == 1
                assert await page.evaluate("window.liveRoom.client.lastSeq") > last_seq
                seen = await _until(lambda: page.evaluate(FRAMES_JS, remote), 30, "the expert's video after reconnect")
                assert seen["frames"] >= 5 and _dominant(seen["rgb"], 1), seen
                # and the page shows its own network quality (loss, round trip to the relay) from RTCP
                # (polled with evaluate: wait_for_function's eval is refused by the page's CSP)
                await _until(lambda: page.evaluate("document.getElementById('my-quality').textContent.includes('ms')"),
                             15, "the page's own network quality")
                assert errors == []
            finally:
                await browser.close()
    finally:
        await expert.close()


async def _async(value):
    return value


async def test_patient_joins_from_the_link_on_a_phone_waits_and_the_host_admits_them_from_the_page(
        stack, room, people):
    await _relay_registered()
    ARTIFACTS.mkdir(exist_ok=True)
    _, token = await sync_to_async(tokens.invite_create)(by=people["village_doctor"], room_id=room.pk)
    link = f"{stack.base}/live/rooms/{room.pk}/join/#{token}"
    # given the expert as an aiortc peer sending green, and the village doctor on the room page
    expert = await SocketPeer.join(stack, room.pk, await sync_to_async(session_cookie)(people["expert"]), GREEN)
    try:
        await expert.peer.publish()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                desk = await browser.new_context(viewport={"width": 1280, "height": 860})
                sid = (await sync_to_async(session_cookie)(people["village_doctor"])).decode().split("=", 1)[1]
                await desk.add_cookies([{"name": "sessionid", "value": sid, "domain": "127.0.0.1", "path": "/"}])
                host_page = await desk.new_page()
                errors = _watch_console(host_page)
                await host_page.goto(f"{stack.base}/live/rooms/{room.pk}/")
                await host_page.wait_for_selector("#conn-status.ok", timeout=15000)
                phone = await (await browser.new_context(**p.devices["Pixel 7"])).new_page()
                errors += _watch_console(phone)
                # when the patient opens the link on the phone, checks the camera and enters
                await phone.goto(link)
                await phone.click("#btn-check")
                await phone.wait_for_selector("#btn-enter", state="visible", timeout=10000)
                await phone.screenshot(path=str(ARTIFACTS / "live-phone-check.png"))
                await phone.click("#btn-enter")
                # then they wait, and the host's page lists them as waiting with an admit button
                await phone.wait_for_selector("#step-wait", state="visible", timeout=10000)
                await phone.screenshot(path=str(ARTIFACTS / "live-phone-waiting.png"))
                admit = host_page.locator("#participants li.waiting button[data-action=admit]")
                await admit.wait_for(timeout=15000)
                patient_id = await host_page.locator("#participants li.waiting").get_attribute("data-participant")
                await host_page.screenshot(path=str(ARTIFACTS / "live-room-waiting-patient.png"))
                # when the host clicks admit
                await admit.click()
                await phone.wait_for_selector("#step-call", state="visible", timeout=10000)
                # then the phone decodes the expert's (green) video, and the expert and the host get the phone's
                remote = f'#remote video[data-participant="{expert.me["id"]}"]'
                seen = await _until(lambda: phone.evaluate(FRAMES_JS, remote), 30, "the expert's video on the phone")
                assert seen["width"] > 0 and seen["frames"] >= 5 and _dominant(seen["rgb"], 1), seen
                await _until(lambda: _async(expert.peer.received.get(patient_id) is not None
                                            and expert.peer.received[patient_id].video_frames >= 5), 30,
                             "the phone's video at the expert")
                on_host = f'#tiles figure.tile[data-participant="{patient_id}"] video'
                seen = await _until(lambda: host_page.evaluate(FRAMES_JS, on_host), 30, "the phone's video on the host")
                assert seen["width"] > 0 and seen["frames"] >= 5
                await phone.screenshot(path=str(ARTIFACTS / "live-phone-call.png"))
                await host_page.screenshot(path=str(ARTIFACTS / "live-room-three.png"))
                assert errors == []
            finally:
                await browser.close()
    finally:
        await expert.close()


async def test_room_page_says_clearly_when_the_camera_is_denied(stack, room, people):
    async with async_playwright() as p:
        # no fake-UI flag and no permission granted: getUserMedia is refused, as when a user clicks "Block"
        args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            context = await browser.new_context(permissions=[])
            sid = (await sync_to_async(session_cookie)(people["village_doctor"])).decode().split("=", 1)[1]
            await context.add_cookies([{"name": "sessionid", "value": sid, "domain": "127.0.0.1", "path": "/"}])
            page = await context.new_page()
            errors = _watch_console(page)
            await page.goto(f"{stack.base}/live/rooms/{room.pk}/")
            banner = page.locator("#camera-error")
            await banner.wait_for(state="visible", timeout=15000)
            assert "拒绝" in await banner.inner_text()  # Chinese first (English by the switch: live/strings.py)
            await page.wait_for_selector("#conn-status.ok", timeout=10000)  # still in the room (chat works)
            await page.screenshot(path=str(ARTIFACTS / "live-room-camera-denied.png"))
            assert errors == []
        finally:
            await browser.close()
