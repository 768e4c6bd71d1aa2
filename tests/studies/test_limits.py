"""The ingest memory ceiling (studies/limits.py): over-budget allocations fail in the task, the process goes on."""
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
from studies.limits import address_space_budget
try:
    with address_space_budget(200 * 1024 * 1024):
        block = bytearray(600 * 1024 * 1024)
    print("allocated")
except MemoryError:
    print("refused")
after = bytearray(600 * 1024 * 1024)  # the ceiling is lifted again for the next task
print("after", len(after) // (1024 * 1024))
"""


def test_allocation_beyond_the_budget_raises_memory_error_and_the_limit_is_lifted_afterwards():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["refused", "after", "600"], result.stderr
