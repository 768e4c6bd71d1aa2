"""Room signalling per Daphne process (issue 8): N authenticated room sockets on /ws/rooms/<id>/ in
rooms of 3, each client posting 2 chat lines per second. A chat line is a room event: numbered under
the room's row lock, stored in PostgreSQL, then fanned out through RedisPubSubChannelLayer to the
room's 3 sockets. Measured: delivery latency from the sender's send to each of the 2 others'
receipt (p50/p95/p99), the sender's own echo, lost deliveries, and each socket's seq contiguity.
Goal: 600 clients per process, p95 < 50 ms, zero loss.

Baselines in the same run: the same application with 10 clients, and a bare Channels app (no
database, no authentication: a frame is group_sent to its room over the same channel layer and
echoed to the room's sockets) at the top level, in a Daphne process of its own.

Prints one JSON object. Bounded: BENCH_SECONDS (15) of sending per level. Creates and drops its own
database (bench/ops_common.py). Env: BENCH_LEVELS ("10,300,600"), BENCH_RATE (2 per client per s),
BENCH_BARE_LEVEL (the top level; 0 skips the bare app).
"""
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ops_common  # noqa: E402
from ops_ws_bench import redis_run_id, watch_redis  # noqa: E402

LEVELS = [int(n) for n in os.environ.get("BENCH_LEVELS", "10,300,600").split(",")]
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
RATE = float(os.environ.get("BENCH_RATE", "2"))
BARE_LEVEL = int(os.environ.get("BENCH_BARE_LEVEL", str(max(LEVELS))))
DRAIN_S = 5.0


# --- the bare baseline: served by Daphne as `ops_room_ws_bench:bare_application` ---------------
def _bare_application():
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.core.asgi import get_asgi_application
    from django.urls import path

    http = get_asgi_application()

    class BareRoom(AsyncWebsocketConsumer):
        async def connect(self):
            self.group = f"bare.{self.scope['url_route']['kwargs']['room_id']}"
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.accept()

        async def disconnect(self, code):
            await self.channel_layer.group_discard(self.group, self.channel_name)

        async def receive(self, text_data=None, bytes_data=None):
            await self.channel_layer.group_send(self.group, {"type": "bare.frame", "text": text_data})

        async def bare_frame(self, message):
            await self.send(text_data=message["text"])

    return ProtocolTypeRouter({"http": http,
                               "websocket": URLRouter([path("ws/bare/<int:room_id>/", BareRoom.as_asgi())])})


if os.environ.get("OPS_ROOM_BARE"):
    import django

    django.setup()
    bare_application = _bare_application()
    from teleclinic.gc_tuning import collect_less_often

    collect_less_often()  # as teleclinic/asgi.py does for the application


# --- seeding -----------------------------------------------------------------------------------
def seed(rooms: int) -> list[tuple[int, list[str]]]:
    """`rooms` open rooms, each with its 3 staff admitted: per room, (room id, the 3 session cookies)."""
    return ops_common.seed_rooms_of_3(rooms)


# --- clients -----------------------------------------------------------------------------------
class Client:
    """One socket. Chat lines carry "<sender> <n> <send time>"; every receipt is recorded."""

    def __init__(self, index: int, url: str, cookie: str | None, origin: str):
        self.index, self.url, self.cookie, self.origin = index, url, cookie, origin
        self.socket = None
        self.sent = 0
        self.send_failures = 0
        self.from_others: list[float] = []  # latency (ms) of each line of the 2 others received
        self.own: list[float] = []  # latency (ms) of our own lines coming back
        self.received_keys: set[tuple[int, int]] = set()
        self.last_seq: int | None = None
        self.gaps = self.repeats = 0
        self.errors: list[str] = []

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.socket = await connect(self.url, origin=self.origin, additional_headers=headers, open_timeout=60,
                                    compression=None, max_size=2**20)
        if self.cookie:  # the application: join as a page does (the room's history follows welcome)
            await self.socket.send(json.dumps({"type": "join"}))
            while (frame := json.loads(await asyncio.wait_for(self.socket.recv(), 60)))["type"] != "welcome":
                self._frame(frame)

    async def receive(self) -> None:
        async for raw in self.socket:
            self._frame(json.loads(raw), time.time())

    def _frame(self, frame: dict, now: float = 0.0) -> None:
        kind = frame.get("type")
        if kind == "event":
            seq = frame["seq"]
            if self.last_seq is not None and seq <= self.last_seq:
                self.repeats += 1
                return
            if self.last_seq is not None and seq > self.last_seq + 1:
                self.gaps += 1
            self.last_seq = seq
            if frame["kind"] == "chat":
                self._line(frame["data"]["text"], now)
        elif kind == "chat":  # the bare app echoes the client's frame as sent
            self._line(frame["text"], now)
        elif kind == "error":
            self.errors.append(frame.get("code", "?"))

    def _line(self, text: str, now: float) -> None:
        sender, n, sent_at = text.split()
        key = (int(sender), int(n))
        if key in self.received_keys:
            return
        self.received_keys.add(key)
        (self.own if key[0] == self.index else self.from_others).append((now - float(sent_at)) * 1000)

    async def send_lines(self, start: float, rounds: int) -> None:
        period = 1 / RATE
        phase = random.random() * period
        for n in range(rounds):
            delay = start + phase + n * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.socket.send(json.dumps({"type": "chat", "text": f"{self.index} {n} {time.time():.6f}"}))
                self.sent += 1
            except Exception:  # noqa: BLE001 - counted; the line is lost
                self.send_failures += 1


async def _loop_lag(samples: list[float]) -> None:
    """How late this process's event loop wakes up: a client-side delay shows here, not in the server."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(0.05)
        samples.append((time.monotonic() - before - 0.05) * 1000)


async def run_level(targets: list[tuple[str, str | None]], groups: list[list[int]], server_pid: int,
                    origin: str) -> dict:
    """`targets`: (url, cookie) per client; `groups`: the client indexes of each room."""
    clients = [Client(i, url, cookie, origin) for i, (url, cookie) in enumerate(targets)]
    # The machine is shared: another user restarting Redis mid-level invalidates the level's figures.
    redis_ids = {redis_run_id()}
    watcher = asyncio.create_task(watch_redis(redis_ids))
    gate = asyncio.Semaphore(20)  # clinics open their pages over time, not in one instant
    failed: list[str] = []

    async def open_one(client: Client) -> None:
        async with gate:
            for attempt in range(3):
                try:
                    return await client.open()
                except Exception as exc:  # noqa: BLE001 - a bench counts failures
                    if attempt == 2:
                        failed.append(repr(exc)[:200])
                    await asyncio.sleep(1)

    began = time.monotonic()
    await asyncio.gather(*(open_one(c) for c in clients))
    connect_s = time.monotonic() - began
    up = [c for c in clients if c.socket is not None]
    readers = [asyncio.create_task(c.receive()) for c in up]
    await asyncio.sleep(1)
    lag: list[float] = []
    lagger = asyncio.create_task(_loop_lag(lag))
    cpu = ops_common.CpuMeter({"daphne": server_pid, "bench_clients": os.getpid()})
    rounds = int(SECONDS * RATE)
    start = time.monotonic() + 0.2
    await asyncio.gather(*(c.send_lines(start, rounds) for c in up))
    deadline = time.monotonic() + DRAIN_S
    by_index = {c.index: c for c in clients}
    while time.monotonic() < deadline and _missing(groups, by_index):
        await asyncio.sleep(0.1)
    usage = cpu.read()
    lagger.cancel()
    watcher.cancel()
    redis_ids.add(redis_run_id())
    for client in up:
        await client.socket.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    others = [ms for c in clients for ms in c.from_others]
    own = [ms for c in clients for ms in c.own]
    sent = sum(c.sent for c in clients)
    return {
        "clients": len(clients), "redis_restarts_seen": len(redis_ids - {"unreachable"}) - 1,
        "connected": len(up), "connect_failed": len(failed), "connect_errors": failed[:3],
        "connect_all_s": round(connect_s, 2), "lines_sent": sent,
        "send_failures": sum(c.send_failures for c in clients),
        "delivery_to_others": ops_common.percentiles(others),
        "own_echo": ops_common.percentiles(own),
        "lost_deliveries": _missing(groups, by_index),
        "gaps": sum(c.gaps for c in clients), "repeats": sum(c.repeats for c in clients),
        "error_frames": sorted({e for c in clients for e in c.errors}),
        "bench_loop_lag_ms": ops_common.percentiles(lag), **usage,
        # the server's own cost, whatever else runs on the machine: CPU time per line taken in and sent out
        "daphne_cpu_ms_per_line": round(1000 * usage["daphne_cpu_s"] / max(1, sent), 2),
    }


def _missing(groups: list[list[int]], clients: dict[int, Client]) -> int:
    """Deliveries still missing: each line sent reaches every socket of its room (the sender too)."""
    missing = 0
    for group in groups:
        for sender in group:
            for receiver in group:
                got = sum(1 for key in clients[receiver].received_keys if key[0] == sender)
                missing += clients[sender].sent - got
    return missing


def _rooms_of_3(count: int) -> list[list[int]]:
    return [list(range(n, min(n + 3, count))) for n in range(0, count, 3)]


def main() -> None:
    ops_common.setup_django()
    ops_common.many_clients_process()
    started, load_before = time.monotonic(), os.getloadavg()
    results: dict[str, dict] = {}
    try:
        seeded, rooms = seed(sum(-(-level // 3) for level in LEVELS)), {}
        for level in LEVELS:  # each level in rooms of its own (no history to send on join)
            rooms[level], seeded = seeded[:-(-level // 3)], seeded[-(-level // 3):]
        from django.db import connections

        connections.close_all()
        with tempfile.TemporaryDirectory() as tmp:
            with ops_common.daphne_process(Path(tmp) / "daphne.log") as daphne:
                origin = f"http://127.0.0.1:{daphne.port}"
                for level in LEVELS:
                    targets = [(f"ws://127.0.0.1:{daphne.port}/ws/rooms/{room}/", cookie)
                               for room, cookies in rooms[level] for cookie in cookies][:level]
                    results[str(level)] = {"loadavg_1m": round(os.getloadavg()[0], 2), **asyncio.run(
                        run_level(targets, _rooms_of_3(level), daphne.pid, origin))}
                    time.sleep(3)  # the level's disconnects are processed before the next one
            bare = None
            if BARE_LEVEL:
                env = {"OPS_ROOM_BARE": "1", "PYTHONPATH": str(Path(__file__).resolve().parent)}
                with ops_common.daphne_process(Path(tmp) / "bare.log", app="ops_room_ws_bench:bare_application",
                                               **env) as server:
                    targets = [(f"ws://127.0.0.1:{server.port}/ws/bare/{n // 3}/", None) for n in range(BARE_LEVEL)]
                    bare = {"loadavg_1m": round(os.getloadavg()[0], 2), **asyncio.run(
                        run_level(targets, _rooms_of_3(BARE_LEVEL), server.pid, f"http://127.0.0.1:{server.port}"))}
    finally:
        ops_common.drop_database()
    baseline, levels = results[str(LEVELS[0])], {k: v for k, v in results.items() if k != str(LEVELS[0])}
    top = results.get("600")
    print(json.dumps({
        "bench": "ops_room_ws", "daphne_processes": 1, "layer": "RedisPubSubChannelLayer",
        "what": "chat lines on /ws/rooms/<id>/ in rooms of 3: session auth, stored and numbered per room, "
                "fanned out to the room's sockets",
        "messages_per_client_per_s": RATE, "seconds": SECONDS, "levels": levels, "baseline": baseline,
        "baseline_bare_channels_app": bare,
        "goal_600_p95_under_50ms_no_loss": None if top is None else bool(
            top["connected"] == 600 and top["lost_deliveries"] == 0 and top["gaps"] == 0
            and top["send_failures"] == 0  # a line that could not be sent is a line lost
            and top["delivery_to_others"].get("p95_ms", 1e9) < 50),
        "machine": ops_common.machine(load_before),
        "wall_s": round(time.monotonic() - started, 1),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
