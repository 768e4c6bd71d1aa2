"""kill -9 one of the scaled stack's two Daphne processes with 500 room sockets connected (rooms of
3, the host of each chatting every 2 s): how many are back within 10 s through the other process
(goal: >= 95%), and whether every client's event sequence stays contiguous (goal: no gap, no
repeat). Issue 8, faults. The scenario is tests/ops/reconnecting.py's room_failover, the same
one tests/ops/test_daphne_failover.py runs with 150 clients.

Prints one JSON object. Creates and drops its own database tc_bench_ops. Env: BENCH_CLIENTS (500).
"""
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ops_common  # noqa: E402
from common import percentile  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "500"))


def seed(rooms: int) -> tuple[list[int], list[str]]:
    """`rooms` open live rooms of one village doctor with the expert assigned and a second expert
    admitted; the session cookies of the doctor, the expert and the second expert."""
    from consult.models import Consultation
    from directory.models import Organisation, User
    from live.services import rooms as room_services
    from tests.factories import (ConsultationFactory, ExpertFactory, OrganisationFactory, PatientFactory,
                                 SpecialtyFactory, UserFactory)
    from tests.ops.rooms import admit_second_expert
    from tests.ops.test_scaled_stack import session_cookie

    lead = OrganisationFactory(code="lead", kind=Organisation.Kind.LEAD_HOSPITAL)
    township = OrganisationFactory(code="town", kind=Organisation.Kind.TOWNSHIP_CENTRE, parent=lead)
    village = OrganisationFactory(code="vil", parent=township)
    cardiology = SpecialtyFactory(code="cardiology")
    doctor = UserFactory(username="vdoc", role=User.Role.VILLAGE_DOCTOR, organisation=village)
    experts = [ExpertFactory(user=UserFactory(username=f"expert{n}", role=User.Role.EXPERT, organisation=lead),
                             specialties=[cardiology]) for n in (1, 2)]
    room_ids = []
    for n in range(rooms):
        consultation = ConsultationFactory(patient=PatientFactory(home_clinic=village), requested_by=doctor,
                                           mode=Consultation.Mode.LIVE, assigned_expert=experts[0],
                                           state=Consultation.State.ASSIGNED)
        room = room_services.room_open(by=doctor, consultation_id=consultation.pk)[0]
        admit_second_expert(room, consultation, experts[1].user)  # else the room refuses its third socket
        room_ids.append(room.pk)
    return room_ids, [session_cookie(user) for user in (doctor, experts[0].user, experts[1].user)]


async def burst_connect(ws_url: str, clients: dict[int, list[str]], count: int) -> dict:
    """The same run's floor for a failover: `count` new room sockets opened at once on the surviving
    Daphne (nothing killed), seconds until each is welcomed."""
    from tests.ops.reconnecting import RoomClient

    targets = [(room, cookie) for room, cookies in clients.items() for cookie in cookies][:count]
    sockets = [RoomClient(f"{ws_url}/ws/rooms/{room}/", cookie) for room, cookie in targets]
    started = time.monotonic()
    tasks = [asyncio.create_task(client.run()) for client in sockets]
    try:
        await asyncio.wait_for(asyncio.gather(*(client.connected.wait() for client in sockets)), 120)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    welcomed = [client.hellos[0] - started for client in sockets]
    return {"sockets": len(sockets), "welcomed_after_s": {
        "p50": round(percentile(welcomed, 0.50), 2), "p95": round(percentile(welcomed, 0.95), 2),
        "max": round(max(welcomed), 2)}}


def main() -> None:
    ops_common.setup_django()
    ops_common.many_clients_process()
    from live.models import Room
    from tests.ops.processes import scaled_stack
    from tests.ops.reconnecting import room_failover

    load_before = os.getloadavg()
    room_ids, cookies = seed(-(-CLIENTS // 3))
    clients = {room: [] for room in room_ids}
    for n in range(CLIENTS):  # rooms of 3 (the last one may be smaller)
        clients[room_ids[n // 3]].append(cookies[n % 3])
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp, scaled_stack(Path(tmp), workers=0) as stack:
            def kill() -> int:
                victim = stack.pids()["daphne-1"]
                os.kill(victim, signal.SIGKILL)
                return victim

            result = asyncio.run(room_failover(stack.ws_url, clients, kill, lambda: dict(
                Room.objects.filter(pk__in=room_ids).values_list("pk", "last_seq"))))
            baseline = asyncio.run(burst_connect(stack.ws_url, clients, result["dropped"]))
    finally:
        ops_common.drop_database()
    result.pop("victim_pid")
    print(json.dumps({
        "bench": "ops_room_failover", "layer": "RedisPubSubChannelLayer",
        "machine": ops_common.machine(load_before),
        "stack": "scripts/scaled.sh: nginx + 2 Daphne (+ beat)", **result,
        "baseline_burst_to_the_survivor": baseline,
        "goal": {"back_within_10s_pct": ">= 95", "gaps": 0, "repeats": 0},
        "met": result["back_within_10s_pct"] >= 95 and result["gaps"] == 0 and result["repeats"] == 0
        and result["clients_with_contiguous_seqs"] == result["clients"],
        "wall_s": round(time.monotonic() - started, 1)}, indent=2))


if __name__ == "__main__":
    main()
