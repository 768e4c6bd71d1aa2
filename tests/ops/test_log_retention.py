"""Web access logs are rotated daily and kept at least six months (scripts/logrotate-teleclinic.conf)."""
import re
import subprocess

from tests.conftest import ROOT

CONF = ROOT / "scripts" / "logrotate-teleclinic.conf"


def test_access_logs_are_kept_at_least_six_months():
    text = CONF.read_text()
    assert re.search(r"^\s*daily\s*$", text, re.M)
    assert int(re.search(r"^\s*rotate\s+(\d+)", text, re.M).group(1)) >= 183
    assert int(re.search(r"^\s*maxage\s+(\d+)", text, re.M).group(1)) >= 183


def test_logrotate_accepts_the_config(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "nginx-access.log").write_text("127.0.0.1 [2026-11-25T20:00:00+00:00] \"GET /healthz HTTP/1.1\" 200\n")
    conf = tmp_path / "teleclinic.conf"
    conf.write_text(CONF.read_text().replace("/srv/teleclinic/var/scaled/logs", str(logs)))
    result = subprocess.run(["/usr/sbin/logrotate", "--debug", "--state", str(tmp_path / "state"), str(conf)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "nginx-access.log" in result.stderr
