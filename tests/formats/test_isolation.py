"""The formats library stands alone: no Django, no ORM."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_importing_every_module_loads_no_django():
    code = (
        "import sys, studies.formats, studies.formats.ecg, studies.formats.ecg.measure, "
        "studies.formats.ecg.serve, studies.formats.render, studies.formats.photos; "
        "import neurokit2, wfdb; "  # the lazily imported dependencies too
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], 'django imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_studies_package_marker_is_empty():
    # another engineer creates the same Django app package: the file must merge cleanly
    assert (ROOT / "studies" / "__init__.py").read_bytes() == b""
