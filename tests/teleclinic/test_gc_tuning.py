"""The serving processes' garbage collector (teleclinic/gc_tuning.py): loading the ASGI application
sets the thresholds from ASGI_GC_THRESHOLDS and freezes startup's objects; empty keeps CPython's."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import gc, json; import teleclinic.asgi; "
         "print(json.dumps([gc.get_threshold(), gc.get_freeze_count(), len(gc.get_objects())]))")


def _serving_process_gc(**env) -> tuple[list[int], int, int]:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "teleclinic.settings", **env})
    assert result.returncode == 0, result.stderr[-2000:]
    threshold, frozen, walked = json.loads(result.stdout.strip().splitlines()[-1])
    return threshold, frozen, walked


@pytest.mark.parametrize("setting, expected", [(None, [50_000, 20, 20]), ("100000,10,30", [100_000, 10, 30])])
def test_the_asgi_application_collects_less_often_and_never_over_startups_objects(setting, expected):
    env = {} if setting is None else {"ASGI_GC_THRESHOLDS": setting}
    threshold, frozen, walked = _serving_process_gc(**env)
    assert threshold == expected
    # Django's and the modules' objects are out of every collection's walk: far more than are left in it.
    assert frozen > 50_000 and walked < frozen / 10


def test_an_empty_setting_keeps_cpythons_collector():
    threshold, frozen, _ = _serving_process_gc(ASGI_GC_THRESHOLDS="")
    assert threshold == [700, 10, 10] and frozen == 0
