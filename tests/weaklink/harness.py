"""The weak-link harness shared by tests/weaklink/test_weaklink.py and bench/weaklink_bench.py:
a patient's Chromium inside a network namespace whose only link to the host goes through
the userspace emulator (linkemu.py), the doctor's and the expert's Chromium on the host
(loopback, unshaped), the relay room in this process, and getStats sampled in each page.

The SDP goes between the pages and the room through Playwright (the test is the
signalling server), so the shaped link carries what a call's network carries: ICE, DTLS,
RTP and RTCP. Addresses: 10.77.1.1 (host end of the link) and 10.77.1.2 (the patient);
nothing else is routed from the namespace.
"""

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
NETNS = "tcwl-patient"
PREFIX = "10.77.1"
PAGE_URL = "http://localhost/weaklink/peer.html"  # served by Playwright's router (a secure context)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--use-fake-device-for-media-stream=fps=20", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]

SCENARIOS: dict[str, dict[str, Any]] = {
    "clean": {"down": {}, "up": {}},
    # 150 ms RTT: 75 ms each way
    "300k_3pct_150ms": {"down": {"rate_bps": 300_000, "loss": 0.03, "delay_ms": 75},
                        "up": {"rate_bps": 300_000, "loss": 0.03, "delay_ms": 75}},
    "1m_300k_1pct_300ms": {"down": {"rate_bps": 1_000_000, "loss": 0.01, "delay_ms": 150},
                           "up": {"rate_bps": 300_000, "loss": 0.01, "delay_ms": 150}},
}


def unavailable_reason() -> Optional[str]:
    """Why the weak-link suite cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, TUN devices)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not os.path.exists(CHROMIUM):
        return f"no {CHROMIUM}"
    probe = "tcwl-probe"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "`ip netns add` is not permitted here"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return None


class LinkEmulator:
    """The emulator process (linkemu.py) and its namespace."""

    def __init__(self, netns: str = NETNS, prefix: str = PREFIX) -> None:
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True)  # a leftover
        self.netns, self.prefix = netns, prefix
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "linkemu.py"), "--netns", netns, "--prefix", prefix],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise RuntimeError(f"link emulator did not start: {line!r}")

    @property
    def host_address(self) -> str:
        return f"{self.prefix}.1"

    def set(self, *, down: Optional[dict] = None, up: Optional[dict] = None, outage: bool = False) -> None:
        self._command({"down": down or {}, "up": up or {}, "outage": outage})

    def scenario(self, name: str, outage: bool = False) -> None:
        self.set(**SCENARIOS[name], outage=outage)

    def stats(self) -> dict:
        self._command({"stats": True})
        return json.loads(self.proc.stdout.readline())

    def _command(self, command: dict) -> None:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)


def netns_chromium(netns: str, directory: Path) -> str:
    """An executable that runs Debian's chromium inside ``netns`` (Playwright talks to it
    over pipes, which cross the namespace)."""
    path = directory / "chromium-in-netns"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


async def launch_browsers(playwright, netns: str = NETNS):
    """(host browser, browser inside the namespace); a temp dir holds the wrapper."""
    directory = Path(tempfile.mkdtemp(prefix="weaklink-"))
    host = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    shaped = await playwright.chromium.launch(executable_path=netns_chromium(netns, directory),
                                              args=CHROMIUM_ARGS, headless=True)
    return host, shaped


class Peer:
    """One participant's page."""

    def __init__(self, name: str, page) -> None:
        self.name, self.page = name, page

    @classmethod
    async def open(cls, name: str, browser) -> "Peer":
        context = await browser.new_context()
        page = await context.new_page()
        html = (HERE / "peer.html").read_text()
        await page.route(PAGE_URL, lambda route: route.fulfill(body=html, content_type="text/html"))
        await page.goto(PAGE_URL)
        await page.evaluate("startCamera()")
        return cls(name, page)

    async def sample(self) -> dict:
        return await self.page.evaluate("sample()")

    async def close(self) -> None:
        await self.page.context.close()


class RelayCall:
    """A relay room with the pages as its participants; the test carries the signalling."""

    def __init__(self, relay_config=None) -> None:
        from relay import Relay, RelayConfig

        self.relay = Relay(relay_config or RelayConfig(ice_servers=[], loopback=True))
        self.room = self.relay.room("weaklink", self._deliver)
        self.peers: dict[str, Peer] = {}
        self.queues: dict[str, asyncio.Queue] = {}
        self.events: list[tuple[str, dict]] = []
        self._pumps: list[asyncio.Task] = []

    def _deliver(self, participant_id: str, message: dict) -> None:
        self.events.append((participant_id, message))
        queue = self.queues.get(participant_id)
        if queue is not None:
            queue.put_nowait(message)

    async def join(self, peer: Peer) -> None:
        self.peers[peer.name] = peer
        self.queues[peer.name] = asyncio.Queue()
        self._pumps.append(asyncio.ensure_future(self._pump(peer)))
        offer = await peer.page.evaluate("publishOffer()")
        answer = await self.room.publish(peer.name, offer)
        await peer.page.evaluate("sdp => publishAnswer(sdp)", answer)

    async def _pump(self, peer: Peer) -> None:
        queue = self.queues[peer.name]
        while True:
            message = await queue.get()
            try:
                if message["type"] == "subscribe_offer":
                    answer = await peer.page.evaluate(
                        "([id, pub, sdp]) => subscribeOffer(id, pub, sdp)",
                        [message["pc_id"], message["publisher"], message["sdp"]])
                    await self.room.subscribe_answer(peer.name, message["pc_id"], answer)
                elif message["type"] == "unsubscribe":
                    await peer.page.evaluate("id => unsubscribe(id)", message["pc_id"])
            except Exception:  # a page closing at the end of a test
                if not peer.page.is_closed():
                    raise

    async def close(self) -> None:
        for task in self._pumps:
            task.cancel()
        await self.relay.close()


async def p2p_call(a: Peer, b: Peer) -> None:
    """A direct Chromium-to-Chromium call (no relay) between two pages."""
    offer = await a.page.evaluate("p2pStart(null)")
    answer = await b.page.evaluate("sdp => p2pStart(sdp)", offer)
    await a.page.evaluate("sdp => p2pAnswer(sdp)", answer)


def rates(before: dict, after: dict) -> dict[str, dict[str, Any]]:
    """Per sender, between two samples of one page: fps, picture size, freeze seconds,
    audio concealment, kbit/s received, connection state."""
    seconds = (after["t"] - before["t"]) / 1000
    out = {}
    for name, now in after["from"].items():
        then = before["from"].get(name, {})
        samples = now.get("samples", 0) - then.get("samples", 0)
        received = (now.get("transportBytes", 0) - then.get("transportBytes", 0))
        out[name] = {
            "fps": round((now.get("framesDecoded", 0) - then.get("framesDecoded", 0)) / seconds, 1),
            "size": f'{now.get("frameWidth", 0)}x{now.get("frameHeight", 0)}',
            "freeze_s": round(now.get("freezeDuration", 0) - then.get("freezeDuration", 0), 2),
            "concealed": round((now.get("concealed", 0) - then.get("concealed", 0)) / samples, 3)
            if samples > 0 else None,
            "kbps": round(received * 8 / seconds / 1000, 1),
            "state": now.get("state"),
        }
    return out


def total_kbps(before: dict, after: dict) -> float:
    seconds = (after["t"] - before["t"]) / 1000
    received = sum(now.get("transportBytes", 0) - before["from"].get(name, {}).get("transportBytes", 0)
                   for name, now in after["from"].items())
    return round(received * 8 / seconds / 1000, 1)


def layer_stats(stats: dict) -> dict[str, Any]:
    """From RelayRoom.stats(): who gets whose low layer, and how each publisher's low layer runs."""
    return {
        "low_layer_from": {pid: s["low_layer_from"] for pid, s in stats.items() if s["low_layer_from"]},
        "layer_switches": {pid: s["layer_switches"] for pid, s in stats.items() if s["layer_switches"]},
        "low_layers": {pid: s["video"].get("low_layer") for pid, s in stats.items()
                       if "video" in s and s["video"]["low_layers_started"]},
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
