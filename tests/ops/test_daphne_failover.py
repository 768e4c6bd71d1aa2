"""kill -9 one of the two Daphne processes behind nginx: its clients reconnect through nginx to the
other, by themselves, at least 95% within 10 s; the stack restarts the killed process."""
import asyncio
import os
import signal
import time

from live.models import Room
from teleclinic.events import send_to_users_now
from tests.factories import UserFactory
from tests.ops.processes import scaled_stack
from tests.ops.reconnecting import ReconnectingClient, room_failover
from tests.ops.rooms import rooms_open
from tests.ops.test_scaled_stack import session_cookie

CLIENTS = 200


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


ROOM_CLIENTS = 150  # 50 rooms of 3; bench/ops_room_failover_bench.py runs 500


def test_room_sockets_of_a_killed_daphne_resume_through_the_other_without_a_gap(transactional_db, tmp_path, people,
                                                                                 community, consultation_factory):
    # given the scaled stack and 50 rooms of 3 sockets (the doctor, the expert, a second expert)
    room_ids = rooms_open(people, community, consultation_factory, ROOM_CLIENTS // 3, second_expert=True)
    cookies = [session_cookie(people[name]) for name in ("village_doctor", "expert", "other_expert")]
    with scaled_stack(tmp_path, workers=0) as stack:
        def kill() -> int:
            victim = stack.pids()["daphne-1"]
            os.kill(victim, signal.SIGKILL)
            return victim

        # when one Daphne is killed while the doctors keep chatting
        result = asyncio.run(room_failover(stack.ws_url, {room: cookies for room in room_ids}, kill,
                                           lambda: dict(Room.objects.filter(pk__in=room_ids)
                                                        .values_list("pk", "last_seq"))))
        print("room failover:", result)
    # then about half the sockets dropped and >= 95% of them were back within 10 s
    assert 0.3 * ROOM_CLIENTS <= result["dropped"] <= 0.7 * ROOM_CLIENTS, result
    assert result["back_within_10s"] >= 0.95 * result["dropped"], result
    # and chat kept flowing while they came back
    assert result["chats_sent"]["during"] > 0 and result["chats_sent"]["after"] > 0, result
    # and every client saw its room's events 1..last exactly once, in order: no gap, no repeat
    assert result["clients_with_contiguous_seqs"] == ROOM_CLIENTS, result["broken"]
    assert result["gaps"] == 0 and result["repeats"] == 0
