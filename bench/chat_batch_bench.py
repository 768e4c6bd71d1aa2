"""How many chat lines per second one process stores: group commit (live/services/chat_batch.py)
against one transaction per line (events.event_append_said on the 8 socket threads), the baseline.

No sockets: SENDERS tasks in one event loop, as many consumers' command tasks would, each sending
its next line once the previous one is stored, in rooms of 3 (bench/ops_room_ws_bench.py's seed),
with the fan-out after commit through the channel layer as in Daphne. Two runs per way: flat out
(capacity, lines/s) and paced at RATE lines per sender per second (store latency p50/p95/p99 at the
rate 600 clients need); also group commit with 2 writers per process (chat_batch.WRITERS).
Afterwards every room's seqs are checked: 1..last_seq, each once.

Prints one JSON object. Creates and drops its own database (bench/ops_common.py). Env:
BENCH_SENDERS (600), BENCH_SECONDS (8 per run), BENCH_RATE (2).
"""
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ops_common  # noqa: E402

SENDERS = int(os.environ.get("BENCH_SENDERS", "600"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
RATE = float(os.environ.get("BENCH_RATE", "2"))


def _speakers() -> list[tuple[int, int]]:
    """(room, participant) of each sender: the 3 staff of each seeded room, all admitted (the
    assigned expert's participant is made as their socket's connect would)."""
    from live.models import Participant, Room
    from live.services import rooms

    for room in Room.objects.select_related("consultation__assigned_expert__user"):
        rooms.staff_connect(user=room.consultation.assigned_expert.user, room_id=room.pk, connection="bench")
    Participant.objects.update(state="admitted")
    return list(Participant.objects.filter(state="admitted").order_by("room_id", "pk")
                .values_list("room_id", "pk"))[:SENDERS]


def _store_per_line():
    from live.services.events import event_append_said
    from teleclinic.socket_db import socket_db

    stored = socket_db(event_append_said)
    return lambda room, who, text: stored(room_id=room, kind="chat", participant_id=who, data={"text": text})


def _store_batched():
    from live.services.chat_batch import Line, line_say

    return lambda room, who, text: line_say(Line(room_id=room, participant_id=who, kind="chat", data={"text": text}))


async def _run(store, speakers: list[tuple[int, int]], paced: bool) -> dict:
    latencies: list[float] = []
    refused = 0
    cpu = ops_common.CpuMeter({"bench": os.getpid()})
    start = time.monotonic()
    end = start + SECONDS

    async def sender(index: int, room: int, who: int) -> None:
        nonlocal refused
        n = 0
        while (now := time.monotonic()) < end:
            if paced:
                due = start + (index / len(speakers) + n) / RATE
                if due > now:
                    await asyncio.sleep(due - now)
            before = time.monotonic()
            if await store(room, who, f"{who} {n}") is None:
                refused += 1
            latencies.append((time.monotonic() - before) * 1000)
            n += 1

    await asyncio.gather(*(sender(i, room, who) for i, (room, who) in enumerate(speakers)))
    wall, usage = time.monotonic() - start, cpu.read()
    return {"loadavg_1m": round(os.getloadavg()[0], 2), "lines_stored": len(latencies) - refused,
            "refused": refused, "lines_per_s": round(len(latencies) / wall, 1),
            "store_latency": ops_common.percentiles(latencies), **usage,
            # this process's cost per line (the sockets' share of it in Daphne), whatever else runs
            "cpu_ms_per_line": round(1000 * usage["bench_cpu_s"] / max(1, len(latencies)), 2)}


def _seq_faults() -> dict:
    """Rooms whose stored seqs are not exactly 1..last_seq."""
    from django.db.models import Count, Max

    from live.models import Room, RoomEvent

    last = dict(Room.objects.values_list("pk", "last_seq"))
    faults = 0
    for row in RoomEvent.objects.values("room_id").annotate(n=Count("seq", distinct=True), top=Max("seq")):
        faults += not (row["n"] == row["top"] == last[row["room_id"]])
    return {"rooms": len(last), "rooms_with_gaps_or_repeats": faults}


def main() -> None:
    os.environ.setdefault("DB_POOL", "true")  # as Daphne runs (ops_common.daphne_process): no connect per call
    ops_common.setup_django()
    started, load_before = time.monotonic(), os.getloadavg()
    try:
        from ops_room_ws_bench import seed

        seed(-(-SENDERS // 3))
        speakers = _speakers()
        runs = {}
        from live.services import chat_batch

        runs_writers = chat_batch.WRITERS
        for name, store, writers in (("one_transaction_per_line", _store_per_line(), None),
                                     ("group_commit", _store_batched(), runs_writers),
                                     ("group_commit_2_writers", _store_batched(), 2)):
            if writers:
                chat_batch.WRITERS = writers  # read when an event loop's writers are made
            runs[name] = {"flat_out": asyncio.run(_run(store, speakers, paced=False)),
                          "paced": asyncio.run(_run(store, speakers, paced=True))}
        seqs = _seq_faults()
    finally:
        ops_common.drop_database()
    print(json.dumps({
        "bench": "chat_batch", "senders": len(speakers), "seconds_per_run": SECONDS,
        "paced_lines_per_sender_per_s": RATE,
        "what": "chat lines stored and numbered per room by one process, fanned out after commit; no sockets",
        "writers_per_process": runs_writers, "figure": runs["group_commit"],
        "group_commit_2_writers": runs["group_commit_2_writers"], "baseline": runs["one_transaction_per_line"],
        "seqs": seqs,
        "machine": ops_common.machine(load_before),
        "wall_s": round(time.monotonic() - started, 1),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
