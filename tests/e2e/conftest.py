"""Browser fixtures: a Daphne server on the test database, Debian's chromium through Playwright,
a login helper, a console-error collector that fails the test, and screenshots of every page.

Usage in a test (rows must be committed for the server process to see them):

    @pytest.mark.browser
    @pytest.mark.django_db(transaction=True)
    def test_something(people, open_page):
        page = open_page("village doctor")            # or open_page("patient", **browser_devices["Pixel 7"])
        login(page, "vdoc")
        page.goto("/")
        ...
        screenshot(page, "console-after")             # artifacts/screenshots/<test>-console-after.png

At the end of the test every page opened by `open_page` is screenshotted and closed, and the test
fails if any of them logged a console error or an uncaught exception (allow an expected one with
`page.console_errors.allow(r"regex")`).
"""
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ARTIFACTS, ROOT, free_port, postgres_url
from tests.live.servers import stop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--allow-loopback-in-peer-connection"]
PASSWORD = "pw-123456"  # tests.factories.UserFactory's password
SCREENSHOTS = ARTIFACTS / "screenshots"
SERVER_START_S = 60
RELAY_START_S = 60
ACTION_TIMEOUT_MS = 15000


def _wait_healthy(url: str, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"Daphne did not start:\n{log.read_text()[-3000:]}")


class _ServerUrl(str):
    """The server's base URL; `log_path` is its log (stdout and stderr: e.g. the console SMS backend's lines)."""

    log_path = None


def clocked(command: list[str]) -> list[str]:
    """`command` (a Python module or script run by sys.executable) on the moved clock of TEST_CLOCK_AT, if
    a module of tests set one (tests/frontend/conftest.py clocked_stack; tests/e2e/clocked.py)."""
    if not os.environ.get("TEST_CLOCK_AT"):
        return command
    assert command[0] == sys.executable
    rest = command[2:] if command[1] == "-m" else command[1:]
    return [sys.executable, "-m", "tests.e2e.clocked", *rest]


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, django_db_blocker, tmp_path_factory):
    """The base URL of a Daphne process serving teleclinic.asgi on the test database and Redis."""
    yield from daphne_process(django_db_blocker, tmp_path_factory)


def daphne_process(django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        database_url = postgres_url()
    port = free_port()
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    # the same environment as celery_worker_process (tests/conftest.py): same database, Redis and
    # MEDIA_ROOT, so that a file uploaded here is found by the worker that ingests it
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="teleclinic.test_settings")
    command = clocked([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                       "teleclinic.asgi:application"])
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = _ServerUrl(f"http://127.0.0.1:{port}")
    _wait_healthy(url, proc, log)
    proc.log_path = url.log_path = log
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def playwright_instance():
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: scripts/install-system-deps.sh installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # synchronous, so Django's async-safety check is lifted only while a browser module runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        yield playwright
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright_instance):
    """One headless chromium per test module (two cores are shared by everyone)."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def browser_devices(playwright_instance):
    """Playwright's device descriptors, e.g. browser_devices["Pixel 7"] for a phone-sized context."""
    return playwright_instance.devices


class ConsoleErrors(list):
    """Console errors and uncaught exceptions of one page; `allow(regex)` excuses expected ones."""

    def __init__(self):
        super().__init__()
        self.allowed: list[re.Pattern] = []

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self if not any(p.search(e) for p in self.allowed)]


def _test_slug(request) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:90]


def screenshot(page, name: str) -> str:
    """Save a full-page screenshot to artifacts/screenshots/<test>-<name>.png; returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{page.test_slug}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return str(path)


@pytest.fixture
def open_page(browser, live_daphne, request):
    """open_page(name, **context_options) -> a Page in a fresh context (its own cookies) on live_daphne."""
    opened = []

    def make(name: str = "page", **context_options):
        context = browser.new_context(base_url=live_daphne, locale="zh-CN", **context_options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = context.new_page()
        page.console_errors = ConsoleErrors()
        page.test_slug = _test_slug(request)
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(
            f"console: {msg.text} @ {msg.location.get('url', '')}"))
        page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
        opened.append((name, page))
        return page

    yield make
    problems = []
    for name, page in opened:
        try:
            screenshot(page, f"{name}-end")
        except Exception as exc:  # a crashed page still reports its console errors below
            problems.append(f"{name}: no screenshot ({exc})")
        problems += [f"{name}: {e}" for e in page.console_errors.unexpected()]
        page.context.close()
    if opened and request.node.get_closest_marker("django_db"):
        wait_for_room_sockets_recorded_closed()
    assert not problems, "Browser console errors:\n" + "\n".join(problems)


def wait_for_room_sockets_recorded_closed(timeout_s: float = 15) -> None:
    """Until Daphne has recorded every room socket's disconnect (a closed page's sockets are handled a moment
    later): a disconnect's transaction holding row locks while the test database is flushed deadlocks the
    flush's TRUNCATE (seen in CI on the screenshot test's room page, 2026-12-07)."""
    from live.models import Participant

    deadline = time.monotonic() + timeout_s
    while Participant.objects.filter(connected=True).exists() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture
def page(open_page):
    return open_page("page")


def outside_the_browser_loop(fn, /, **kwargs):
    """fn(**kwargs) in another thread. Playwright's sync API runs an event loop in the test's thread, so a
    service whose live events go out after commit through async_to_sync cannot be called there. The
    thread's database connection is closed before it ends (the test database is dropped at the end)."""
    from django.db import connections

    def run():
        try:
            return fn(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(timeout=60)


def wait_for_js(page, expression: str, timeout_ms: int = ACTION_TIMEOUT_MS) -> None:
    """page.wait_for_function without its eval: the pages' Content-Security-Policy forbids 'unsafe-eval',
    which Playwright's polling predicate needs; page.evaluate runs through the DevTools protocol instead."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_ms} ms waiting for {expression}")
        page.wait_for_timeout(100)


def login(page, username: str, password: str = PASSWORD, next: str = "/") -> None:
    """Log in through the login page; leaves the page on `next` (the user's home by default)."""
    page.goto(f"/login/?{urllib.parse.urlencode({'next': next})}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    if "/login/" in page.url:
        raise AssertionError(f"login as {username} failed: {page.inner_text('main')[:300]}")


# The image viewer's canvas (the reading page's #images): mean grey level and number of grey levels, to tell
# a drawn picture from a blank one and one window from another.
CANVAS_JS = """() => {
  const canvas = document.querySelector('#images canvas.iv-canvas');
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const levels = new Set();
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) { sum += px[i]; levels.add(px[i]); }
  return { mean: sum / (px.length / 4), levels: levels.size };
}"""


def start_report(page, kind: str) -> None:
    """On the reading page: start the case's `kind` report (ecg, imaging, consultation); waits for its draft."""
    page.click(f"#report button[data-start={kind}]")
    page.wait_for_selector("#report[data-state=draft]")


def sign_report(page, **fields: str) -> None:
    """On the reading page (in Chinese), a draft or an amendment open: fill the text fields given (name=text),
    wait until it is saved, sign, confirm the sign dialog's summary, and wait until the report is signed."""
    for name, text in fields.items():
        page.fill(f"#report textarea[name={name}]", text)
    page.wait_for_selector("#report .status:has-text('已于')")  # autosaved
    page.click("#report .report-actions button.primary")
    page.click("#sign-dialog button[data-confirm]")
    page.wait_for_selector("#report[data-state=signed]")


# --- live rooms ---------------------------------------------------------------------------------------

@pytest.fixture
def relay_worker(django_db_blocker, live_daphne, tmp_path):
    """A `manage.py relay_worker` process on live_daphne's database and Redis layer, offering 127.0.0.1
    host candidates (chromium runs with --allow-loopback-in-peer-connection). Started after the
    database was flushed, so that it registers itself at once; killed at the end. Its teardown runs
    after open_page's (it is requested first): it waits for Daphne to record every socket's
    disconnect, so that no server request holds row locks while the test database is flushed."""
    from live.models import RelayWorker

    with django_db_blocker.unblock():
        database_url = postgres_url()
    log = tmp_path / "relay.log"
    name = f"e2e-relay-{os.getpid()}"
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="teleclinic.test_settings",
               RTC_LOOPBACK="1", LIVE_RELAY_MODE="workers")
    with open(log, "w") as out:
        proc = subprocess.Popen(clocked([sys.executable, "manage.py", "relay_worker", "--name", name]), cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + RELAY_START_S
    while not RelayWorker.objects.filter(name=name).exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"relay_worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield proc
    wait_for_room_sockets_recorded_closed()
    stop(proc)
