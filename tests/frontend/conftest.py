"""The browser fixtures of tests/e2e/conftest.py, for the page tests here."""
from tests.e2e.conftest import (browser, browser_devices, live_daphne, open_page, page,  # noqa: F401
                                playwright_instance, relay_worker)
