"""Daphne and relay_worker as subprocesses against the test database and the test Redis."""
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import ROOT, free_port


def server_env(database_url: str, **extra) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="teleclinic.test_settings",
               RTC_LOOPBACK="1", LIVE_RELAY_MODE="workers", LIVE_QUALITY_INTERVAL="2",
               # a prefix of their own: no cross-talk with other suites on the same Redis
               CHANNEL_PREFIX=f"live-e2e-{uuid.uuid4().hex[:6]}")
    env.update(extra)
    return env


def _start(command: list[str], env: dict, log: Path, ready, what: str, timeout: float = 60) -> subprocess.Popen:
    out = open(log, "w")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{what} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    proc.log_path = log
    return proc


def start_daphne(env: dict, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "teleclinic.asgi:application"]
    return _start(command, env, log, listening, "Daphne"), port


def start_relay_worker(env: dict, log: Path, name: str) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "relay_worker", "--name", name]
    return _start(command, env, log, lambda: "ready on" in log.read_text(), "relay_worker")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
