"""The Content-Security-Policy (issue 13): every role's pages, the live room and the patient's phone
page load under it in Chromium with no console error (the open_page fixture fails on any)."""
import pytest

from tests.e2e.conftest import login
from tests.live.conftest import live_consultation, room  # noqa: F401 - fixtures
from tests.reports.conftest import assigned, signed_report  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERS = {"village_doctor": "vdoc", "township_doctor": "tdoc", "expert": "expert", "coordinator": "coord",
         "admin": "admin"}


@pytest.mark.parametrize("role", sorted(USERS))
def test_each_roles_home_page_runs_under_the_policy(people, open_page, role):
    page = open_page(role)
    login(page, USERS[role])
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")


def test_the_live_room_and_the_patients_phone_page_run_under_the_policy(
        people, open_page, room, browser_devices):  # noqa: F811 - room: the fixture imported above
    host = open_page("host", permissions=["camera", "microphone"])
    login(host, "vdoc")
    host.goto(f"/live/rooms/{room.pk}/")
    host.wait_for_load_state("networkidle")
    phone = open_page("patient", **browser_devices["Pixel 7"])
    phone.goto(f"/live/rooms/{room.pk}/join/")
    phone.wait_for_load_state("networkidle")


def test_the_admin_and_the_report_verification_page_run_under_the_policy(people, open_page, signed_report):  # noqa: F811
    # the Django admin (its own scripts and styles: files, no inline code refused)
    page = open_page("admin")
    login(page, "admin")
    for path in ("/admin/", "/admin/directory/patient/", "/admin/directory/patient/add/"):
        response = page.goto(path)
        assert response.status == 200 and "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    # and what a report's QR code opens, on a phone with no login: genuine, and an unknown code
    phone = open_page("verify")
    phone.console_errors.allow(r"status of 404 .*/api/reports/verify/not-a-code/")  # the page's own status
    version = signed_report()
    for code, genuine in ((version.verification_code, "true"), ("not-a-code", "false")):
        response = phone.goto(f"/api/reports/verify/{code}/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert phone.locator("#verdict").get_attribute("data-genuine") == genuine
