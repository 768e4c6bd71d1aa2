"""The journey suite's fixtures: the product started exactly like `make run` (tests/journeys/demo.py), and
Debian's Chromium through Playwright, one context per person.

No substitute anywhere: no routed endpoint, no fake server, no test loader in settings. Rows are made
through the product's own API or pages as the demo's people (password teleclinic-demo).
"""
import datetime as dt
import os
import re

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import ARTIFACTS
from tests.e2e.clocked import next_sunday_23h_utc
from tests.e2e.conftest import wait_for_js
from tests.journeys.demo import DEMO_PASSWORD, Demo, StackClock

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--allow-loopback-in-peer-connection", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--disable-gpu", "--no-sandbox"]
SCREENSHOTS = ARTIFACTS / "screenshots"
# Timers shortened by env only: beat runs every entry 10x as often (a 30 s sweep every 3 s).
JOURNEY_ENV = {"BEAT_INTERVAL_SCALE": "0.1"}


@pytest.fixture(scope="session")
def stack_clock():
    """The clock the journeys' server and pages share: a Sunday 23:00 UTC (Monday 07:00 in the service's
    zone, where "this week" and "today" differ between UTC and the county), or TEST_STACK_CLOCK_AT (ISO
    8601) to run them once at another odd moment by hand. Nothing depends on the machine's day or zone."""
    at = os.environ.get("TEST_STACK_CLOCK_AT")
    return StackClock(dt.datetime.fromisoformat(at) if at else next_sunday_23h_utc(dt.datetime.now(dt.UTC)))


@pytest.fixture(scope="session")
def demo(tmp_path_factory, stack_clock):
    """One `manage.py rundemo` (embedded default, demo seeded) for the whole session, stopped at its end.
    Tests share it and stay independent: each makes its own consultation (the demo has 40 patients and
    8 experts, all on call), and none needs an empty database."""
    running = Demo(tmp_path_factory.mktemp("rundemo"), env=JOURNEY_ENV, clock=stack_clock)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium():
    """Chromium for one module: Playwright's sync API runs an event loop in the test's thread, which must
    not outlive the module (later tests' ORM calls would see a running loop)."""
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: scripts/install-system-deps.sh installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def person(chromium, demo, stack_clock, request):
    """person(username) -> a logged-in Page in its own browser context on the demo, in Chinese, on the
    demo's clock. person(None, ...) -> a Page with nobody logged in (a patient's phone)."""
    opened = []

    def make(username: str | None, **context_options):
        context = chromium.new_context(**{"base_url": demo.url, "locale": "zh-CN", "timezone_id": "Asia/Shanghai",
                                          "accept_downloads": True, **context_options})
        context.set_default_timeout(20_000)
        page = context.new_page()
        stack_clock.install(page)
        page.errors, page.console = [], []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
        opened.append((f"{len(opened) + 1}-{username or 'phone'}", page))
        if username:
            login(page, username)
        return page

    yield make
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    for name, page in opened:  # each page's picture and console, to be looked at when a step fails
        try:
            (SCREENSHOTS / f"journeys-{slug}-{name}.console.txt").write_text("\n".join(page.console))
            page.screenshot(path=str(SCREENSHOTS / f"journeys-{slug}-{name}.png"), full_page=True)
        except PlaywrightError as exc:  # a picture is for looking at: a busy machine's timeout fails no test
            print(f"{name}: no screenshot ({exc.message.splitlines()[0]})")
        finally:
            page.context.close()
    errors = [f"{name}: {e}" for name, page in opened for e in page.errors]
    assert not errors, "uncaught errors in the pages:\n" + "\n".join(errors)


def login(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login/?next=/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "/login/" not in page.url, f"login as {username} failed"
    page.wait_for_selector("body[data-ready=true]")


def request_async_cardiology(village, patient_name: str, reason: str) -> int:
    """Through the console: find the patient, request an async cardiology consultation; returns its id."""
    village.wait_for_selector("#socket-state[data-state=open]")
    village.fill("#patient-q", patient_name)
    village.click("#patient-search button[type=submit]")
    village.click(f"#patient-results button:has-text('{patient_name}') >> nth=0")
    village.select_option("#consult-specialty", "cardiology")
    village.check("#consult-form input[name=mode][value=async]")
    village.fill("#consult-form textarea[name=reason]", reason)
    village.click("#consult-form button[type=submit]")
    village.wait_for_selector("#consult-status:has-text('已申请')")
    wait_for_js(village, "document.querySelector('#upload-consultation').value !== ''")
    return int(village.input_value("#upload-consultation"))
