"""The embedded default (`make run`) boots: SQLite, in-memory layer, in-process jobs, demo seeded."""
import os
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT, free_port


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_run_command_serves_healthz_and_login_page(tmp_path):
    # given a clean environment with no database or Redis configured
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DJANGO_SETTINGS_MODULE="teleclinic.settings", TELECLINIC_VAR_DIR=str(tmp_path))
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "rundemo", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        # when it has started
        deadline = time.monotonic() + 300  # migrate and seed on SQLite: ~30 s idle, minutes on a loaded machine
        while f"open http://127.0.0.1:{port}/" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.3)
        # then healthz reports the embedded parts and the login page is served in Chinese
        assert status == 200, log.read_text()[-3000:]
        assert '"channel_layer": "ok"' in body and "in-process" in body
        status, page = _get(f"http://127.0.0.1:{port}/login/")
        assert status == 200 and "登录" in page
        output = log.read_text()
        assert "vdoc01" in output and "expert01" in output and "teleclinic-demo" in output
        assert (tmp_path / "teleclinic.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
