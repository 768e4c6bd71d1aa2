"""The product exactly as `make run` starts it: `manage.py rundemo` in a subprocess, on a free port.

Embedded settings: no DATABASE_URL, REDIS_URL or CELERY_BROKER_URL (SQLite in a temporary VAR_DIR,
the in-memory channel layer, eager in-process jobs, the in-process beat). Only timers are shortened,
through the environment variables the product reads (BEAT_INTERVAL_SCALE, SCHEDULING_OFFER_*_SECONDS).
"""
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.ports import free_port


ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "teleclinic-demo"  # directory/demo.py
START_S = 300  # migrate + seed on SQLite, on a machine other test runs keep busy
EMBEDDED_UNSET = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "SITE_URL",
                  "REPORTS_PUBLIC_BASE_URL", "REPORTS_STUDY_LOADER", "MEDIA_ROOT", "TEST_CLOCK_AT", "TEST_CLOCK_SINCE")


class Demo:
    """A running `manage.py rundemo`: its address, its log, its VAR_DIR (the SQLite file is var_dir/teleclinic.sqlite3)."""

    def __init__(self, var_dir: Path, env: dict | None = None, clock: "StackClock | None" = None):
        self.var_dir = Path(var_dir)
        self.clock = clock
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.var_dir / "rundemo.log"
        environment = {k: v for k, v in os.environ.items() if k not in EMBEDDED_UNSET}
        environment.update({"TELECLINIC_VAR_DIR": str(self.var_dir), "PYTHONUNBUFFERED": "1", **(env or {})})
        command = [sys.executable, "manage.py", "rundemo", "--port", str(self.port)]
        if clock is not None:  # the same command on a moved clock (time-machine in the process: tests/e2e/clocked.py)
            environment.update(clock.env())
            command = [sys.executable, "-m", "tests.e2e.clocked", *command[1:]]
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if f"open {self.url}/" in self.log():
                try:
                    if requests.get(f"{self.url}/healthz", timeout=3).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"rundemo did not start:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            assert self.proc.poll() is None, f"rundemo exited:\n{self.log()[-4000:]}"
            assert time.monotonic() < deadline, f"{text!r} not in the log within {timeout_s} s:\n{self.log()[-4000:]}"
            time.sleep(0.3)

    def api(self, username: str, password: str = DEMO_PASSWORD) -> requests.Session:
        """A requests session with the user's API token (Authorization: Token ...), base URL applied by `get`/`post`."""
        response = requests.post(f"{self.url}/api/auth/token/", json={"username": username, "password": password},
                                 timeout=30)
        assert response.status_code == 200, response.text
        session = _BaseUrlSession(self.url)
        session.headers["Authorization"] = f"Token {response.json()['token']}"
        return session

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class StackClock:
    """A ticking clock for a `rundemo` and the pages on it: it showed `at` at the real moment `since`.
    Only where Python (time-machine, in the server process) or the page (Playwright's clock) reads the time;
    monotonic clocks, timeouts and event loops keep real time."""

    def __init__(self, at: dt.datetime):
        self.at, self.since = at, time.time()

    def now(self) -> dt.datetime:
        return self.at + dt.timedelta(seconds=time.time() - self.since)

    def env(self) -> dict[str, str]:
        return {"TEST_CLOCK_AT": self.at.isoformat(), "TEST_CLOCK_SINCE": repr(self.since)}

    def install(self, page) -> None:
        """Call before the page's first navigation: its scripts then see the server's clock."""
        page.clock.install(time=self.now())


class _BaseUrlSession(requests.Session):
    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 60)
        return super().request(method, url if url.startswith("http") else self.base + url, *args, **kwargs)
