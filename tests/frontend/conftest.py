"""The browser fixtures of tests/e2e/conftest.py, for the page tests here."""
from tests.e2e.conftest import browser, browser_devices, live_daphne, open_page, page, playwright_instance  # noqa: F401
