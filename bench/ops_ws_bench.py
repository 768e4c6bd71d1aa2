"""Notification sockets per Daphne process: N authenticated clients on /ws/notifications/, each sent
2 messages per second through the Redis channel layer (RedisPubSubChannelLayer) by a separate
publisher process; p50/p95/p99 delivery latency and lost messages, at 300 and 600 clients, with
10 clients as the baseline in the same run. Goal (issue 8): 600 per process, p95 < 50 ms, no loss.

Prints one JSON object. Bounded: BENCH_SECONDS (15) of sending per level. Creates and drops its
own database tc_bench_ops. Env: BENCH_LEVELS ("10,300,600"), BENCH_RATE (2 per client per second).
"""
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ops_common  # noqa: E402

LEVELS = [int(n) for n in os.environ.get("BENCH_LEVELS", "10,300,600").split(",")]
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
RATE = float(os.environ.get("BENCH_RATE", "2"))


def seed(count: int) -> list[tuple[int, str]]:
    """`count` users, each with a logged-in session: [(user id, session cookie)]."""
    from directory.models import User

    User.objects.bulk_create([User(username=f"ws-bench-{n:04d}", password="!") for n in range(count)])
    users = []
    for user in User.objects.filter(username__startswith="ws-bench-").order_by("id"):
        users.append((user.pk, ops_common.session_cookie(user)))
    return users


async def publish(user_ids: list[int], rounds: int) -> dict:
    """The publisher process: each user's group gets one message every 1/RATE s, spread evenly."""
    from channels.layers import get_channel_layer
    from redis.exceptions import RedisError

    from teleclinic.events import user_group

    layer = get_channel_layer()
    period, lag, errors = 1 / RATE, [], 0
    start = time.monotonic() + 0.5
    for k in range(rounds):
        for i, user_id in enumerate(user_ids):
            due = start + k * period + i * period / len(user_ids)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag.append(-delay * 1000)
            try:
                await layer.group_send(user_group(user_id), {"type": "notify.event",
                                                             "payload": {"type": "bench", "seq": k, "t": time.time()}})
            except (OSError, RedisError):  # Redis went away (the machine is shared): counted, and the message is lost
                errors += 1
    return {"sent": rounds * len(user_ids), "publish_errors": errors, "publisher_late_sends": len(lag),
            "publisher_max_lag_ms": round(max(lag), 1) if lag else 0.0}


class Client:
    def __init__(self, user_id: int, cookie: str):
        self.user_id, self.cookie = user_id, cookie
        self.latencies, self.sent_at, self.seqs, self.socket, self.task = [], [], set(), None, None

    async def open(self, port: int) -> None:
        for attempt in range(10):  # Redis restarted by another user of the machine: try again
            try:
                return await self._open(port)
            except Exception:
                if attempt == 9:
                    raise
                await asyncio.sleep(1)

    async def _open(self, port: int) -> None:
        from websockets.asyncio.client import connect

        self.socket = await connect(f"ws://127.0.0.1:{port}/ws/notifications/", origin=f"http://127.0.0.1:{port}",
                                    additional_headers={"Cookie": self.cookie}, open_timeout=30, compression=None)
        assert json.loads(await asyncio.wait_for(self.socket.recv(), 30))["type"] == "hello"
        self.task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        async for raw in self.socket:
            now = time.time()
            message = json.loads(raw)
            if message.get("type") == "bench":
                self.latencies.append((now - message["t"]) * 1000)
                self.sent_at.append(message["t"])
                self.seqs.add(message["seq"])


async def run_level(port: int, users: list[tuple[int, str]], env: dict, daphne_pid: int) -> dict:
    clients = [Client(*user) for user in users]
    redis_ids = {redis_run_id()}
    watcher = asyncio.create_task(watch_redis(redis_ids))
    began = time.monotonic()
    for batch in range(0, len(clients), 50):
        await asyncio.gather(*(client.open(port) for client in clients[batch:batch + 50]))
    connect_s = time.monotonic() - began
    rounds = int(SECONDS * RATE)
    cpu_before, own_before, wall_before = _cpu_s(daphne_pid), time.process_time(), time.monotonic()
    wait_before, own_wait_before = _runqueue_wait_s(daphne_pid), _runqueue_wait_s(os.getpid())
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--publish", str(rounds), *(str(c.user_id) for c in clients),
        env=env, stdout=subprocess.PIPE)
    out, _ = await publisher.communicate()
    await asyncio.sleep(3)  # drain
    rss_mb = _rss_mb(daphne_pid)
    wall = time.monotonic() - wall_before
    cpu = {"daphne_cpu_percent": round(100 * (_cpu_s(daphne_pid) - cpu_before) / wall, 1),
           "bench_clients_cpu_percent": round(100 * (time.process_time() - own_before) / wall, 1),
           # time spent runnable but waiting for a CPU (another user's load): starvation, not our code
           "daphne_waiting_for_cpu_percent": round(100 * (_runqueue_wait_s(daphne_pid) - wait_before) / wall, 1),
           "bench_clients_waiting_for_cpu_percent":
               round(100 * (_runqueue_wait_s(os.getpid()) - own_wait_before) / wall, 1)}
    for client in clients:
        await client.socket.close()
        client.task.cancel()
    latencies = [ms for client in clients for ms in client.latencies]
    received = sum(len(client.seqs) for client in clients)
    # The machine is shared: another user restarting Redis mid-level invalidates the level's figures.
    watcher.cancel()
    redis_ids.add(redis_run_id())
    return {"clients": len(clients), "redis_restarts_seen": len(redis_ids - {"unreachable"}) - 1,
            "worst_seconds": _worst_seconds(clients),
            "connect_all_s": round(connect_s, 2), **json.loads(out),
            "received": received, "lost": rounds * len(clients) - received,
            "latency": ops_common.percentiles(latencies), "daphne_rss_mb": rss_mb, **cpu}


async def watch_redis(seen: set) -> None:
    while True:
        await asyncio.sleep(0.5)
        seen.add(await asyncio.to_thread(redis_run_id))


def _worst_seconds(clients) -> list:
    """The three seconds (since the first send) with the highest p95: a stall shows up here."""
    buckets: dict[int, list] = {}
    first = min((t for c in clients for t in c.sent_at), default=0)
    for client in clients:
        for sent, ms in zip(client.sent_at, client.latencies):
            buckets.setdefault(int(sent - first), []).append(ms)
    p95 = {second: sorted(v)[int(0.95 * (len(v) - 1))] for second, v in buckets.items()}
    return [{"second": k, "p95_ms": round(v, 1)} for k, v in sorted(p95.items(), key=lambda kv: -kv[1])[:3]]


def redis_run_id() -> str:
    import redis

    try:
        return redis.Redis.from_url(ops_common.REDIS_URL).info("server")["run_id"]
    except redis.RedisError:
        return "unreachable"


def _runqueue_wait_s(pid: int) -> float:
    """Seconds the process's main thread has waited on a run queue (/proc/<pid>/schedstat, field 2)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc; clock ticks are 100 per second on Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> None:
    ops_common.setup_django()
    ops_common.many_clients_process()
    started = time.monotonic()
    try:
        users = seed(max(LEVELS))
        env = dict(ops_common.bench_env())
        with tempfile.TemporaryDirectory() as tmp, ops_common.daphne_process(Path(tmp) / "daphne.log") as daphne:
            levels = {}
            for level in LEVELS:
                levels[str(level)] = asyncio.run(run_level(daphne.port, users[:level], env, daphne.pid))
                time.sleep(1)
    finally:
        ops_common.drop_database()
    baseline, rest = levels[str(LEVELS[0])], {k: v for k, v in levels.items() if k != str(LEVELS[0])}
    goal = levels.get("600")
    print(json.dumps({
        "bench": "ops_ws_notifications", "daphne_processes": 1, "layer": "RedisPubSubChannelLayer",
        "messages_per_client_per_s": RATE, "seconds": SECONDS, "levels": rest, "baseline": baseline,
        "goal_600_p95_under_50ms_no_loss": None if goal is None else
        bool(goal["lost"] == 0 and goal["latency"].get("p95_ms", 1e9) < 50),
        "machine": ops_common.machine(), "wall_s": round(time.monotonic() - started, 1),
    }))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--publish"]:
        sys.path.insert(0, str(ops_common.ROOT))
        import django

        django.setup()
        print(json.dumps(asyncio.run(publish([int(u) for u in sys.argv[3:]], int(sys.argv[2])))))
    else:
        main()
