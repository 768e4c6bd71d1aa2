"""coturn run for real (Debian's package) with the command line of docker-compose.yml's coturn
service: the credentials a room's welcome hands out let a client open a relay until they expire,
and no relay is ever opened towards a private or loopback address (no pivot into the hospital
network through the county's TURN server)."""
import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from aioice import stun
from aioice.turn import TurnClientUdpProtocol

from live.ice import turn_credentials
from live.models import Participant
from live.selectors import room_snapshot

ROOT = Path(__file__).resolve().parents[2]
SECRET = "county-turn-secret"
# coturn alone refuses only 127/8 and 0/8 (tried without the compose file's --denied-peer-ip lines:
# the private ranges below were allowed); the rest is the compose file's doing.
DENIED_PEERS = ["127.0.0.1", "10.1.2.3", "172.16.5.4", "192.168.1.10", "169.254.1.1", "100.64.0.1", "0.0.0.1"]
PUBLIC_PEER = "8.8.8.8"  # a permission is only installed on the server: nothing is sent to it


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_stun(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(bytes(stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)),
                    ("127.0.0.1", port))
        try:
            return bool(sock.recv(2048))
        except OSError:
            return False


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    """(host, port) of a turnserver started with the compose file's arguments, on loopback."""
    binary = shutil.which("turnserver")
    assert binary, "turnserver is missing: scripts/install-system-deps.sh installs Debian's coturn"
    tmp = tmp_path_factory.mktemp("coturn")
    port = _free_udp_port()
    args = []
    for arg in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["coturn"]["command"]:
        if arg.startswith("--listening-port="):
            arg = f"--listening-port={port}"
        elif arg.startswith("--static-auth-secret="):
            arg = f"--static-auth-secret={SECRET}"
        args.append(arg)
    # Only what a test on one machine needs on top: loopback addresses, no TLS certificates, files in tmp.
    args += ["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--no-tls", "--no-dtls",
             f"--log-file={tmp / 'turn.log'}", "--simple-log", f"--pidfile={tmp / 'turn.pid'}",
             f"--userdb={tmp / 'turndb'}"]
    proc = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not _answers_stun(port):
            assert proc.poll() is None, f"turnserver exited: {_log(tmp)}"
            assert time.monotonic() < deadline, f"turnserver did not answer: {_log(tmp)}"
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _log(tmp: Path) -> str:
    logs = sorted(tmp.glob("turn*.log"))
    return logs[-1].read_text()[-3000:] if logs else "(no log)"


async def _allocation(server, username: str, credential: str):
    """A TURN client with an allocation on `server` (aioice's, as aiortc uses it)."""
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        lambda: TurnClientUdpProtocol(server, username=username, password=credential, lifetime=600,
                                      channel_refresh_time=500), remote_addr=server)
    try:
        relayed = await asyncio.wait_for(client.connect(), 10)
    except BaseException:
        transport.close()
        raise
    return transport, client, relayed


async def _close(transport, client) -> None:
    await client.delete()
    transport.close()


async def _permit(client, peer: str) -> None:
    request = stun.Message(message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST)
    request.attributes["XOR-PEER-ADDRESS"] = (peer, 9)
    await asyncio.wait_for(client.request_with_retry(request), 10)


async def _refused_with(server, username: str, credential: str) -> int:
    with pytest.raises(stun.TransactionFailed) as refused:
        transport, client, _ = await _allocation(server, username, credential)
        await _close(transport, client)  # not reached when refused
    return refused.value.response.error_code


@pytest.mark.django_db
def test_the_welcomes_turn_credentials_open_a_relay_on_coturn(coturn, room, settings):
    host, port = coturn
    settings.TURN_URLS, settings.TURN_SECRET, settings.TURN_TTL = [f"turn:{host}:{port}"], SECRET, 600
    participant = Participant.objects.get(room=room, role="host")
    turn = next(server for server in room_snapshot(participant_id=participant.pk)["ice_servers"]
                if "credential" in server)
    assert turn["urls"] == [f"turn:{host}:{port}"]

    async def relay_through_coturn():
        transport, client, relayed = await _allocation(coturn, turn["username"], turn["credential"])
        try:
            assert relayed[0] == "127.0.0.1" and relayed[1] > 0
            await _permit(client, PUBLIC_PEER)  # a public peer may be reached through the relay
        finally:
            await _close(transport, client)

    asyncio.run(relay_through_coturn())


async def test_credentials_stop_working_when_they_expire(coturn):
    username, credential = turn_credentials(secret=SECRET, user="p1", ttl=2)
    transport, client, _ = await _allocation(coturn, username, credential)
    await _close(transport, client)
    # coturn takes them through their expiry's whole second (refused once the expiry < now, in seconds)
    await asyncio.sleep(max(0.0, int(username.split(":")[0]) + 1 - time.time()) + 0.2)
    assert await _refused_with(coturn, username, credential) == 401  # the same ones, once expired
    assert await _refused_with(coturn, *turn_credentials(secret=SECRET, user="p1", ttl=-1)) == 401
    assert await _refused_with(coturn, *turn_credentials(secret="not-the-county's", user="p1", ttl=600)) == 401


async def test_no_relay_towards_private_or_loopback_addresses(coturn):
    transport, client, _ = await _allocation(coturn, *turn_credentials(secret=SECRET, user="p2", ttl=600))
    try:
        for peer in DENIED_PEERS:
            with pytest.raises(stun.TransactionFailed) as refused:
                await _permit(client, peer)
            assert refused.value.response.error_code == 403, peer
        with pytest.raises(stun.TransactionFailed) as refused:
            await asyncio.wait_for(client.channel_bind(0x4000, ("192.168.0.1", 5000)), 10)
        assert refused.value.response.error_code == 403
        await _permit(client, PUBLIC_PEER)  # the same allocation, to a public address: allowed
    finally:
        await _close(transport, client)
