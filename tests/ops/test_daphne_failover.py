"""kill -9 one of the two Daphne processes behind nginx: its clients reconnect through nginx to the
other, by themselves, at least 95% within 10 s; the stack restarts the killed process."""
import asyncio
import json
import os
import random
import signal
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from teleclinic.events import send_to_users_now
from tests.factories import UserFactory
from tests.ops.processes import scaled_stack
from tests.ops.test_scaled_stack import session_cookie

CLIENTS = 200


class ReconnectingClient:
    """What a page's notification socket does: on close, reconnect after a short random delay."""

    def __init__(self, url: str, cookie: str):
        self.url, self.cookie = url, cookie
        self.hellos: list[float] = []  # when each connection was (re)established
        self.drops: list[float] = []  # when each connection was lost
        self.messages: list[dict] = []
        self.connected = asyncio.Event()

    @property
    def is_up(self) -> bool:
        return bool(self.hellos) and (not self.drops or self.hellos[-1] > self.drops[-1])

    async def run(self) -> None:
        origin = self.url.replace("ws://", "http://").split("/ws/")[0]
        delay = 0.1
        while True:
            try:
                async with connect(self.url, origin=origin, additional_headers={"Cookie": self.cookie},
                                   open_timeout=5, compression=None) as socket:
                    delay = 0.1
                    try:
                        async for raw in socket:
                            message = json.loads(raw)
                            if message["type"] == "hello":
                                self.hellos.append(time.monotonic())
                                self.connected.set()
                            else:
                                self.messages.append(message)
                    finally:
                        self.drops.append(time.monotonic())
            except (OSError, ConnectionClosed, InvalidStatus, asyncio.TimeoutError):
                pass
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)


def test_clients_of_a_killed_daphne_are_back_through_the_other_within_10_s(transactional_db, tmp_path):
    # given the scaled stack and 200 notification sockets through nginx, spread over both Daphne
    user = UserFactory(username="failover-user")
    cookie = session_cookie(user)
    with scaled_stack(tmp_path, workers=0) as stack:
        async def scenario() -> dict:
            clients = [ReconnectingClient(f"{stack.ws_url}/ws/notifications/", cookie) for _ in range(CLIENTS)]
            tasks = []
            for client in clients:  # a steady ramp, as pages open over time
                tasks.append(asyncio.create_task(client.run()))
                await asyncio.sleep(0.01)
            try:
                await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 60)
                await asyncio.sleep(1)
                victim = stack.pids()["daphne-1"]
                # when one Daphne process is killed with SIGKILL
                killed_at = time.monotonic()
                os.kill(victim, signal.SIGKILL)
                await asyncio.sleep(1)
                while time.monotonic() < killed_at + 10 and not all(c.is_up for c in clients):
                    await asyncio.sleep(0.1)
                dropped = [c for c in clients if c.drops and c.drops[-1] > killed_at]
                back_after = [c.hellos[-1] - killed_at for c in dropped if c.is_up]
                up = sum(c.is_up for c in clients)
                # and an event is sent to the user after the failover
                await asyncio.to_thread(send_to_users_now, user_ids=[user.id], payload={"type": "after", "n": 1})
                await asyncio.sleep(2)
                receiving = sum(1 for c in clients if {"type": "after", "n": 1} in c.messages)
                return {"victim": victim, "dropped": len(dropped), "back_after": back_after, "up": up,
                        "receiving": receiving}
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        result = asyncio.run(scenario())
        print({k: v for k, v in result.items() if k != "back_after"}, "slowest back:", max(result["back_after"], default=None))
        # then about half the clients (the killed process's) were dropped, and >= 95% were back within 10 s
        assert 0.3 * CLIENTS <= result["dropped"] <= 0.7 * CLIENTS, result["dropped"]
        assert len(result["back_after"]) >= 0.95 * result["dropped"]
        assert result["up"] >= 0.95 * CLIENTS
        assert max(result["back_after"]) < 10
        # and at least 95% of all sockets receive an event sent after the failover
        assert result["receiving"] >= 0.95 * CLIENTS, result["receiving"]
        # and the stack restarted the killed Daphne
        assert stack.pids()["daphne-1"] != result["victim"]
        assert "restarted daphne-1" in stack.output
