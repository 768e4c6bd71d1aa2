"""A memory ceiling for one ingest inside a Celery pool process (no ORM).

Choice: RLIMIT_AS (address space) is lowered to "what the process maps now + the budget"
for the duration of one task, then restored. An allocation beyond it raises MemoryError
in that task only; the pool process carries on with the next task. Together with the
formats library's own caps (inflated size, pixel budget) and the task's soft/hard time
limits, a hostile file costs a bounded amount of memory and time. Not applied when tasks
run eagerly inside the web process (the embedded default), where it would cap the server.
"""
import resource
from contextlib import contextmanager


def mapped_bytes() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * resource.getpagesize()


@contextmanager
def address_space_budget(budget_bytes: int | None):
    if not budget_bytes:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = mapped_bytes() + budget_bytes
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
