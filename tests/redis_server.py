"""The Redis that REDIS_URL names, shut down and started again the way it ran (the restart tests).

Host, port, db and password come from REDIS_URL, so a suite pointed at a private redis-server
(`REDIS_URL=redis://127.0.0.1:6390/0`) restarts that one and never the machine's shared Redis.
"""
import subprocess
import time

import redis
from django.conf import settings


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def ping() -> bool:
    try:
        return bool(_client().ping())
    except redis.ConnectionError:
        return False


def start_command() -> list[str]:
    """redis-server's arguments for this server as it runs now: its binds, port, directory, log and password,
    without persistence (the tests want the outage to lose what a restart loses)."""
    client = _client()
    config = {key: client.config_get(key)[key] for key in ("bind", "port", "dir", "logfile", "requirepass")}
    command = ["redis-server", "--daemonize", "yes", "--bind", *config["bind"].split(), "--port", config["port"],
               "--save", "", "--appendonly", "no", "--dir", config["dir"]]
    if config["logfile"]:
        command += ["--logfile", config["logfile"]]
    if config["requirepass"]:
        command += ["--requirepass", config["requirepass"]]
    return command


def down() -> list[str]:
    """Shut the server down without saving; the command that starts it again."""
    command = start_command()
    try:
        _client().shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # the server closed the connection as it went
    assert not ping(), f"Redis at {settings.REDIS_URL} is still up after SHUTDOWN"
    return command


def up(command: list[str], deadline_s: float = 20) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=10)
    end = time.monotonic() + deadline_s
    while not ping():
        assert time.monotonic() < end, f"Redis at {settings.REDIS_URL} did not come back"
        time.sleep(0.05)


def restart() -> float:
    """Shut the server down and start it again; seconds it was down."""
    began = time.monotonic()
    up(down())
    return time.monotonic() - began
