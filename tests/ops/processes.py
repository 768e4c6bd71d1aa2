"""Real server processes for the ops tests: Daphne on a free loopback port, on the test database."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT, _database_url

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**extra) -> dict:
    """The environment of a server process: this test run's database, Redis and channel prefix."""
    env = dict(os.environ, DATABASE_URL=_database_url(), DJANGO_SETTINGS_MODULE="teleclinic.test_settings",
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def daphne(tmp_path: Path, name: str = "daphne", **env):
    """A Daphne process serving teleclinic.asgi on the test database; yields its base URL."""
    port = free_port()
    log = tmp_path / f"{name}.log"
    command = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "--proxy-headers",
               "teleclinic.asgi:application"]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=server_env(**env), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", proc, log)
        proc.url, proc.port, proc.log_path = f"http://127.0.0.1:{port}", port, log
        yield proc
    finally:
        stop(proc)
