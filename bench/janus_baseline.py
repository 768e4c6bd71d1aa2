"""Janus's VideoRoom as a baseline for bench/relay_bench.py: starts Debian's `janus`
(scripts/install-system-deps.sh installs it) with a configuration of its own, and speaks
its HTTP API for the bench's simulated participants, with the same methods as RelayRoom
(`publish`, `subscribe_answer`; `subscribe_offer` messages to the subscribers).

Janus gathers candidates only on non-loopback interfaces; the bench's participants are
on 127.0.0.1, so Janus runs with bench/janus_loopback.c preloaded (built here with gcc).
"""

import asyncio
import itertools
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

import aiohttp

DEBIAN_CONFIG = Path("/etc/janus/janus.jcfg")  # where Debian's package says its folders are
SHIM_SOURCE = Path(__file__).with_name("janus_loopback.c")
KEPT_PLUGIN = "libjanus_videoroom.so"
KEPT_TRANSPORT = "libjanus_http.so"


def _debian_folders() -> dict[str, str]:
    text = DEBIAN_CONFIG.read_text()
    folders = {}
    for key in ("plugins_folder", "transports_folder", "events_folder", "loggers_folder"):
        match = re.search(rf'^\s*{key}\s*=\s*"([^"]+)"', text, re.MULTILINE)
        if match:
            folders[key] = match.group(1)
    return folders


def _others(folder: str, kept: str) -> str:
    return ",".join(sorted(p.name for p in Path(folder).glob("*.so") if p.name != kept))


class JanusProcess:
    """One Janus, HTTP API on 127.0.0.1:``http_port``, RTP in ``rtp_ports`` (min, max)."""

    def __init__(self, http_port: int, rtp_ports: tuple[int, int]) -> None:
        self.http_port, self.rtp_ports = http_port, rtp_ports
        self.url = f"http://127.0.0.1:{http_port}/janus"
        self._dir = Path(tempfile.mkdtemp(prefix="janus-bench-"))
        self.process: Optional[subprocess.Popen] = None

    @staticmethod
    def available() -> Optional[str]:
        """None if Janus can run here, else why not."""
        for tool in ("janus", "gcc"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (scripts/install-system-deps.sh installs it)"
        if not DEBIAN_CONFIG.exists():
            return f"{DEBIAN_CONFIG} missing (Debian's janus package)"
        return None

    def _configure(self) -> None:
        folders = _debian_folders()
        general = "\n".join(f'  {k} = "{v}"' for k, v in folders.items())
        (self._dir / "janus.jcfg").write_text(f"""general: {{
  configs_folder = "{self._dir}"
{general}
  debug_level = 3
  session_timeout = 120
}}
media: {{
  rtp_port_range = "{self.rtp_ports[0]}-{self.rtp_ports[1]}"
}}
nat: {{
  ice_enforce_list = "lo"
}}
plugins: {{
  disable = "{_others(folders['plugins_folder'], KEPT_PLUGIN)}"
}}
transports: {{
  disable = "{_others(folders['transports_folder'], KEPT_TRANSPORT)}"
}}
""")
        (self._dir / "janus.transport.http.jcfg").write_text(f"""general: {{
  json = "compact"
  base_path = "/janus"
  http = true
  port = {self.http_port}
  ip = "127.0.0.1"
  https = false
}}
admin: {{
  admin_http = false
}}
""")
        (self._dir / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(self._dir / "janus_loopback.so"),
                        str(SHIM_SOURCE), "-ldl"], check=True)

    def start(self, timeout: float = 20.0) -> int:
        self._configure()
        log = open(self._dir / "janus.log", "wb")
        self.process = subprocess.Popen(
            ["janus", "-F", str(self._dir), "-C", str(self._dir / "janus.jcfg"), "-o"],
            stdout=log, stderr=subprocess.STDOUT,
            env={"LD_PRELOAD": str(self._dir / "janus_loopback.so"), "PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/info", timeout=1) as response:
                    if response.status == 200:
                        return self.process.pid
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"janus did not answer on {self.url}: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        path = self._dir / "janus.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


class JanusSession:
    """One Janus API session (HTTP, events by long poll), shared by a client process's rooms."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http: Optional[aiohttp.ClientSession] = None
        self._ids = itertools.count()
        self._events: dict[int, asyncio.Queue] = {}  # handle -> its plugin events
        self.session_url = ""
        self._poll: Optional[asyncio.Task] = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        created = await self._post(self.url, {"janus": "create"})
        self.session_url = f"{self.url}/{created['data']['id']}"
        self._poll = asyncio.ensure_future(self._long_poll())

    async def _post(self, url: str, body: dict) -> dict:
        body = {**body, "transaction": f"t{next(self._ids)}"}
        async with self._http.post(url, json=body) as response:
            reply = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {reply['error']}")
        return reply

    async def _long_poll(self) -> None:
        while True:
            try:
                async with self._http.get(f"{self.session_url}?maxev=10",
                                          timeout=aiohttp.ClientTimeout(total=60)) as response:
                    reply = await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.1)
                continue
            for event in reply if isinstance(reply, list) else [reply]:
                if event.get("janus") == "event" and "sender" in event:
                    self._queue(event["sender"]).put_nowait(event)

    def _queue(self, handle: int) -> asyncio.Queue:
        return self._events.setdefault(handle, asyncio.Queue())

    async def attach(self) -> int:
        reply = await self._post(self.session_url, {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        return reply["data"]["id"]

    async def request(self, handle: int, body: dict) -> dict:
        """A synchronous VideoRoom request (create, list...): the plugin's answer."""
        reply = await self._post(f"{self.session_url}/{handle}", {"janus": "message", "body": body})
        return reply["plugindata"]["data"]

    async def message(self, handle: int, body: dict, jsep: Optional[dict] = None,
                      wait_for: Optional[Callable[[dict], bool]] = None, timeout: float = 20.0) -> dict:
        """An asynchronous request: returns the handle's first event that ``wait_for`` accepts."""
        payload: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        await self._post(f"{self.session_url}/{handle}", payload)
        queue = self._queue(handle)
        deadline = time.monotonic() + timeout
        while True:
            event = await asyncio.wait_for(queue.get(), max(deadline - time.monotonic(), 0.01))
            data = event.get("plugindata", {}).get("data", {})
            if "error" in data:
                raise RuntimeError(f"janus videoroom: {data['error']}")
            if wait_for is None or wait_for(event):
                return event

    async def trickle_done(self, handle: int) -> None:
        # aiortc's SDP carries all its candidates: tell Janus there are no more
        await self._post(f"{self.session_url}/{handle}", {"janus": "trickle", "candidate": {"completed": True}})

    async def close(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
        if self._http is not None:
            try:
                await self._post(self.session_url, {"janus": "destroy"})
            except (aiohttp.ClientError, RuntimeError):
                pass
            await self._http.close()


class JanusRoom:
    """A VideoRoom with RelayRoom's methods: every participant publishes its audio and
    video, and subscribes to each other one on a connection of its own (as with our relay)."""

    def __init__(self, session: JanusSession, room: int, send: Callable[[str, dict], None]) -> None:
        self._session, self._room, self._send = session, room, send
        self._feeds: dict[str, int] = {}  # participant -> Janus feed id
        self._created = False

    async def _create(self) -> None:
        handle = await self._session.attach()
        await self._session.request(handle, {
            "request": "create", "room": self._room, "publishers": 10, "videocodec": "vp8",
            "audiocodec": "opus", "bitrate": 0, "permanent": False})
        self._created = True

    async def publish(self, participant_id: str, offer_sdp: str) -> str:
        if not self._created:
            await self._create()
        handle = await self._session.attach()
        event = await self._session.message(
            handle, {"request": "joinandconfigure", "room": self._room, "ptype": "publisher",
                     "display": participant_id, "audio": True, "video": True},
            jsep={"type": "offer", "sdp": offer_sdp}, wait_for=lambda e: "jsep" in e)
        await self._session.trickle_done(handle)
        feed = event["plugindata"]["data"]["id"]
        others = dict(self._feeds)
        self._feeds[participant_id] = feed
        for other, other_feed in others.items():
            asyncio.ensure_future(self._subscribe(other, participant_id, feed))
            asyncio.ensure_future(self._subscribe(participant_id, other, other_feed))
        return event["jsep"]["sdp"]

    async def _subscribe(self, subscriber: str, publisher: str, feed: int) -> None:
        handle = await self._session.attach()
        for attempt in itertools.count():
            # Janus refuses ("No such feed") until the publisher's connection is up
            try:
                event = await self._session.message(
                    handle, {"request": "join", "room": self._room, "ptype": "subscriber",
                             "streams": [{"feed": feed}]}, wait_for=lambda e: "jsep" in e)
                break
            except RuntimeError as exc:
                if "No such feed" not in str(exc) or attempt >= 100:
                    raise
                await asyncio.sleep(0.1)
        self._send(subscriber, {"type": "subscribe_offer", "pc_id": str(handle),
                                "publisher": publisher, "sdp": event["jsep"]["sdp"]})

    async def subscribe_answer(self, participant_id: str, pc_id: str, answer_sdp: str) -> None:
        handle = int(pc_id)
        await self._session.message(handle, {"request": "start"},
                                    jsep={"type": "answer", "sdp": answer_sdp},
                                    wait_for=lambda e: e["plugindata"]["data"].get("started") == "ok")
        await self._session.trickle_done(handle)
