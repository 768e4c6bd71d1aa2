"""Real server processes for the ops tests: Daphne on a free loopback port, on the test database."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT, free_port, postgres_url

BIN = Path(sys.executable).parent


def server_env(**extra) -> dict:
    """The environment of a server process: this test run's database, Redis and channel prefix."""
    env = dict(os.environ, DATABASE_URL=postgres_url(), DJANGO_SETTINGS_MODULE="teleclinic.test_settings",
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


class Stack:
    """scripts/scaled.sh running on the test database: nginx at `url`, Daphne at `daphne_ports`."""

    def __init__(self, proc: subprocess.Popen, run_dir: Path, port: int, daphne_ports: list[int], queue: str):
        self.proc, self.run_dir, self.port, self.daphne_ports, self.queue = proc, run_dir, port, daphne_ports, queue
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    @property
    def output(self) -> str:
        return (self.run_dir / "scaled.out").read_text()

    def pids(self) -> dict[str, int]:
        rows = (self.run_dir / "pids").read_text().split("\n")
        return {name: int(pid) for pid, name in (row.split() for row in rows if row.strip())}

    def access_log(self) -> str:
        return (self.run_dir / "logs" / "nginx-access.log").read_text()


@contextmanager
def scaled_stack(tmp_path: Path, *, workers: int = 2, **env):
    """Start scripts/scaled.sh (its own Celery queue so only its workers take its tasks); stop it after."""
    import uuid

    from django.conf import settings

    run_dir = tmp_path / "scaled"
    run_dir.mkdir()
    port, daphne_ports = free_port(), [free_port(), free_port()]
    queue = f"scaled-test-{uuid.uuid4().hex[:8]}"
    env = server_env(PORT=str(port), DAPHNE_PORTS=" ".join(map(str, daphne_ports)), SCALED_DIR=str(run_dir),
                     PYTHON=sys.executable, CELERY_WORKERS=str(workers), CELERY_CONCURRENCY="1",
                     CELERY_QUEUE=queue, SECRET_KEY=settings.SECRET_KEY, **env)
    with open(run_dir / "scaled.out", "w") as out:
        proc = subprocess.Popen(["bash", "scripts/scaled.sh"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    stack = Stack(proc, run_dir, port, daphne_ports, queue)
    try:
        deadline = time.monotonic() + 120
        while "scaled stack is running" not in stack.output:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"scaled.sh did not start:\n{stack.output[-3000:]}")
            time.sleep(0.3)
        yield stack
    finally:
        stop(proc, timeout=40)
