"""Every page shows times in the service's time zone (settings.TIME_ZONE, Asia/Shanghai), whatever the
browser's: here the browser runs in America/New_York, 12-13 hours behind, so a time shown in the browser's
zone would be another hour and often another day."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from tests.frontend import clocked
from tests.e2e.conftest import login, outside_the_browser_loop, screenshot
from tests.e2e.media import video_decoding

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stack_clock")]

SERVICE = ZoneInfo(settings.TIME_ZONE)
BROWSER_ZONE = "America/New_York"
BROWSER = ZoneInfo(BROWSER_ZONE)


# The whole stack runs on one clock at Sunday 23:00 UTC (Monday 07:00 in the county), or TEST_STACK_CLOCK_AT:
# this module's own Daphne (and relay worker), the test process and every page (tests/frontend/clocked.py).
live_daphne, open_page = clocked.live_daphne, clocked.open_page


def in_zone(instant: dt.datetime, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return instant.astimezone(zone).strftime(fmt)


@pytest.fixture
def county_day(people, cardiology, patient_factory, consultation_factory):
    """A live consultation requested a few minutes ago and assigned to the expert; the expert's session
    today 00:30-01:30 and tomorrow 07:30-08:30 (county time), the second with free slots."""
    from scheduling.models import CloudClinicSession
    from scheduling.services.rosters import roster_create

    assert settings.TIME_ZONE == "Asia/Shanghai"
    doctor, expert = people["village_doctor"], people["expert"]
    created = (timezone.now() - dt.timedelta(minutes=3)).replace(microsecond=0)
    consultation = consultation_factory(
        patient=patient_factory(name="吴秀兰", home_clinic=doctor.organisation), requested_by=doctor,
        requesting_org=doctor.organisation, specialty=cardiology, mode="live", reason="头晕三天",
        assigned_expert=expert.expert, state="assigned", assigned_at=created, due_at=created + dt.timedelta(hours=2))
    type(consultation).objects.filter(pk=consultation.pk).update(created_at=created)
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    roster = roster_create(by=people["coordinator"], expert_id=expert.expert.pk, specialty_code="cardiology",
                           weekdays=[tomorrow.isoweekday()], start_time=dt.time(7, 30), end_time=dt.time(8, 30),
                           slot_minutes=20, capacity=3, valid_from=tomorrow, valid_until=tomorrow)
    early = dt.datetime.combine(today, dt.time(0, 30), tzinfo=SERVICE)  # may have passed: made by hand
    tonight = CloudClinicSession.objects.create(roster=roster, expert=expert.expert, specialty=cardiology,
                                                organisation=expert.organisation, starts_at=early,
                                                ends_at=early + dt.timedelta(hours=1))
    session = roster.sessions.exclude(pk=tonight.pk).get()
    return {"consultation": consultation, "created": created, "early": tonight, "session": session}


def _open(open_page, user, name, next="/"):
    page = open_page(name, timezone_id=BROWSER_ZONE)
    login(page, user.username, next=next)
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
    return page


def test_time_module_computes_county_days_and_times_in_a_browser_of_another_zone(people, open_page):
    page = _open(open_page, people["village_doctor"], "module")
    # 2026-03-08 16:30 UTC: 00:30 on the 9th in the county; the 8th, and New York's DST change day, in the browser
    result = page.evaluate("""async () => {
      const time = await import('/static/frontend/js/time.js');
      const instant = '2026-03-08T16:30:00Z';
      return { zone: time.TIME_ZONE, when: time.formatDateTime(instant), clock: time.formatTime(instant),
               day: time.dayKey(instant), weekday: time.weekdayOf(time.dayKey(instant)),
               midnight: time.startOfDay('2026-03-09').toISOString(), next: time.addDays('2026-02-28', 1),
               newYear: time.formatDateTime('2026-12-31T16:00:00Z') };
    }""")
    assert result == {"zone": "Asia/Shanghai", "when": "2026-03-09 00:30", "clock": "00:30", "day": "2026-03-09",
                      "weekday": 1, "midnight": "2026-03-08T16:00:00.000Z", "next": "2026-03-01",
                      "newYear": "2027-01-01 00:00"}


def test_console_reading_page_and_room_show_county_times(relay_worker, people, county_day, open_page):
    from live.models import JoinToken
    from live.services.rooms import room_open

    consultation, created = county_day["consultation"], county_day["created"]
    session = county_day["session"]
    requested = in_zone(created, SERVICE)
    assert requested != in_zone(created, BROWSER)

    # the village console: the consultation's request time, and the session's day and slot times
    console = _open(open_page, people["village_doctor"], "console")
    row = console.locator(f"#consultations tr[data-id='{consultation.id}']")
    assert requested in row.inner_text() and in_zone(created, BROWSER) not in row.inner_text()
    console.select_option("#booking-consultation", str(consultation.id))
    line = console.wait_for_selector(f"#slots li.session-slots[data-session='{session.id}']")
    county = session.starts_at.astimezone(SERVICE)
    assert line.inner_text().startswith(f"{county.month}/{county.day} ")
    assert [b.inner_text() for b in line.query_selector_all("button.slot")] == ["07:30", "07:50", "08:10"]
    screenshot(console, "console")

    # the expert's reading page: the header's request time
    reader = _open(open_page, people["expert"], "reading", next=f"/read/{consultation.id}/")
    reader.wait_for_selector("#case[data-state]")
    assert f"{requested}" in reader.inner_text("#case")

    # the room page: a chat line's time and the patient link's expiry
    room, _ = outside_the_browser_loop(room_open, by=people["village_doctor"], consultation_id=consultation.id)
    room_page = open_page("room", timezone_id=BROWSER_ZONE)
    login(room_page, people["village_doctor"].username, next=f"/live/rooms/{room.id}/")
    room_page.wait_for_selector("#conn-status.ok")
    video_decoding(room_page, "#local-video")
    before = timezone.now()
    room_page.fill("#chat-text", "您好")
    room_page.click("#chat-form button[type=submit]")
    shown = room_page.wait_for_selector("#chat-log li:has-text('您好') time").inner_text()
    # the server stamps the line: its clock and this process's may differ by a little (both moved by time-machine)
    minute = dt.timedelta(minutes=1)
    assert shown in {in_zone(at, SERVICE, "%H:%M") for at in (before - minute, before, timezone.now(),
                                                               timezone.now() + minute)}
    room_page.click("#btn-invite")
    room_page.wait_for_selector("#invite-expiry:not(:empty)")
    expires = JoinToken.objects.filter(room=room).latest("pk").expires_at
    assert room_page.inner_text("#invite-expiry") == in_zone(expires, SERVICE)
    assert room_page.is_hidden("#room-error")
    screenshot(room_page, "room")


def test_workstation_and_coordinator_show_county_days_and_times(people, county_day, open_page):
    from audit.models import AuditEvent

    early, session = county_day["early"], county_day["session"]
    # the expert's week: tonight's 00:30 session sits in today's (county) column, with county times;
    # in New York it is still yesterday evening
    workstation = _open(open_page, people["expert"], "workstation")
    today = timezone.localdate().isoformat()
    column = workstation.wait_for_selector(f"#calendar .day.today[data-date='{today}']")
    assert "00:30–01:30" in column.inner_text()
    calendar = workstation.inner_text("#calendar")
    for s in (early, session):
        assert in_zone(s.starts_at, BROWSER, "%H:%M") not in calendar
    # and the worklist's due time
    due = county_day["consultation"].due_at
    row = workstation.locator(f"#worklist tr[data-id='{county_day['consultation'].id}'] td.due")
    assert in_zone(due, SERVICE) in row.inner_text() and in_zone(due, BROWSER) not in row.inner_text()
    screenshot(workstation, "workstation")

    # the coordinator's sessions and the audit log
    admin = _open(open_page, people["admin"], "coordinator")
    admin.wait_for_selector("#sessions tr[data-session]", state="attached")
    admin.click("#sessions-box > summary")  # the sessions are folded below the escalations (issue 19)
    admin.wait_for_selector("#sessions tr[data-session]")
    sessions = admin.inner_text("#sessions")
    for s in (early, session):
        assert in_zone(s.starts_at, SERVICE) in sessions and in_zone(s.starts_at, BROWSER) not in sessions
    admin.wait_for_selector("#audit tr")
    shown = {cell.inner_text() for cell in admin.query_selector_all("#audit tr td:first-child")}
    county = {in_zone(at, SERVICE) for at in AuditEvent.objects.values_list("at", flat=True)}
    assert shown and shown <= county, (shown, county)
    screenshot(admin, "coordinator")
