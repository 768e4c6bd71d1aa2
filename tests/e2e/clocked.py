"""Run a server process of the tests on a moved clock: `python -m tests.e2e.clocked <module | script.py> args...`.

TEST_CLOCK_AT (ISO 8601) is what the clock showed at the real moment TEST_CLOCK_SINCE (a time.time()); the
process starts at TEST_CLOCK_AT plus the time since, and its clock ticks (time-machine: datetime, time.time
and the like move, time.monotonic does not, so timeouts and event loops are unaffected). The test process
travels the same way (tests/frontend/conftest.py), so the test, the server and the page share one clock.
"""
import datetime as dt
import os
import runpy
import sys
import time

import time_machine


def next_sunday_23h_utc(after: dt.datetime) -> dt.datetime:
    """The first Sunday 23:00 UTC after `after` (already Monday 07:00 in the service's zone): never in the
    past, so that the cookies the server dates by it are not expired by the browser's real clock."""
    moment = after.astimezone(dt.UTC).replace(hour=23, minute=0, second=0, microsecond=0)
    moment += dt.timedelta(days=(6 - moment.weekday()) % 7)
    return moment if moment > after else moment + dt.timedelta(days=7)


def main() -> None:
    at = dt.datetime.fromisoformat(os.environ["TEST_CLOCK_AT"])
    since = float(os.environ["TEST_CLOCK_SINCE"])
    time_machine.travel(at + dt.timedelta(seconds=time.time() - since), tick=True).start()
    target, sys.argv = sys.argv[1], sys.argv[1:]
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
