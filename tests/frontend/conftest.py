"""The browser fixtures of tests/e2e/conftest.py, for the page tests here, and the frozen clock of date-sensitive ones."""
import datetime as dt

import pytest
import time_machine

from tests.e2e.conftest import (browser, browser_devices, live_daphne, open_page, page,  # noqa: F401
                                playwright_instance, relay_worker)

# The moments the date-sensitive page tests run at, whatever the machine's day, hour and zone. Sunday
# 23:00 UTC is already Monday 07:00 in the service's zone (Asia/Shanghai): "this week" differs between
# the two, which once failed `make test` every Sunday from 16:00 to 24:00 UTC.
CLOCKS = {
    "wednesday-noon-in-the-service-zone": dt.datetime(2026, 12, 2, 4, 0, tzinfo=dt.UTC),
    "sunday-23h-utc": dt.datetime(2026, 12, 6, 23, 0, tzinfo=dt.UTC),
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
