"""The scaled-out stack (scripts/scaled.sh): two Daphne behind nginx share one Redis channel layer."""
import asyncio
import http.cookiejar
import json
import os
import re
import subprocess
import urllib.parse
import urllib.request

import pytest
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from teleclinic.events import send_to_users_now
from teleclinic.tasks import notify_users
from tests.conftest import ROOT
from tests.factories import UserFactory
from live.models import Room
from relay.sim import wait_for
from tests.ops.processes import scaled_stack
from tests.ops.rooms import audio_peer, close_peers, media_peer, rooms_open, sees, wait_for_workers

GREEN = (0, 255, 0)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def _open(stack, cookie: str):
    socket = await connect(f"{stack.ws_url}/ws/notifications/", additional_headers={"Cookie": cookie},
                           origin=stack.url, open_timeout=10)
    hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert hello["type"] == "hello"
    return socket


async def _next(socket) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), 15))


@pytest.mark.worker
def test_events_from_a_worker_and_another_process_reach_sockets_on_both_daphnes(transactional_db, tmp_path):
    # given the scaled stack and a logged-in user
    user = UserFactory(username="scaled-user")
    cookie = session_cookie(user)
    with scaled_stack(tmp_path) as stack:
        async def scenario():
            # when the user holds two sockets through nginx (least_conn puts them on different Daphnes)
            first = await _open(stack, cookie)
            second = await _open(stack, cookie)
            try:
                # and a Celery worker of the stack sends an event to the user
                notify_users.apply_async(args=[[user.id], {"type": "report.arrived", "report": 7}], queue=stack.queue)
                # then both sockets receive it
                assert await _next(first) == {"type": "report.arrived", "report": 7}
                assert await _next(second) == {"type": "report.arrived", "report": 7}
                # and an event sent from this (third) process reaches both as well
                await asyncio.to_thread(send_to_users_now, user_ids=[user.id], payload={"type": "offer", "id": 3})
                assert await _next(first) == {"type": "offer", "id": 3}
                assert await _next(second) == {"type": "offer", "id": 3}
                # and through nginx too, a page of another origin cannot open the user's socket
                with pytest.raises(InvalidStatus) as refused:
                    await connect(f"{stack.ws_url}/ws/notifications/", additional_headers={"Cookie": cookie},
                                  origin="http://evil.example", open_timeout=10)
                assert refused.value.response.status_code == 403
            finally:
                await first.close()
                await second.close()

        asyncio.run(scenario())
        # and a login through nginx passes CSRF (Host and Origin survive the proxy) and lands home
        assert _login_through_proxy(stack.url, "scaled-user", "pw-123456") == f"{stack.url}/"
        # then nginx's access log shows the two sockets were served by the two Daphne processes
        await_log = [line for line in stack.access_log().splitlines() if "/ws/notifications/" in line]
        upstreams = {re.search(r"upstream=(\S+)", line).group(1) for line in await_log}
        assert upstreams == {f"127.0.0.1:{port}" for port in stack.daphne_ports}, await_log
        pids = stack.pids()
        assert {"daphne-1", "daphne-2", "worker-1", "worker-2", "beat", "nginx"} <= set(pids)
        # when the stack gets SIGTERM
        stack.proc.terminate()
        assert stack.proc.wait(timeout=40) == 0, stack.output[-2000:]
    # then every process it started is gone
    for name, pid in pids.items():
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid), f"{name} (pid {pid}) still running"


def test_the_rooms_of_a_busy_hour_spread_over_both_relay_workers_and_media_flows_on_each(
        transactional_db, tmp_path, people, community, consultation_factory):
    # given the scaled stack with its two relay workers, and 10 rooms opened in the same hour
    room_ids = rooms_open(people, community, consultation_factory, 10)
    host_cookie, expert_cookie = session_cookie(people["village_doctor"]), session_cookie(people["expert"])
    with scaled_stack(tmp_path, workers=0, RTC_LOOPBACK="1", LIVE_RELAY_MODE="workers") as stack:
        workers = wait_for_workers(2)

        async def scenario() -> dict:
            peers = []
            try:
                # when the village doctor of each room starts its call (audio, through the socket)
                for room_id in room_ids:
                    peers.append(await audio_peer(stack, room_id, host_cookie))
                placed = await asyncio.to_thread(_placements, room_ids)
                # and in one room on each worker the expert joins with video
                experts = {}
                for worker in workers:
                    room_id = next(r for r in room_ids if placed[r] == worker)
                    experts[worker] = (room_ids.index(room_id), await media_peer(stack, room_id, expert_cookie, GREEN))
                    peers.append(experts[worker][1])
                # then on each worker the doctor sees the expert's picture and the expert hears the doctor
                def flowing(index, expert):
                    doctor = peers[index][0]
                    got = expert[0].received.get(doctor.participant_id)
                    return sees(doctor, expert[0], GREEN) and got is not None and got.audio_frames > 20
                flows = {w: await wait_for(lambda i=i, e=e: flowing(i, e), 30) for w, (i, e) in experts.items()}
                return {"placed": placed, "flows": flows}
            finally:
                await close_peers(peers)

        result = asyncio.run(scenario())
    # then the rooms were placed half on each worker (least loaded first), through the sockets
    per_worker = {w: sum(1 for name in result["placed"].values() if name == w) for w in workers}
    print("rooms per relay worker:", per_worker)
    assert per_worker == {w: 5 for w in workers}, result["placed"]
    assert result["flows"] == {w: True for w in workers}


def _placements(room_ids: list[int]) -> dict[int, str]:
    return dict(Room.objects.filter(pk__in=room_ids).values_list("pk", "relay_worker__name"))


def _login_through_proxy(base: str, username: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{base}/login/", timeout=10).read()
    token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    request = urllib.request.Request(f"{base}/login/", data=form.encode(), headers={"Origin": base,
                                     "Referer": f"{base}/login/"})
    with opener.open(request, timeout=10) as response:
        assert response.status == 200
        return response.url


def _is_zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


def test_compose_proxy_config_passes_nginx_t(tmp_path):
    # given docker-compose.yml's nginx config, with the `web` service name pointed at loopback
    site = (ROOT / "scripts" / "nginx-compose.conf").read_text().replace("web:8000", "127.0.0.1:8000")
    site = site.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "main.conf").write_text(f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{ include {tmp_path}/site.conf; }}\n")
    # when Debian's nginx tests it, then it is valid
    result = subprocess.run(["/usr/sbin/nginx", "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                             "-c", str(tmp_path / "main.conf")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
