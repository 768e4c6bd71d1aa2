"""Benchmark of the media relay: relay CPU per 3-person room and delivered fps, added
latency, and time to first picture, against aiortc's MediaRelay and a direct connection.

The relay runs in its own process (its CPU time is what is measured); the simulated
participants run in another. Publishers send a VP8 clip encoded once beforehand, so the
clients do not need to encode; subscribers count encoded frames without decoding them.
The clips carry a camera's load (a textured, panning scene with sensor noise, encoded at
600 kbit/s and 1.5 Mbit/s); every figure is printed beside the bit rate and the RTP
packets per second that the subscribers measured in the same window.

    .venv/bin/python bench/relay_bench.py                 # about 2-3 minutes
    .venv/bin/python bench/relay_bench.py --rooms 1 2 --baseline-rooms 1 --seconds 3

Prints one JSON object. RELAY_PROFILE=<file> writes a cProfile of the relay process (from
RELAY_PROFILE_AT seconds after its start) to that file.
"""

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack  # noqa: E402

from janus_baseline import JanusProcess, JanusRoom, JanusSession  # noqa: E402  (bench/, beside this file)
from relay import Relay, RelayConfig  # noqa: E402
from relay.room import RelayRoom  # noqa: E402
from relay.passthrough import loopback_candidates  # noqa: E402
from relay.rtcp_feedback import on_keyframe_request  # noqa: E402
from relay.sim import (  # noqa: E402
    NO_ICE_SERVERS,
    ClipTrack,
    Received,
    SimParticipant,
    clip_bitrate,
    encode_camera_clip,
    wait_for,
)

WIDTH, HEIGHT, FPS = 640, 480, 30
# Janus's HTTP API and RTP ports (a port range of this bench's own, clear of the relay's
# ephemeral ones); --janus-port moves them
JANUS_HTTP_PORT = 18601
JANUS_RTP_PORTS = (18610, 18699)
PEOPLE_PER_ROOM = 3


# --- the relay process ---------------------------------------------------------------


class MediaRelayRoom:
    """Baseline: aiortc's documented way to fan out, MediaRelay. Every upstream is decoded
    and every subscriber gets its own encoder. Same signalling methods as RelayRoom."""

    def __init__(self, send) -> None:
        self._send = send
        self._media_relay = MediaRelay()
        self._tracks: dict[str, dict[str, Any]] = {}
        self._pcs: dict[str, RTCPeerConnection] = {}
        self._counter = itertools.count()

    async def publish(self, participant_id: str, offer_sdp: str) -> str:
        pc = RTCPeerConnection(NO_ICE_SERVERS)
        self._pcs[f"up-{participant_id}"] = pc
        tracks = self._tracks[participant_id] = {}
        pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        with loopback_candidates():
            await pc.setLocalDescription(await pc.createAnswer())
        for other in list(self._tracks):
            if other != participant_id:
                await self._offer(participant_id, other)
                await self._offer(other, participant_id)
        return pc.localDescription.sdp

    async def _offer(self, publisher: str, subscriber: str) -> None:
        pc = RTCPeerConnection(NO_ICE_SERVERS)
        pc_id = f"pc{next(self._counter)}"
        self._pcs[pc_id] = pc
        for kind in ("audio", "video"):
            track = self._tracks[publisher].get(kind)
            if track is not None:
                pc.addTrack(self._media_relay.subscribe(track))
        with loopback_candidates():
            await pc.setLocalDescription(await pc.createOffer())
        self._send(subscriber, {"type": "subscribe_offer", "pc_id": pc_id,
                                "publisher": publisher, "sdp": pc.localDescription.sdp})

    async def subscribe_answer(self, participant_id: str, pc_id: str, answer_sdp: str) -> None:
        await self._pcs[pc_id].setRemoteDescription(
            RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def close(self) -> None:
        for pc in self._pcs.values():
            await pc.close()


async def _serve_relay(mode: str, port_queue) -> None:
    relay = Relay(RelayConfig(loopback=True, video_codecs=("VP8",)))
    rooms: dict[str, Any] = {}
    writers: list[asyncio.StreamWriter] = []
    done = asyncio.Event()

    def write(writer, payload) -> None:
        writer.write((json.dumps(payload) + "\n").encode())

    def room_for(room_id: str):
        if room_id not in rooms:
            def send(pid, message, room_id=room_id):
                for writer in writers:
                    write(writer, {"event": {"room": room_id, "pid": pid, "message": message}})
            rooms[room_id] = (relay.room(room_id, send) if mode == "passthrough"
                              else MediaRelayRoom(send))
        return rooms[room_id]

    async def handle(request: dict) -> Any:
        op = request["op"]
        if op == "publish":
            return await room_for(request["room"]).publish(request["pid"], request["sdp"])
        if op == "answer":
            return await room_for(request["room"]).subscribe_answer(
                request["pid"], request["pc_id"], request["sdp"])
        if op == "cpu":
            return {"cpu": time.process_time(), "wall": time.monotonic()}
        if op == "layers":  # the relay-made low layer (a decode and an encode per frame) costs CPU
            pubs = [pub for room in rooms.values() if isinstance(room, RelayRoom)
                    for p in room._participants.values() for pub in p.publications.values()]
            return {"low_layers_started": sum(pub.low_layers_started for pub in pubs),
                    "low_layers_running": sum(pub.low_layer is not None for pub in pubs),
                    "low_layer_frames_encoded": sum(pub.low_layer.frames_out for pub in pubs
                                                    if pub.low_layer is not None)}
        if op == "stop":
            done.set()
            return None
        raise ValueError(op)

    async def client(reader, writer) -> None:
        writers.append(writer)
        while not reader.at_eof():
            try:
                line = await reader.readline()
            except (asyncio.CancelledError, ConnectionError):
                break
            if not line:
                break
            request = json.loads(line)

            async def answer(request=request):
                try:
                    write(writer, {"id": request["id"], "result": await handle(request)})
                except Exception as exc:
                    write(writer, {"id": request["id"], "error": repr(exc)})
            asyncio.ensure_future(answer())

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    port_queue.put(server.sockets[0].getsockname()[1])
    await done.wait()
    server.close()


def relay_process(mode: str, port_queue) -> None:
    profile_to = os.environ.get("RELAY_PROFILE")  # a file: cProfile of the relay process, see _profiled
    asyncio.run(_profiled(_serve_relay(mode, port_queue), profile_to) if profile_to and mode == "passthrough"
                else _serve_relay(mode, port_queue))


async def _profiled(serve, path: str) -> None:
    """``serve`` with cProfile on from RELAY_PROFILE_AT seconds (default 6) after start, written
    to ``path`` every second (the process is ended from outside, mid-run)."""
    import cProfile
    profile, loop = cProfile.Profile(), asyncio.get_running_loop()

    def dump() -> None:
        profile.disable()
        profile.dump_stats(path)
        profile.enable()
        loop.call_later(1.0, dump)
    start = float(os.environ.get("RELAY_PROFILE_AT", "6"))
    loop.call_later(start, profile.enable)
    loop.call_later(start + 1.0, dump)
    await serve


# --- the client process --------------------------------------------------------------


class RemoteRelay:
    """Talks to the relay process; one signalling object per room for SimParticipant."""

    def __init__(self, reader, writer) -> None:
        self._reader, self._writer = reader, writer
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future] = {}
        self.people: dict[tuple[str, str], SimParticipant] = {}
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            line = await self._reader.readline()
            if not line:
                return
            payload = json.loads(line)
            if "event" in payload:
                event = payload["event"]
                person = self.people.get((event["room"], event["pid"]))
                if person is not None:
                    person.deliver(event["message"])
            else:
                future = self._pending.pop(payload["id"])
                if "error" in payload:
                    future.set_exception(RuntimeError(payload["error"]))
                else:
                    future.set_result(payload["result"])

    async def call(self, **request) -> Any:
        request["id"] = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request["id"]] = future
        self._writer.write((json.dumps(request) + "\n").encode())
        return await future

    def room(self, room_id: str) -> "RoomSignalling":
        return RoomSignalling(self, room_id)


class RoomSignalling:
    def __init__(self, remote: RemoteRelay, room_id: str) -> None:
        self._remote, self._room_id = remote, room_id

    async def publish(self, participant_id: str, offer_sdp: str) -> str:
        return await self._remote.call(op="publish", room=self._room_id, pid=participant_id, sdp=offer_sdp)

    async def subscribe_answer(self, participant_id: str, pc_id: str, answer_sdp: str) -> None:
        await self._remote.call(op="answer", room=self._room_id, pid=participant_id,
                                pc_id=pc_id, sdp=answer_sdp)


def _pairs(people: list[SimParticipant]):
    for subscriber in people:
        for publisher, received in subscriber.received.items():
            yield subscriber, publisher, received


def _latencies(people: dict[tuple[str, str], SimParticipant], since: float) -> list[float]:
    """Publisher hand-over to subscriber frame completion, in ms, for frames after ``since``."""
    out = []
    for (room, _), subscriber in people.items():
        for publisher, received in subscriber.received.items():
            sent_at = people[(room, publisher)].video.sent_at
            for digest, arrived in received.arrivals:
                sent = sent_at.get(digest)
                if arrived >= since and sent is not None and 0 <= arrived - sent < 2:
                    out.append(1000 * (arrived - sent))
    return out


class JanusRemote:
    """The same role as RemoteRelay, for Janus: one API session, a JanusRoom per room."""

    def __init__(self, session: JanusSession) -> None:
        self.session = session
        self.people: dict[tuple[str, str], SimParticipant] = {}
        self._rooms: dict[str, JanusRoom] = {}

    def room(self, room_id: str) -> JanusRoom:
        if room_id not in self._rooms:
            def send(pid, message, room_id=room_id):
                self.people[(room_id, pid)].deliver(message)
            self._rooms[room_id] = JanusRoom(self.session, 1 + int(room_id.removeprefix("room")), send)
        return self._rooms[room_id]


async def _connect(target: tuple[str, Any]):
    """The signalling for the bench's participants, and how to close it."""
    kind, address = target
    if kind == "janus":
        session = JanusSession(address)
        await session.start()
        return JanusRemote(session), session.close
    reader, writer = await asyncio.open_connection("127.0.0.1", address, limit=1 << 22)

    async def close():
        writer.close()
    return RemoteRelay(reader, writer), close


async def _run_rooms(target: tuple[str, Any], room_ids: list[int], seconds: float, clip,
                     late_joiner: bool, ready, go) -> dict:
    remote, close = await _connect(target)
    for r, i in itertools.product(room_ids, range(PEOPLE_PER_ROOM)):
        person = SimParticipant(f"p{i}", remote.room(f"room{r}"), video=ClipTrack(clip, FPS),
                                audio=AudioStreamTrack(), decode=False)
        remote.people[(f"room{r}", f"p{i}")] = person
        await person.publish()
    everyone = list(remote.people.values())
    flowing = await wait_for(lambda: all(
        len(p.received) == PEOPLE_PER_ROOM - 1 and all(r.video_frames > 0 for r in p.received.values())
        for p in everyone), timeout=20)
    ready.put(flowing)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, go.wait)  # every client process starts the window together
    before = {id(r): (r.video_frames, r.video_bytes) for _, _, r in _pairs(everyone)}
    packets_before = [await p.inbound_packets() for p in everyone]
    layers_before = await remote.call(op="layers") if isinstance(remote, RemoteRelay) else None
    start = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - start
    packets_after = [await p.inbound_packets() for p in everyone]
    layers_after = await remote.call(op="layers") if isinstance(remote, RemoteRelay) else None
    result = {
        "flowing": flowing,
        "fps": [(r.video_frames - before.get(id(r), (0, 0))[0]) / elapsed for _, _, r in _pairs(everyone)],
        "video_bits_s": [8 * (r.video_bytes - before.get(id(r), (0, 0))[1]) / elapsed
                         for _, _, r in _pairs(everyone)],
        "packets_s": {kind: sum(a[kind] - b[kind] for a, b in zip(packets_after, packets_before)) / elapsed
                      for kind in ("audio", "video")},
        "latencies": _latencies(remote.people, since=start),
    }
    if layers_before is not None and layers_after is not None:
        # low layers (whole process) started in the window, and frames the running ones encoded
        result["low_layer"] = {"started": layers_after["low_layers_started"] - layers_before["low_layers_started"],
                               "running_at_end": layers_after["low_layers_running"],
                               "frames_encoded_by_running": layers_after["low_layer_frames_encoded"]}
    if late_joiner:
        result["time_to_first_picture_ms"] = await _late_joiner(remote, clip)
    for person in list(remote.people.values()):
        await person.close()
    await close()
    return result


async def _late_joiner(remote: RemoteRelay, clip) -> Optional[float]:
    """A 4th participant joins running room0; ms until it has a complete keyframe from
    every publisher (what a decoder needs to show a first picture)."""
    person = SimParticipant("late", remote.room("room0"), video=ClipTrack(clip, FPS),
                            audio=AudioStreamTrack(), decode=False)
    remote.people[("room0", "late")] = person
    await person.publish()
    got_all = await wait_for(lambda: len(person.received) == PEOPLE_PER_ROOM and all(
        r.first_video_at is not None for r in person.received.values()), timeout=10)
    if not got_all:
        return None
    return round(1000 * (max(r.first_video_at for r in person.received.values()) - person.joined_at), 1)


async def _direct(seconds: float, clip) -> dict:
    """Baseline for latency: the same publisher and subscriber, connected directly."""
    track = ClipTrack(clip, FPS)
    publisher, subscriber = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    sender = publisher.addTrack(track)
    on_keyframe_request(sender, track.request_keyframe)
    received = Received()
    from relay.sim import count_encoded
    from relay.passthrough import tap_receiver
    with loopback_candidates():
        await publisher.setLocalDescription(await publisher.createOffer())
        await subscriber.setRemoteDescription(publisher.localDescription)
        for transceiver in subscriber.getTransceivers():
            tap_receiver(transceiver.receiver, "video", "VP8", lambda f: count_encoded(f, received))
        await subscriber.setLocalDescription(await subscriber.createAnswer())
    await publisher.setRemoteDescription(subscriber.localDescription)
    await wait_for(lambda: received.video_frames > 0, timeout=10)
    await asyncio.sleep(1.0)
    start = time.monotonic()
    await asyncio.sleep(seconds)
    lat = [1000 * (t - track.sent_at[d]) for d, t in received.arrivals
           if t >= start and d in track.sent_at and 0 <= t - track.sent_at[d] < 2]
    await publisher.close()
    await subscriber.close()
    return {"latency_ms_p50": round(statistics.median(lat), 1) if lat else None}


def client_process(target: tuple[str, Any], room_ids: list[int], seconds: float, clip,
                   late_joiner: bool, ready, go, results) -> None:
    try:
        results.put(asyncio.run(_run_rooms(target, room_ids, seconds, clip, late_joiner, ready, go)))
    except Exception:
        ready.put(False)
        results.put({"error": traceback.format_exc(limit=3)})


def direct_process(seconds: float, clip, results) -> None:
    results.put(asyncio.run(_direct(seconds, clip)))


# --- orchestration -------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, read from outside it (Linux /proc)."""
    user, system = user_system_seconds(pid)
    return user + system


def user_system_seconds(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")


def run_once(mode: str, rooms: int, seconds: float, clip, late_joiner: bool, client_procs: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    ports, ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Event()
    janus: Optional[JanusProcess] = None
    if mode == "janus":
        janus = JanusProcess(JANUS_HTTP_PORT, JANUS_RTP_PORTS)
        relay_pid = janus.start()
        target: tuple[str, Any] = ("janus", janus.url)
        relay = None
    else:
        relay = ctx.Process(target=relay_process, args=(mode, ports), daemon=True)
        relay.start()
        relay_pid = relay.pid
        target = ("relay", ports.get(timeout=30))
    shares = [list(range(rooms))[k::client_procs] for k in range(min(client_procs, rooms))]
    clients = [ctx.Process(target=client_process, daemon=True, args=(
        target, share, seconds, clip, late_joiner and 0 in share, ready, go, results))
        for share in shares]
    for client in clients:
        client.start()
    result: dict[str, Any] = {"rooms": rooms, "client_processes": len(clients)}
    try:
        flowing = [ready.get(timeout=60 + 5 * rooms) for _ in clients]
        time.sleep(1.0)  # warm-up
        pids = [relay_pid] + [c.pid for c in clients]
        split0 = user_system_seconds(relay_pid)
        cpu0, wall0 = [cpu_seconds(pid) for pid in pids], time.monotonic()
        go.set()
        time.sleep(seconds)
        cpu1, wall1 = [cpu_seconds(pid) for pid in pids], time.monotonic()
        split1 = user_system_seconds(relay_pid)
        parts = [results.get(timeout=60) for _ in clients]
    except Exception:
        result["error"] = traceback.format_exc(limit=2)
        parts, flowing = [], [False]
    for process in clients + ([relay] if relay else []):
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
    if janus is not None:
        if result.get("error"):
            result["janus_log"] = janus.log_tail()
        janus.stop()
    errors = [p["error"] for p in parts if "error" in p]
    if errors or not parts:
        result["error"] = result.get("error") or errors[0]
        return result
    cores = [(b - a) / (wall1 - wall0) for a, b in zip(cpu0, cpu1)]
    fps = [f for p in parts for f in p["fps"]]
    bits = [b for p in parts for b in p["video_bits_s"]]
    latencies = [x for p in parts for x in p["latencies"]]
    result.update({
        "all_streams_flowing": all(flowing),
        "relay_cpu_cores": round(cores[0], 3),
        "relay_cpu_cores_per_room": round(cores[0] / rooms, 3),
        # the kernel's share (sockets, SRTP is user): what a faster user-space path cannot cut
        "relay_cpu_system_share": round((split1[1] - split0[1]) / max(sum(split1) - sum(split0), 1e-9), 2),
        "client_cpu_cores": [round(c, 2) for c in cores[1:]],
        "delivered_fps_mean": round(statistics.mean(fps), 1) if fps else 0.0,
        "delivered_fps_min": round(min(fps), 1) if fps else 0.0,
        "streams": len(fps),
        # what the subscribers measured in the window: the load the relay really forwarded
        "video_kbit_s_per_stream": round(statistics.mean(bits) / 1000, 1) if bits else 0.0,
        "video_packets_s_forwarded": round(sum(p["packets_s"]["video"] for p in parts)),
        "audio_packets_s_forwarded": round(sum(p["packets_s"]["audio"] for p in parts)),
    })
    low = [p["low_layer"] for p in parts if "low_layer" in p]
    if low:
        result["low_layer"] = low[0]  # the relay process's own figures (every client reads the same)
    if latencies:
        result["latency_ms_p50"] = round(statistics.median(latencies), 1)
    ttfp = [p["time_to_first_picture_ms"] for p in parts if "time_to_first_picture_ms" in p]
    if ttfp:
        result["time_to_first_picture_ms"] = ttfp[0]
    return result


CLIP_FRAMES = 150


def _clip_setup(clip) -> dict:
    sizes = [len(data) for data, _ in clip]
    return {"encoded_kbit_s": round(clip_bitrate(clip, FPS) / 1000, 1),
            "median_frame_bytes": int(statistics.median(sizes)),
            "keyframe_bytes": sizes[0], "frames": len(clip)}


def _bench_clip(args, clip) -> dict:
    out: dict[str, Any] = {"clip": _clip_setup(clip), "passthrough": [], "mediarelay_baseline": [],
                           "janus_baseline": []}
    why_no_janus = JanusProcess.available()
    for rooms in args.rooms:
        out["passthrough"].append(run_once("passthrough", rooms, args.seconds, clip, rooms == 1, args.client_procs))
        if rooms in args.janus_rooms:
            # right after the relay's run with the same rooms: the machine's load is alike
            out["janus_baseline"].append(
                {"rooms": rooms, "skipped": why_no_janus} if why_no_janus else
                run_once("janus", rooms, args.seconds, clip, rooms == 1, args.client_procs))
    saturated_at = None
    for rooms in args.baseline_rooms:
        if saturated_at is not None:
            # more rooms cannot do better once the relay delivers under half the frame rate
            out["mediarelay_baseline"].append(
                {"rooms": rooms, "skipped": f"saturated at {saturated_at} rooms (fps < {FPS / 2})"})
            continue
        result = run_once("mediarelay", rooms, args.seconds, clip, rooms == 1, args.client_procs)
        out["mediarelay_baseline"].append(result)
        if result.get("delivered_fps_mean", 0) < FPS / 2:
            saturated_at = rooms
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    direct = ctx.Process(target=direct_process, args=(args.seconds, clip, results), daemon=True)
    direct.start()
    out["direct_baseline"] = results.get(timeout=args.seconds + 60)
    direct.join(timeout=10)
    out["summary"] = _summary(out)
    return out


def _summary(out: dict) -> dict:
    def one(rows):
        return next((r for r in rows if r.get("rooms") == 1), {})
    room, base, janus = one(out["passthrough"]), one(out["mediarelay_baseline"]), one(out["janus_baseline"])
    relay_cores, janus_cores = room.get("relay_cpu_cores_per_room"), janus.get("relay_cpu_cores_per_room")
    return {
        "janus_cpu_cores_per_room": janus_cores,
        "janus_video_kbit_s_per_stream": janus.get("video_kbit_s_per_stream"),
        "janus_video_packets_s_forwarded": janus.get("video_packets_s_forwarded"),
        "janus_delivered_fps_mean": janus.get("delivered_fps_mean"),
        "relay_delivered_fps_mean": room.get("delivered_fps_mean"),
        "relay_cpu_over_janus": round(relay_cores / janus_cores, 2) if relay_cores and janus_cores else None,
        "relay_cpu_cores_per_room": room.get("relay_cpu_cores_per_room"),
        "relay_video_kbit_s_per_stream": room.get("video_kbit_s_per_stream"),
        "relay_video_packets_s_forwarded": room.get("video_packets_s_forwarded"),
        "mediarelay_cpu_cores_per_room": base.get("relay_cpu_cores_per_room"),
        "mediarelay_video_kbit_s_per_stream": base.get("video_kbit_s_per_stream"),
        "mediarelay_video_packets_s_forwarded": base.get("video_packets_s_forwarded"),
        "latency_ms_p50_through_relay": room.get("latency_ms_p50"),
        "latency_ms_p50_baseline_direct": out["direct_baseline"].get("latency_ms_p50"),
        "time_to_first_picture_ms": room.get("time_to_first_picture_ms"),
        "time_to_first_picture_ms_baseline_mediarelay": base.get("time_to_first_picture_ms"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--baseline-rooms", type=int, nargs="*", default=[1, 2, 4, 8],
                        help="room counts for the MediaRelay baseline")
    parser.add_argument("--janus-rooms", type=int, nargs="*", default=[1, 2, 4],
                        help="room counts for the Janus VideoRoom baseline (each run beside the relay's)")
    parser.add_argument("--seconds", type=float, default=4.0, help="measurement window per run")
    parser.add_argument("--client-procs", type=int, default=2,
                        help="processes the simulated participants are spread over")
    parser.add_argument("--kbit-s", type=int, nargs="+", default=[600, 1500],
                        help="clips to run: the bit rate each is encoded at (camera-like content)")
    args = parser.parse_args()

    started = time.monotonic()
    report: dict[str, Any] = {
        "setup": {"resolution": f"{WIDTH}x{HEIGHT}", "fps": FPS, "codec": "VP8",
                  "people_per_room": PEOPLE_PER_ROOM, "window_s": args.seconds,
                  "clip": "textured scene panning 60 px/s, a moving block, sensor noise",
                  "clip_keyframe_interval_s": CLIP_FRAMES / FPS, "cpu_count": multiprocessing.cpu_count(),
                  "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "clips": {},
    }
    for kbit_s in args.kbit_s:
        clip = encode_camera_clip(width=WIDTH, height=HEIGHT, fps=FPS, frames=CLIP_FRAMES,
                                  bitrate=kbit_s * 1000)
        report["clips"][f"{kbit_s}k"] = _bench_clip(args, clip)
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    report["setup"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
