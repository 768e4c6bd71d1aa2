"""Signalling round trip through Daphne and the Redis channel layer with 200 connected clients.

Each client is a staff member in a room of 3 on /ws/rooms/<id>/ and posts a chat line every
`--interval` seconds (random phase); the round trip is from sending it to receiving the stored,
numbered event back through the layer. Baseline in the same run: a bare Channels echo
consumer (no database, no layer) in its own Daphne process, same clients, same pacing.
Prints one JSON object. Needs PostgreSQL and Redis (DATABASE_URL's server, REDIS_URL); works
in a throwaway database that it creates and drops.

    .venv/bin/python bench/live_bench.py [--clients 200] [--seconds 20] [--interval 2]
"""
import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import free_port  # noqa: E402  (bench/, beside this file)


# --- the baseline: a bare echo consumer, served by Daphne as `live_bench:echo_application` ------
def _echo_application():
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class Echo(AsyncWebsocketConsumer):
        async def receive(self, text_data=None, bytes_data=None):
            await self.send(text_data=text_data)

    return ProtocolTypeRouter({"websocket": URLRouter([path("ws/echo/", Echo.as_asgi())])})


if os.environ.get("LIVE_BENCH_ECHO"):
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleclinic.settings")
    django.setup()
    echo_application = _echo_application()


# --- setup -------------------------------------------------------------------------------------


def server_url(database_url: str) -> tuple[str, str]:
    base, _, name = database_url.rpartition("/")
    return base, name


def create_database(database_url: str) -> None:
    import psycopg

    base, name = server_url(database_url)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    import psycopg

    base, name = server_url(database_url)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_rooms(rooms: int) -> list[tuple[int, str]]:
    """Rooms of 3 admitted staff; (room id, session cookie) per client."""
    from ops_common import seed_rooms_of_3  # bench/, beside this file

    return [(room_id, cookie) for room_id, cookies in seed_rooms_of_3(rooms) for cookie in cookies]


def start_process(command, env, log_path) -> subprocess.Popen:
    log = open(log_path, "w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("server did not start")


# --- load --------------------------------------------------------------------------------------
async def _client(url, cookie, origin, make_frame, is_reply, seconds, interval, samples, errors, ready, go, gate):
    import websockets

    headers = {"Cookie": cookie} if cookie else {}
    held = False
    try:
        await gate.acquire()
        held = True  # a few handshakes at a time, as clinics join over minutes, not in one instant
        async with websockets.connect(url, origin=origin, additional_headers=headers, max_size=2**20,
                                      open_timeout=60) as ws:
            if cookie:  # the room socket: join and skip the history
                await ws.send(json.dumps({"type": "join"}))
                welcome = json.loads(await ws.recv())
                assert welcome["type"] == "welcome", welcome
            gate.release()
            held = False
            ready()
            await go.wait()
            await asyncio.sleep(random.random() * interval)
            deadline = time.monotonic() + seconds
            pending: dict[str, float] = {}

            async def reader():
                async for raw in ws:
                    key = is_reply(json.loads(raw))
                    if key in pending:
                        samples.append((time.perf_counter() - pending.pop(key)) * 1000)

            read = asyncio.ensure_future(reader())
            while time.monotonic() < deadline:
                key = uuid.uuid4().hex[:12]
                pending[key] = time.perf_counter()
                await ws.send(json.dumps(make_frame(key)))
                await asyncio.sleep(interval)
            await asyncio.sleep(2)  # let the last replies arrive
            read.cancel()
            errors["lost"] += len(pending)
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures instead of stopping
        if held:
            gate.release()
        errors["failed"] += 1
        errors.setdefault("examples", []).append(repr(exc)[:200])


async def _run_load(targets, origin, make_frame, is_reply, seconds, interval) -> dict:
    samples, errors = [], {"failed": 0, "lost": 0}
    go, connected, gate = asyncio.Event(), [0], asyncio.Semaphore(8)

    def ready():
        connected[0] += 1

    started = time.monotonic()
    tasks = []
    for url, cookie in targets:
        tasks.append(asyncio.ensure_future(_client(url, cookie, origin, make_frame, is_reply, seconds, interval,
                                                   samples, errors, ready, go, gate)))
    while connected[0] + errors["failed"] < len(targets) and time.monotonic() - started < 120:
        await asyncio.sleep(0.1)
    connect_seconds = time.monotonic() - started
    go.set()
    await asyncio.gather(*tasks)
    return {"connected": connected[0], "connect_seconds": round(connect_seconds, 2), **percentiles(samples),
            "lost": errors["lost"], "failed": errors["failed"], "examples": errors.get("examples", [])[:3]}


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)  # noqa: E731
    return {"n": len(ordered), "p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "mean_ms": round(statistics.fmean(ordered), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a client's messages")
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/teleclinic")
    database_url = f"{server_url(server)[0]}/live_bench_{os.getpid()}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="teleclinic.settings",
               CHANNEL_PREFIX=f"bench{os.getpid()}", LOG_LEVEL="WARNING", SECRET_KEY="live-bench-" + uuid.uuid4().hex,
               # persistent connections, as in production: Daphne runs all ORM calls on one thread
               CONN_MAX_AGE=os.environ.get("CONN_MAX_AGE", "60"))
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "CHANNEL_PREFIX",
                                           "SECRET_KEY", "LOG_LEVEL")})
    rooms = (args.clients + 2) // 3
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    create_database(database_url)
    procs = []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        clients = seed_rooms(rooms)[: args.clients]
        from django.db import connections

        connections.close_all()
        room_port, echo_port = free_port(), free_port()
        procs.append(start_process([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(room_port),
                                    "teleclinic.asgi:application"], env, logs / "live_bench_daphne.log"))
        echo_env = dict(env, LIVE_BENCH_ECHO="1", PYTHONPATH=str(ROOT / "bench"))
        procs.append(start_process([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(echo_port),
                                    "live_bench:echo_application"], echo_env, logs / "live_bench_echo.log"))
        wait_port(room_port, procs[0])
        wait_port(echo_port, procs[1])

        def chat(key):
            return {"type": "chat", "text": key}

        def chat_reply(frame):
            return frame.get("data", {}).get("text") if frame.get("kind") == "chat" else None

        baseline = asyncio.run(_run_load([(f"ws://127.0.0.1:{echo_port}/ws/echo/", None)] * args.clients,
                                         f"http://127.0.0.1:{echo_port}",
                                         lambda key: {"type": "echo", "k": key}, lambda f: f.get("k"),
                                         args.seconds, args.interval))
        room_socket = asyncio.run(_run_load(
            [(f"ws://127.0.0.1:{room_port}/ws/rooms/{room_id}/", cookie) for room_id, cookie in clients],
            f"http://127.0.0.1:{room_port}",  # the socket's own origin, port included (issue 13's check)
            chat, chat_reply, args.seconds, args.interval))
        print(json.dumps({
            "bench": "live_signalling",
            "what": "chat round trip on /ws/rooms/<id>/ (stored as a numbered RoomEvent in PostgreSQL, fanned out "
                    "through RedisPubSubChannelLayer to the 3 sockets of the room), one Daphne process",
            "clients": args.clients, "rooms_of_3": rooms, "seconds": args.seconds,
            "messages_per_client_per_second": round(1 / args.interval, 2),
            "room_socket_rtt": room_socket,
            "baseline_bare_echo_rtt": baseline,
            "p50_ratio": round(room_socket.get("p50_ms", 0) / baseline["p50_ms"], 1) if baseline.get("p50_ms") else None,
            "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
        }, ensure_ascii=False))
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(database_url)


if __name__ == "__main__":
    main()
