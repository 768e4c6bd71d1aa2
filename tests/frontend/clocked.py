"""The two fixtures a module adds to run its whole stack on one moved clock (tests/frontend/conftest.py):
its own Daphne and relay worker on that clock, and every page it opens on it. Import both into the module
(`live_daphne, open_page = clocked.live_daphne, clocked.open_page`) and mark it
`usefixtures("stack_clock")`; modules without them keep the session's real-time server."""
import pytest

from tests.frontend.conftest import clocked_daphne


@pytest.fixture(scope="module")
def live_daphne(clocked_stack, django_db_setup, django_db_blocker, tmp_path_factory):
    yield from clocked_daphne(clocked_stack, django_db_blocker, tmp_path_factory)


@pytest.fixture
def open_page(open_page, stack_clock):
    def make(name: str = "page", **context_options):
        page = open_page(name, **context_options)
        stack_clock.install(page)
        return page

    return make
