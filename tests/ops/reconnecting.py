"""Clients that behave like the pages' sockets: reconnect by themselves after a drop (short random
back-off), and for room sockets resume with `join {last_seq}` (live/static/live/client.js).
Used by the Daphne failover tests and bench/ops_room_failover_bench.py; no Django here."""
import asyncio
import json
import random
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


class ReconnectingClient:
    """A notification socket: `hello` on each (re)connection, other frames kept in `messages`."""

    def __init__(self, url: str, cookie: str):
        self.url, self.cookie = url, cookie
        self.hellos: list[float] = []  # when each connection was (re)established
        self.drops: list[float] = []  # when each connection was lost
        self.messages: list[dict] = []
        self.connected = asyncio.Event()
        self.socket = None

    @property
    def is_up(self) -> bool:
        return bool(self.hellos) and (not self.drops or self.hellos[-1] > self.drops[-1])

    def up(self) -> None:
        self.hellos.append(time.monotonic())
        self.connected.set()

    async def opened(self, socket) -> None:
        """Called on each new connection, before reading."""

    def handle(self, message: dict) -> None:
        if message["type"] == "hello":
            self.up()
        else:
            self.messages.append(message)

    async def run(self) -> None:
        origin = self.url.replace("ws://", "http://").split("/ws/")[0]
        delay = 0.1
        while True:
            try:
                async with connect(self.url, origin=origin, additional_headers={"Cookie": self.cookie},
                                   open_timeout=15, compression=None) as socket:
                    delay = 0.1
                    self.socket = socket
                    try:
                        await self.opened(socket)
                        async for raw in socket:
                            self.handle(json.loads(raw))
                    finally:
                        self.socket = None
                        self.drops.append(time.monotonic())
            except (OSError, ConnectionClosed, InvalidStatus, asyncio.TimeoutError):
                pass
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)


class RoomClient(ReconnectingClient):
    """A room socket: `join` (with the last seq seen, after the first time), up on `welcome`;
    every event's seq recorded, with the gaps and repeats a client would see."""

    def __init__(self, url: str, cookie: str):
        super().__init__(url, cookie)
        self.last_seq: int | None = None
        self.seqs: list[int] = []
        self.gaps: list[tuple[int, int]] = []  # (last seen, next received) when next > last + 1
        self.repeats = 0
        self.chats = 0

    async def opened(self, socket) -> None:
        join = {"type": "join"} if self.last_seq is None else {"type": "join", "last_seq": self.last_seq}
        await socket.send(json.dumps(join))

    def handle(self, message: dict) -> None:
        if message["type"] == "welcome":
            self.up()
        elif message["type"] == "event":
            seq = message["seq"]
            if self.last_seq is not None and seq <= self.last_seq:
                self.repeats += 1
                return
            if self.last_seq is not None and seq > self.last_seq + 1:
                self.gaps.append((self.last_seq, seq))
            self.last_seq = seq
            self.seqs.append(seq)
            self.chats += message["kind"] == "chat"

    async def chat(self, text: str) -> bool:
        """Send a chat line if connected (a page does not queue them while reconnecting)."""
        if self.socket is None or not self.is_up:
            return False
        try:
            await self.socket.send(json.dumps({"type": "chat", "text": text}))
            return True
        except ConnectionClosed:
            return False


async def room_failover(ws_url: str, rooms: dict[int, list[str]], kill, last_seqs, *, chat_period: float = 2.0,
                        after: float = 4.0) -> dict:
    """Room sockets through the proxy (`rooms`: room id -> one session cookie per client; the first
    one chats every `chat_period` s while connected); `kill()` (returns the pid it killed) while
    they run; then how many came back within 10 s, and whether every client's seq range is
    contiguous up to the room's last seq (`last_seqs()`, sync: {room id: last seq})."""
    clients = {room: [RoomClient(f"{ws_url}/ws/rooms/{room}/", cookie) for cookie in cookies]
               for room, cookies in rooms.items()}
    everyone = [client for group in clients.values() for client in group]
    tasks, sent = [], {"before": 0, "during": 0, "after": 0}
    phase = {"now": "before"}

    async def chatter(client: RoomClient, room: int) -> None:
        await asyncio.sleep(random.random() * chat_period)
        n = 0
        while True:
            if await client.chat(f"room {room} line {n}"):
                sent[phase["now"]] += 1
                n += 1
            await asyncio.sleep(chat_period)

    for client in everyone:  # a steady ramp, as pages open over time
        tasks.append(asyncio.create_task(client.run()))
        await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in everyone)), 120)
        chatters = [asyncio.create_task(chatter(group[0], room)) for room, group in clients.items()]
        tasks += chatters
        await asyncio.sleep(2)
        # the kill
        phase["now"] = "during"
        killed_at = time.monotonic()
        victim = kill()
        await asyncio.sleep(1)
        while time.monotonic() < killed_at + 10 and not all(c.is_up for c in everyone):
            await asyncio.sleep(0.1)
        up_at_10s = sum(c.is_up for c in everyone)
        dropped = [c for c in everyone if c.drops and c.drops[-1] > killed_at]
        back_after = sorted(c.hellos[-1] - killed_at for c in dropped if c.is_up)
        phase["now"] = "after"
        await asyncio.sleep(after)
        for task in chatters:
            task.cancel()
        await asyncio.sleep(3)  # the last chat lines reach everyone
        final = await asyncio.to_thread(last_seqs)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    broken = [(room, c.seqs[:1], c.gaps, c.repeats, c.last_seq) for room, group in clients.items() for c in group
              if c.seqs != list(range(1, final[room] + 1)) or c.gaps or c.repeats]
    return {
        "clients": len(everyone), "rooms": len(clients), "victim_pid": victim,
        "dropped": len(dropped), "back_within_10s": len(back_after),
        "back_within_10s_pct": round(100 * len(back_after) / max(1, len(dropped)), 1),
        "up_at_10s": up_at_10s,
        "back_after_s": {"p50": _at(back_after, 0.5), "p95": _at(back_after, 0.95),
                         "max": round(back_after[-1], 2) if back_after else None},
        "chats_sent": sent, "events_per_room_min": min(final.values()),
        "clients_with_contiguous_seqs": len(everyone) - len(broken), "broken": broken[:5],
        "gaps": sum(len(c.gaps) for c in everyone), "repeats": sum(c.repeats for c in everyone),
    }


def _at(ordered: list[float], q: float) -> float | None:
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else None
