"""A userspace link emulator between the host and one network namespace (this kernel has
no sch_netem): two TUN devices, one in the host's namespace and one moved into the
namespace, and this process copying IP packets between them with loss, a rate limit
behind a drop-tail queue, a fixed delay, or an outage.

    python tests/weaklink/linkemu.py --netns tcwl-patient --prefix 10.77.1

makes namespace ``tcwl-patient`` (if it does not exist) with ``wlpeer`` = <prefix>.2/24 in
it and ``wlhost`` = <prefix>.1/24 here, prints ``ready`` and then reads one JSON command
per line on stdin:

    {"down": {"rate_bps": 300000, "loss": 0.03, "delay_ms": 75, "queue_bytes": 30000},
     "up":   {...}, "outage": false}
    {"stats": true}     -> prints {"down": {...counters}, "up": {...}} on stdout

"down" is host -> namespace (what the participant in the namespace receives). A
direction without "rate_bps" is not rate-limited. EOF on stdin ends it; the namespace
and the devices go away with it. Only the namespace's /24 is routed over the link: no
other address is reached from inside.
"""

import argparse
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


class Direction:
    """One way of the link: loss, then a drop-tail queue drained at rate_bps, then delay."""

    def __init__(self) -> None:
        self.rate_bps = 0.0  # 0: no limit
        self.loss = 0.0
        self.delay = 0.0
        self.queue_bytes = 30_000
        self.busy_until = 0.0
        self.counts = {"in_packets": 0, "in_bytes": 0, "out_packets": 0, "out_bytes": 0,
                       "lost": 0, "queue_dropped": 0, "outage_dropped": 0}

    def configure(self, settings: dict) -> None:
        self.rate_bps = float(settings.get("rate_bps") or 0)
        self.loss = float(settings.get("loss") or 0)
        self.delay = float(settings.get("delay_ms") or 0) / 1000
        self.queue_bytes = int(settings.get("queue_bytes") or 30_000)

    def admit(self, size: int, now: float, outage: bool, rng: random.Random):
        """When the packet leaves the link, or None if it is lost."""
        self.counts["in_packets"] += 1
        self.counts["in_bytes"] += size
        if outage:
            self.counts["outage_dropped"] += 1
            return None
        if self.loss and rng.random() < self.loss:
            self.counts["lost"] += 1
            return None
        if self.rate_bps:
            start = max(now, self.busy_until)
            backlog_bytes = (start - now) * self.rate_bps / 8
            if backlog_bytes + size > self.queue_bytes:
                self.counts["queue_dropped"] += 1
                return None
            self.busy_until = start + size * 8 / self.rate_bps
            return self.busy_until + self.delay
        return now + self.delay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--netns", required=True)
    parser.add_argument("--prefix", default="10.77.1")
    parser.add_argument("--host-dev", default="wlhost")
    parser.add_argument("--peer-dev", default="wlpeer")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    created = subprocess.run(["ip", "netns", "add", args.netns], capture_output=True).returncode == 0
    host_fd = open_tun(args.host_dev)
    peer_fd = open_tun(args.peer_dev)
    try:
        sh("ip", "link", "set", args.peer_dev, "netns", args.netns)
        sh("ip", "addr", "add", f"{args.prefix}.1/24", "dev", args.host_dev)
        sh("ip", "link", "set", args.host_dev, "up")
        ns = ["ip", "netns", "exec", args.netns]
        sh(*ns, "ip", "link", "set", "lo", "up")
        sh(*ns, "ip", "addr", "add", f"{args.prefix}.2/24", "dev", args.peer_dev)
        sh(*ns, "ip", "link", "set", args.peer_dev, "up")
        run(host_fd, peer_fd, random.Random(args.seed))
    finally:
        os.close(host_fd)
        os.close(peer_fd)
        if created:
            subprocess.run(["ip", "netns", "delete", args.netns], capture_output=True)


def run(host_fd: int, peer_fd: int, rng: random.Random) -> None:
    down, up = Direction(), Direction()  # down: host -> namespace
    outage = False
    pending: list[tuple[float, int, int, bytes]] = []  # (when, order, out fd, packet)
    order = 0
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    command_buffer = b""
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        timeout = max(pending[0][0] - now, 0) if pending else 0.5
        readable, _, _ = select.select([host_fd, peer_fd, stdin], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            if fd == stdin:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return
                command_buffer += chunk
                while b"\n" in command_buffer:
                    line, command_buffer = command_buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    command = json.loads(line)
                    if command.get("stats"):
                        print(json.dumps({"down": down.counts, "up": up.counts}), flush=True)
                        continue
                    if "down" in command:
                        down.configure(command["down"])
                    if "up" in command:
                        up.configure(command["up"])
                    outage = bool(command.get("outage", outage))
                continue
            direction, out_fd = (down, peer_fd) if fd == host_fd else (up, host_fd)
            for _ in range(64):  # drain what is there
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                when = direction.admit(len(packet), now, outage, rng)
                if when is not None:
                    order += 1
                    heapq.heappush(pending, (when, order, out_fd, packet))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, out_fd, packet = heapq.heappop(pending)
            direction = down if out_fd == peer_fd else up
            try:
                os.write(out_fd, packet)
                direction.counts["out_packets"] += 1
                direction.counts["out_bytes"] += len(packet)
            except OSError:
                pass


if __name__ == "__main__":
    main()
