"""docker-compose.yml is a valid compose file with every service of the scaled stack."""
import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

SERVICES = {"postgres", "redis", "web", "worker", "beat", "relay", "coturn"}


def _compose_command() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (scripts/install-system-deps.sh)")


def test_compose_file_passes_compose_config():
    env = dict(os.environ, SECRET_KEY="x" * 50, TURN_SECRET="turn-secret", APP_DB_PASSWORD="app-password",
               DB_OWNER_PASSWORD="owner-password")
    result = subprocess.run(_compose_command() + ["-f", "docker-compose.yml", "config"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert SERVICES <= set(config["services"])
    # migrations run as the schema's owner, which then creates the application's role; the rest use that role
    services = config["services"]
    assert "grant_app_role teleclinic_app" in " ".join(services["migrate"]["command"])
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://teleclinic:")
    for name in ("web", "worker", "beat", "relay", "dicom-scp"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://teleclinic_app:"), name
        # and a process that dies (a worker crashed by a lost broker connection) is started again
        assert services[name]["restart"] == "unless-stopped", name
    assert services["migrate"]["restart"] == "no"


def test_coturn_denies_private_and_loopback_peers():
    command = " ".join(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["coturn"]["command"])
    for denied in ("127.0.0.0-127.255.255.255", "10.0.0.0-10.255.255.255", "192.168.0.0-192.168.255.255",
                   "172.16.0.0-172.31.255.255"):
        assert f"--denied-peer-ip={denied}" in command
    assert "--use-auth-secret" in command
