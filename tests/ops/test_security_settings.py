"""The production settings pass Django's deployment checklist (`check --deploy`)."""
import secrets
import subprocess
import sys

from tests.conftest import ROOT


def _check_deploy(tmp_path, **overrides) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "teleclinic.settings",
           "TELECLINIC_VAR_DIR": str(tmp_path), "SECURE": "true", "DEBUG": "false",
           "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "teleclinic.example.org"}
    env.update(overrides)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_settings_pass_check_deploy_at_warning_level(tmp_path):
    # given the production environment: SECURE, a real secret, DEBUG off, a host name
    # when Django's deployment checklist runs with warnings counted as failures
    result = _check_deploy(tmp_path)
    # then it finds nothing
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_secure(tmp_path):
    # given the same environment but without TLS hardening (the check can fail)
    result = _check_deploy(tmp_path, SECURE="false")
    # then the checklist names the missing settings
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS
