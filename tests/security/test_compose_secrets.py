"""Finding 8 (low): docker-compose.yml hard-coded the database password."""
import re
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_compose_holds_no_password_of_its_own():
    text = COMPOSE.read_text()
    config = yaml.safe_load(text)
    for name, service in config["services"].items():
        env = service.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        for key, value in items:
            value = str(value)
            if "PASSWORD" in key or "SECRET" in key:
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), (name, key, value)
            for password in re.findall(r"postgres://[^:/@]+:([^@]*)@", value):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", password), (name, key, value)
