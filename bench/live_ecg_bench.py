"""Live ECG in rooms of 3 through one Daphne process, PostgreSQL and the Redis channel layer.

1. Device streams: in each room the host sends a 12-lead, 500 Hz chunk every 250 ms (125 samples
   per lead, ~4 KB of JSON); the two others measure the time from the host sending a chunk to
   receiving it (each chunk is one EcgChunk row before it is fanned out), and count chunks lost or
   out of order. Baseline in the same run: the host posts a chat line at the same rate instead, a
   numbered room event (the room's row lock and sequence) -- what a chunk would cost if every
   chunk were a room event.
2. Replays: every room replays the 10 s 12-lead 1000 Hz reference ECG at once (asyncio tasks in
   the Daphne process). Figures: Daphne's CPU (cores) during the replays against the same sockets
   idle for as long, and the pacing (time from first to last chunk at a viewer / the record's time).

Prints one JSON object. Needs PostgreSQL and Redis; works in a throwaway database it creates and
drops, with a throwaway MEDIA_ROOT.

    .venv/bin/python bench/live_ecg_bench.py [--rooms 10] [--seconds 20]
"""
import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import free_port  # noqa: E402
from live_bench import (create_database, drop_database, percentiles, seed_rooms, server_url,  # noqa: E402
                        start_process, wait_port)

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
RATE, CHUNK, INTERVAL = 500, 125, 0.25


def _add_ecgs() -> dict[int, int]:
    """An uploaded ECG (the 10 s reference record) for every room's consultation: room id -> ECG id."""
    from django.db import transaction
    from pydicom.data import get_testdata_file

    from live.models import Room
    from studies.formats.ecg import read_dicom_ecg
    from studies.services.ingest import Source, ecg_measure, ecg_signal_store
    from studies.services.storage import files_or_nothing

    with open(get_testdata_file("waveform_ecg.dcm"), "rb") as source:
        parsed = ecg_measure(read_dicom_ecg(source.read()))
    ecgs = {}
    for room in Room.objects.select_related("consultation__patient", "host__organisation"):
        with files_or_nothing() as files, transaction.atomic():
            record = ecg_signal_store(parsed=parsed, files=files, source=Source(
                by=room.host, organisation=room.host.organisation, consultation=room.consultation,
                patient=room.consultation.patient))
        ecgs[room.pk] = record.pk
    return ecgs


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Room:
    """The three sockets of one room: [host, viewer, viewer]."""

    def __init__(self, room_id: int, sockets):
        self.room_id, self.sockets = room_id, sockets
        self.sent: dict[tuple, float] = {}


async def _connect(url: str, cookie: str):
    import websockets

    origin = "http://" + urlsplit(url).netloc  # the socket's own origin, port included (issue 13's check)
    ws = await websockets.connect(url, origin=origin, additional_headers={"Cookie": cookie},
                                  max_size=2**22, open_timeout=60)
    await ws.send(json.dumps({"type": "join"}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def _open_rooms(port: int, clients) -> list[Room]:
    by_room: dict[int, list] = {}
    for room_id, cookie in clients:
        by_room.setdefault(room_id, []).append(await _connect(f"ws://127.0.0.1:{port}/ws/rooms/{room_id}/", cookie))
    return [Room(room_id, sockets) for room_id, sockets in by_room.items()]


async def _read(ws, on_frame, stop: asyncio.Event):
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
        except asyncio.TimeoutError:
            continue
        on_frame(json.loads(raw), time.perf_counter())


def _chunk_leads(seq: int) -> dict[str, str]:
    t = (np.arange(CHUNK) + seq * CHUNK) / RATE
    wave = np.round(800 * np.sin(2 * np.pi * 1.2 * t)).astype("<i2")
    return {name: base64.b64encode((wave + i).astype("<i2").tobytes()).decode() for i, name in enumerate(LEADS)}


async def _device_phase(rooms: list[Room], seconds: float, chat: bool, daphne_pid: int) -> dict:
    """Every host sends a chunk (or a chat line) every 250 ms; the viewers time what arrives."""
    samples, got = [], {}
    order_errors = [0]
    for room in rooms:
        room.sent = {}
    stop = asyncio.Event()
    streams = {}
    if not chat:
        for room in rooms:
            await room.sockets[0].send(json.dumps({"type": "ecg_start", "leads": LEADS, "sampling_rate": RATE,
                                                   "units": "uV"}))
        for room in rooms:
            while room.room_id not in streams:
                frame = json.loads(await room.sockets[0].recv())
                if frame.get("kind") == "ecg.started":
                    streams[room.room_id] = frame["data"]["stream"]

    def viewer(room, who):
        def on_frame(frame, at):
            if chat and frame.get("kind") == "chat":
                key = frame["data"]["text"]
            elif not chat and frame.get("type") == "ecg_chunk":
                key = frame["seq"]
                last = got.get((room.room_id, who), -1)
                if key != last + 1:
                    order_errors[0] += 1
                got[(room.room_id, who)] = key
            else:
                return
            sent = room.sent.get(key)
            if sent is not None:
                samples.append((at - sent) * 1000)
        return on_frame

    readers = [asyncio.ensure_future(_read(ws, viewer(room, who), stop))
               for room in rooms for who, ws in enumerate(room.sockets[1:], 1)]
    host_errors: list[dict] = []  # error frames the hosts get (a refused chunk or stop would otherwise go unseen)

    def on_host_frame(frame, at):
        if frame.get("type") == "error":
            host_errors.append({k: frame.get(k) for k in ("code", "detail")})

    host_readers = [asyncio.ensure_future(_read(room.sockets[0], on_host_frame, stop)) for room in rooms]

    async def host(room):
        await asyncio.sleep(INTERVAL * (room.room_id % 10) / 10)  # spread the rooms' phases
        n = int(seconds / INTERVAL)
        started = time.perf_counter()
        for seq in range(n):
            key = f"c{seq}-{uuid.uuid4().hex[:6]}" if chat else seq
            room.sent[key] = time.perf_counter()
            message = ({"type": "chat", "text": key} if chat else
                       {"type": "ecg_chunk", "stream": streams[room.room_id], "seq": seq, "leads": _chunk_leads(seq)})
            await room.sockets[0].send(json.dumps(message))
            await asyncio.sleep(max(0.0, started + (seq + 1) * INTERVAL - time.perf_counter()))
        return n

    cpu0 = _cpu_seconds(daphne_pid)
    sent = sum(await asyncio.gather(*(host(room) for room in rooms)))
    await asyncio.sleep(3)
    cpu = _cpu_seconds(daphne_pid) - cpu0
    for room in rooms if not chat else []:  # (its save is queued to nowhere: no worker here)
        await room.sockets[0].send(json.dumps({"type": "ecg_stop", "stream": streams[room.room_id]}))
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*readers, *host_readers)
    expected = sent * 2
    return {**percentiles(samples), "sent": sent, "expected_at_viewers": expected,
            "lost": expected - len(samples), "out_of_order": order_errors[0], "host_error_frames": host_errors[:10],
            "daphne_cpu_ms_per_message": round(cpu * 1000 / sent, 2)}


async def _replay_phase(rooms: list[Room], ecgs: dict[int, int], daphne_pid: int) -> dict:
    stop = asyncio.Event()
    arrivals: dict[int, list[float]] = {}

    replayed: set[int] = set()

    def on_frame(room):
        def handle(frame, at):
            if frame.get("kind") == "ecg.started" and frame["data"]["source"] == "replay":
                replayed.add(frame["data"]["stream"])
            elif frame.get("type") == "ecg_chunk" and frame["stream"] in replayed:
                arrivals.setdefault(room.room_id, []).append(at)
        return handle

    readers = [asyncio.ensure_future(_read(room.sockets[1], on_frame(room), stop)) for room in rooms]
    errors: list[dict] = []  # error frames the hosts get (a replay refused would otherwise go unseen)

    def on_host_frame(frame, at):
        if frame.get("type") == "error":
            errors.append({k: frame.get(k) for k in ("code", "detail")})

    others = [asyncio.ensure_future(_read(room.sockets[0], on_host_frame, stop)) for room in rooms]
    others += [asyncio.ensure_future(_read(room.sockets[2], lambda f, at: None, stop)) for room in rooms]
    # baseline: the same sockets, idle, for the replay's 10 s (once the device phase's backlog is gone)
    for _ in range(60):
        cpu0 = _cpu_seconds(daphne_pid)
        await asyncio.sleep(1)
        if _cpu_seconds(daphne_pid) - cpu0 < 0.05:
            break
    cpu0, t0 = _cpu_seconds(daphne_pid), time.perf_counter()
    await asyncio.sleep(10)
    idle_cores = (_cpu_seconds(daphne_pid) - cpu0) / (time.perf_counter() - t0)
    cpu0, t0 = _cpu_seconds(daphne_pid), time.perf_counter()
    for room in rooms:
        await room.sockets[0].send(json.dumps({"type": "ecg_replay", "ecg": ecgs[room.room_id]}))
    while sum(len(a) for a in arrivals.values()) < 40 * len(rooms) and time.perf_counter() - t0 < 60:
        await asyncio.sleep(0.1)
    busy_cores = (_cpu_seconds(daphne_pid) - cpu0) / (time.perf_counter() - t0)
    stop.set()
    await asyncio.gather(*readers, *others)
    spans = [(a[-1] - a[0]) / (10.0 - 0.25) for a in arrivals.values() if len(a) > 1]
    return {"replays": len(rooms), "chunks_received": sum(len(a) for a in arrivals.values()),
            "chunks_expected": 40 * len(rooms), "rooms_replaying": len(arrivals), "host_error_frames": errors,
            "daphne_cores_during_replays": round(busy_cores, 3),
            "baseline_daphne_cores_idle_sockets": round(idle_cores, 3),
            "cores_per_replay": round((busy_cores - idle_cores) / len(rooms), 4),
            "pacing_ratio_min": round(min(spans), 3) if spans else None,
            "pacing_ratio_max": round(max(spans), 3) if spans else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/teleclinic")
    database_url = f"{server_url(server)[0]}/live_ecg_bench_{os.getpid()}"
    media = tempfile.mkdtemp(prefix="live-ecg-bench-")
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
               DJANGO_SETTINGS_MODULE="teleclinic.settings", CHANNEL_PREFIX=f"ecgbench{os.getpid()}",
               LOG_LEVEL="WARNING", SECRET_KEY="live-ecg-bench-" + uuid.uuid4().hex, MEDIA_ROOT=media,
               CONN_MAX_AGE=os.environ.get("CONN_MAX_AGE", "60"),
               CELERY_BROKER_URL="memory://")  # nothing is saved here: no task may reach a real worker
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "CHANNEL_PREFIX",
                                           "SECRET_KEY", "LOG_LEVEL", "MEDIA_ROOT", "CELERY_BROKER_URL")})
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    create_database(database_url)
    daphne = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        clients = seed_rooms(args.rooms)
        ecgs = _add_ecgs()
        from django.db import connections

        connections.close_all()
        port = free_port()
        daphne = start_process([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                "teleclinic.asgi:application"], env, logs / "live_ecg_bench_daphne.log")
        wait_port(port, daphne)

        async def run():
            rooms = await _open_rooms(port, clients)
            chat = await _device_phase(rooms, args.seconds, chat=True, daphne_pid=daphne.pid)
            device = await _device_phase(rooms, args.seconds, chat=False, daphne_pid=daphne.pid)
            replay = await _replay_phase(rooms, ecgs, daphne.pid)
            for room in rooms:
                for ws in room.sockets:
                    await ws.close()
            return chat, device, replay

        chat, device, replay = asyncio.run(run())
        print(json.dumps({
            "bench": "live_ecg",
            "what": f"{args.rooms} rooms of 3, one Daphne process, PostgreSQL, Redis layer: a 12-lead 500 Hz chunk "
                    "every 250 ms from each host to the 2 others (stored as an EcgChunk row, then fanned out); "
                    "then every room replays a 10 s 12-lead 1000 Hz ECG at once",
            "seconds": args.seconds,
            "device_chunk_latency": device,
            "baseline_chat_event_latency_same_rate": chat,
            "p50_ratio": round(device["p50_ms"] / chat["p50_ms"], 2) if chat.get("p50_ms") and device.get("p50_ms") else None,
            "replay": replay,
            "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
        }, ensure_ascii=False))
    finally:
        if daphne is not None:
            daphne.terminate()
            try:
                daphne.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daphne.kill()
        drop_database(database_url)
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
