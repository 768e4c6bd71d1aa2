"""Finding 8 (low): secrets in URL paths (a patient's report link, an expert's calendar feed)
reached the proxy's access log, against docs/security.md."""
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")


def test_the_proxy_logs_secret_paths_masked(tmp_path):
    assert NGINX.exists(), f"{NGINX} is missing: scripts/install-system-deps.sh installs Debian's nginx"
    # given docker-compose.yml's nginx, on a free port, its upstream down (requests still logged: 502)
    port = free_port()
    site = (ROOT / "scripts" / "nginx-compose.conf").read_text()
    site = site.replace("web:8000", f"127.0.0.1:{free_port()}").replace("listen 8000;", f"listen 127.0.0.1:{port};")
    site = site.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "main.conf").write_text(f"pid {tmp_path}/nginx.pid;\ndaemon off;\nevents {{}}\n"
                                        f"http {{ include {tmp_path}/site.conf; }}\n")
    proxy = subprocess.Popen([str(NGINX), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                              "-c", str(tmp_path / "main.conf")])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        # when a patient's link and an expert's feed are fetched
        for path in ("/api/reports/shared/SeCrEt-Report-Token/", "/api/scheduling/calendar/SeCrEt-Feed-Token.ics",
                     "/api/patients/?q=visible"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
            except urllib.error.HTTPError:
                pass
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
    # then the log has each request, its secret masked, the other paths as they were
    log = (tmp_path / "access.log").read_text()
    assert "SeCrEt" not in log, log
    assert '"GET /api/reports/shared/***/ HTTP/1.1"' in log
    assert '"GET /api/scheduling/calendar/***.ics HTTP/1.1"' in log
    assert '"GET /api/patients/?q=visible HTTP/1.1"' in log
