"""The browser fixtures of tests/e2e/conftest.py, for the page tests here, and the frozen clock of date-sensitive ones."""
import datetime as dt
import os
import time

import pytest
import time_machine

from tests.e2e.clocked import next_sunday_23h_utc

from tests.e2e.conftest import (browser, browser_devices, daphne_process, live_daphne, open_page, page,  # noqa: F401
                                playwright_instance, relay_worker)

# The moments the date-sensitive page tests run at, whatever the machine's day, hour and zone. Sunday
# 23:00 UTC is already Monday 07:00 in the service's zone (Asia/Shanghai): "this week" differs between
# the two, which once failed `make test` every Sunday from 16:00 to 24:00 UTC.
# The coming Sunday, not a fixed date: a stack on a clock more than two weeks behind the browser's real one
# would hand it session cookies that are already expired.
_SUNDAY = next_sunday_23h_utc(dt.datetime.now(dt.UTC))
CLOCKS = {
    "wednesday-noon-in-the-service-zone": _SUNDAY - dt.timedelta(days=4, hours=19),  # Wednesday 04:00 UTC
    "sunday-23h-utc": _SUNDAY,
}


class FrozenClock:
    """The test's clock: Python's (time-machine, ticking from `moment`) and, once installed, the page's."""

    def __init__(self, moment: dt.datetime):
        self.moment = moment

    def install(self, browser_page) -> None:
        """Call before the page's first navigation: its scripts then see the same clock as the test."""
        browser_page.clock.install(time=dt.datetime.now(dt.UTC))


@pytest.fixture(params=list(CLOCKS))
def frozen_clock(request):
    """Runs the test at each moment of CLOCKS (time-machine where Python decides; page.clock for pages)."""
    with time_machine.travel(CLOCKS[request.param], tick=True):
        yield FrozenClock(CLOCKS[request.param])


# The moment a whole stack runs at (clocked_stack): Sunday 23:00 UTC unless TEST_STACK_CLOCK_AT names another
# (ISO 8601), to run those tests once at any odd moment by hand.
STACK_CLOCK_AT = os.environ.get("TEST_STACK_CLOCK_AT") or CLOCKS["sunday-23h-utc"].isoformat()


class ClockedStack:
    """One ticking clock for the test process, its Daphne and relay processes, and its pages."""

    def __init__(self, at: dt.datetime):
        self.at, self.since = at, time.time()

    def now(self) -> dt.datetime:
        return self.at + dt.timedelta(seconds=time.time() - self.since)

    def install(self, browser_page) -> None:
        """Call before the page's first navigation (the test's process is on this clock already)."""
        browser_page.clock.install(time=dt.datetime.now(dt.UTC))


@pytest.fixture(scope="module")
def clocked_stack():
    """For a module that overrides live_daphne with clocked_daphne: the servers it starts run on the clock
    (tests/e2e/clocked.py), and each of its tests, through stack_clock, in the test process too."""
    stack = ClockedStack(dt.datetime.fromisoformat(STACK_CLOCK_AT))
    saved = {key: os.environ.get(key) for key in ("TEST_CLOCK_AT", "TEST_CLOCK_SINCE")}
    os.environ.update(TEST_CLOCK_AT=stack.at.isoformat(), TEST_CLOCK_SINCE=repr(stack.since))
    yield stack
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def clocked_daphne(clocked_stack, django_db_blocker, tmp_path_factory):
    """A module's own Daphne on the clocked stack (the session's one keeps real time)."""
    yield from daphne_process(django_db_blocker, tmp_path_factory)


@pytest.fixture
def stack_clock(clocked_stack):
    with time_machine.travel(clocked_stack.now(), tick=True):
        yield clocked_stack
