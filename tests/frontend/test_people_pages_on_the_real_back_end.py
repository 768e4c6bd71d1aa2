"""Issue 12's people, in Chromium on the real back end (Daphne on the test database, no routed endpoint):
the village doctor finds an acknowledged report again after a reload and prints it; a live consultation is
offered to the on-call expert, whose acceptance the console shows live with the expert's name; the
coordinator records a leave day and an on-call shift from the page; the calendar's second week has its slots.

Every page's clock is fixed at the latest Sunday 23:00 UTC (Monday 07:00 in the county), the hour at which
a week or a day computed in UTC and one computed in the county's zone differ; the server keeps real time,
and the data are made relative to it."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from tests.e2e.conftest import login, outside_the_browser_loop, screenshot, wait_for_js
from tests.frontend.real_reports import deliver_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
COUNTY = ZoneInfo(settings.TIME_ZONE)


def latest_sunday_23_utc() -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc)
    sunday = now - dt.timedelta(days=(now.weekday() + 1) % 7)
    moment = sunday.replace(hour=23, minute=0, second=0, microsecond=0)
    return moment if moment <= now else moment - dt.timedelta(days=7)


def _open(open_page, user, name):
    page = open_page(name)
    page.clock.set_fixed_time(latest_sunday_23_utc())
    login(page, user.username)
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("new Date().getUTCDay()") == 0 and page.evaluate("new Date().getUTCHours()") == 23
    return page


def test_an_acknowledged_report_is_found_again_after_a_reload_and_printed(people, patient_factory,
                                                                          consultation_factory, open_page):
    # given two reports delivered to the village clinic, of two patients
    doctor = people["village_doctor"]
    kept = []
    for name in ("赵桂芝", "钱德明"):
        consultation = consultation_factory(patient=patient_factory(name=name, home_clinic=doctor.organisation),
                                            requested_by=doctor, state="assigned",
                                            assigned_expert=people["expert"].expert)
        kept.append(deliver_report(consultation))
    page = _open(open_page, doctor, "village-doctor")
    # the unacknowledged ones stand out
    page.wait_for_selector("#reports li.unread:has-text('赵桂芝')")
    assert page.locator("#reports li.unread .badge:has-text('未确认')").count() == 2
    assert "2" in page.inner_text("#reports-unread")
    # when the doctor acknowledges 赵桂芝's report and reloads the page
    page.click("#reports li:has-text('赵桂芝') button:has-text('确认收到')")
    page.wait_for_selector("#reports li.acknowledged:has-text('赵桂芝')")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    # then it is still listed, acknowledged, after the one still waiting
    page.wait_for_selector("#reports li.acknowledged:has-text('赵桂芝')")
    names = page.locator("#reports li.report strong").all_inner_texts()
    assert [n.split(" · ")[0] for n in names] == ["钱德明", "赵桂芝"]
    # and a search by the patient's name finds it alone
    page.fill("#reports-search input[name=q]", "桂芝")
    page.click("#reports-search button[type=submit]")
    wait_for_js(page, "document.querySelectorAll('#reports li.report').length === 1")
    row = page.locator("#reports li.report")
    assert "赵桂芝" in row.inner_text() and f"#{kept[0].report.consultation_id}" in row.inner_text()
    # and its PDF opens again (the link answers a PDF), and it can be printed again
    href = row.locator("a:has-text('打开PDF')").get_attribute("href")
    pdf = page.request.get(href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    assert row.locator("button:has-text('打印')").count() == 1
    screenshot(page, "reports-after-reload")


def test_a_live_request_is_offered_to_the_on_call_expert_and_the_console_shows_who_accepted(
        people, cardiology, patient_factory, open_page):
    from consult.models import Consultation
    from scheduling.models import OnCallShift

    # given the cardiologist on call now, their workstation open, and the village doctor's console
    now = timezone.now()
    OnCallShift.objects.create(expert=people["expert"].expert, specialty=cardiology,
                               starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=8))
    patient = patient_factory(name="孙立新", home_clinic=people["village_doctor"].organisation)
    expert = _open(open_page, people["expert"], "expert")
    expert.wait_for_selector("#socket-state[data-state=open]")
    village = _open(open_page, people["village_doctor"], "village-doctor")
    village.wait_for_selector("#socket-state[data-state=open]")
    # when the village doctor requests a live consultation for the patient
    village.fill("#patient-q", "孙立新")
    village.click("#patient-search button[type=submit]")
    village.click("#patient-results button:has-text('孙立新')")
    village.select_option("#consult-specialty", "cardiology")
    village.check("#consult-form input[name=mode][value=live]")
    village.fill("#consult-form textarea[name=reason]", "心悸一周")
    village.click("#consult-form button[type=submit]")
    village.wait_for_selector("#consult-status:has-text('#')")
    consultation = Consultation.objects.get(patient=patient)
    row = f"#consultations tr[data-id='{consultation.pk}']"
    # then the console says it is on offer, and the expert's workstation shows the offer without a reload
    village.wait_for_selector(f"{row}[data-state=offered]:has-text('待接诊')")
    offer = expert.wait_for_selector(f"#offers li.offer[data-consultation='{consultation.pk}']", timeout=15000)
    assert "孙立新" in offer.inner_text() and "视频会诊" in offer.inner_text()
    # when the expert accepts it
    expert.click(f"#offers li.offer[data-consultation='{consultation.pk}'] button:has-text('接诊')")
    # then the village console shows, live, the case assigned and the expert's name
    village.wait_for_selector(f"{row}[data-state=assigned]", timeout=15000)
    assert "已接诊" in village.inner_text(row)
    assert village.inner_text(f"{row} td.expert") == str(people["expert"])
    screenshot(village, "assigned-live")


def test_the_coordinator_records_and_undoes_a_leave_day_and_an_on_call_shift_from_the_page(
        people, cardiology, open_page, patient_factory):
    from scheduling.models import CloudClinicSession, OnCallShift, RosterException
    from scheduling.services import booking_create, roster_create

    # given the expert rostered every day, 09:00-11:00
    roster = roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                           weekdays=list(range(1, 8)), start_time=dt.time(9), end_time=dt.time(11), slot_minutes=20,
                           capacity=6, valid_from=timezone.localdate())
    leave_day = timezone.localdate() + dt.timedelta(days=2)
    page = _open(open_page, people["coordinator"], "coordinator")
    page.wait_for_selector(f"#rosters tr[data-roster='{roster.pk}']")
    # when the coordinator puts the expert on leave that day from the roster's row
    page.click(f"#rosters tr[data-roster='{roster.pk}'] button[data-action=roster-exceptions]")
    page.fill("#exception-form input[name=date]", leave_day.isoformat())
    page.select_option("#exception-form select[name=kind]", "leave")
    page.fill("#exception-form input[name=note]", "外出进修")
    page.click("#exception-form button[type=submit]")
    # then the page lists the leave day, and that day's session is cancelled
    page.wait_for_selector(f"#roster-exceptions li[data-kind=leave][data-date='{leave_day.isoformat()}']")
    assert RosterException.objects.get(roster=roster).note == "外出进修"
    cancelled = [s for s in CloudClinicSession.objects.filter(roster=roster)
                 if timezone.localtime(s.starts_at).date() == leave_day]
    assert [s.state for s in cancelled] == ["cancelled"]
    # when the coordinator undoes the leave from the list
    page.click(f"#roster-exceptions li[data-kind=leave][data-date='{leave_day.isoformat()}'] button[data-action=undo]")
    # then it is gone from the list and the day's session is scheduled again
    page.wait_for_selector("#roster-exceptions li.muted")
    assert "已撤销停诊" in page.inner_text("#rosters-status")
    cancelled[0].refresh_from_db()
    assert cancelled[0].state == "scheduled" and not RosterException.objects.filter(roster=roster).exists()
    # when the coordinator adds an extra afternoon session that day, and a patient is booked into it
    page.fill("#exception-form input[name=date]", leave_day.isoformat())
    page.select_option("#exception-form select[name=kind]", "extra")
    page.fill("#exception-form input[name=start_time]", "14:00")
    page.fill("#exception-form input[name=end_time]", "16:00")
    page.click("#exception-form button[type=submit]")
    page.wait_for_selector(f"#roster-exceptions li[data-kind=extra][data-date='{leave_day.isoformat()}']")
    extra = CloudClinicSession.objects.get(roster=roster, starts_at=dt.datetime.combine(leave_day, dt.time(14),
                                                                                        tzinfo=COUNTY))
    booking = outside_the_browser_loop(
        booking_create, slot_id=extra.slots.filter(kind="open").first().pk, by=people["village_doctor"],
        patient_id=patient_factory(home_clinic=people["village_doctor"].organisation).pk)
    # and then tries to undo it: the page says patients are booked, and nothing is removed yet
    page.console_errors.allow(r"status of 409 .*/exceptions/\d+/")  # the refusal the page turns into a question
    page.click("#roster-exceptions li[data-kind=extra] button[data-action=undo]")
    page.wait_for_selector("#roster-exceptions li[data-kind=extra] [data-role=booked-warning]:has-text('已有患者预约')")
    booking.refresh_from_db()
    assert booking.status == "booked" and RosterException.objects.filter(roster=roster, kind="extra").exists()
    # when the coordinator confirms that the bookings are cancelled
    page.click("#roster-exceptions li[data-kind=extra] button[data-action=cancel-bookings]")
    page.wait_for_selector("#roster-exceptions li.muted")
    # then the booking is cancelled (its doctor told) and the extra session is gone
    booking.refresh_from_db()
    assert booking.status == "cancelled" and "已取消 1 个预约" in page.inner_text("#rosters-status")
    # when the coordinator puts the other cardiologist on call tomorrow from 18:00 (county time) for 14 hours
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    page.select_option("#oncall-form select[name=specialty]", "cardiology")
    page.wait_for_selector(f"#oncall-form select[name=expert] option[value='{people['other_expert'].expert.pk}']",
                           state="attached")
    page.select_option("#oncall-form select[name=expert]", str(people["other_expert"].expert.pk))
    page.fill("#oncall-form input[name=day]", tomorrow.isoformat())
    page.fill("#oncall-form input[name=from]", "18:00")
    page.fill("#oncall-form input[name=hours]", "14")
    page.click("#oncall-form button[type=submit]")
    # then the shift is listed with the expert's name and stored at the county's 18:00
    page.wait_for_selector(f"#oncall tr:has-text('{people['other_expert']}')")
    shift = OnCallShift.objects.get(expert=people["other_expert"].expert)
    assert shift.starts_at == dt.datetime.combine(tomorrow, dt.time(18), tzinfo=COUNTY)
    assert shift.ends_at - shift.starts_at == dt.timedelta(hours=14)
    assert f"{tomorrow.isoformat()} 18:00" in page.inner_text("#oncall")
    screenshot(page, "coordinator-leave-on-call")


def test_the_calendars_second_week_shows_its_slots(people, cardiology, open_page):
    from scheduling.services import roster_create

    # given 80 slots a day every day (more than 500 in any week of the coordinator's two-week window)
    roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                  weekdays=list(range(1, 8)), start_time=dt.time(8), end_time=dt.time(18), slot_minutes=5,
                  capacity=80, valid_from=timezone.localdate())
    # when the coordinator opens the page
    page = _open(open_page, people["coordinator"], "coordinator")
    page.wait_for_selector("#sessions tr[data-session]", state="attached")
    page.click("#sessions-box > summary")  # the sessions are folded below the escalations (issue 19)
    page.wait_for_selector("#sessions tr[data-session]")
    # then every session of the two weeks shows its 80 slots, the last ones (second week) included
    quotas = page.locator("#sessions tr[data-session] td:nth-child(4)").all_inner_texts()
    assert len(quotas) >= 7 and set(quotas) == {"0/80"}, quotas
    last = page.locator("#sessions tr[data-session]").last.inner_text()
    first_day = latest_sunday_23_utc().astimezone(COUNTY).date()
    assert (first_day + dt.timedelta(days=13)).isoformat() in last
    screenshot(page, "calendar-two-weeks")


def test_the_rooms_host_asks_for_an_expert_now(relay_worker, people, cardiology, patient_factory,
                                               consultation_factory, open_page):
    from scheduling.models import Assignment, OnCallShift

    # given a live consultation escalated for want of an expert, and a cardiologist now on call
    doctor = people["village_doctor"]
    consultation = consultation_factory(patient=patient_factory(name="周玉兰", home_clinic=doctor.organisation),
                                        requested_by=doctor, specialty=cardiology, mode="live", state="escalated")
    now = timezone.now()
    OnCallShift.objects.create(expert=people["expert"].expert, specialty=cardiology,
                               starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=8))
    page = _open(open_page, doctor, "village-doctor")
    # when the doctor opens the room and asks for an expert now
    with page.expect_navigation():
        page.click(f"#consultations tr[data-id='{consultation.pk}'] button[data-room]")
    page.wait_for_selector("#live-room[data-expert-ready=true]")
    page.click("#btn-ask-expert")
    # then the case is offered to the on-call expert, and the room says so
    page.wait_for_selector("#expert-state[data-state=offered]")
    assert Assignment.objects.get(consultation=consultation, status="offered").expert == people["expert"].expert
    # when the expert accepts (from their workstation), the room shows who accepted, live
    from scheduling.services import assignment_accept

    offer = Assignment.objects.get(consultation=consultation, status="offered")
    outside_the_browser_loop(assignment_accept, assignment_id=offer.pk, by=people["expert"])
    page.wait_for_selector(f"#expert-state:has-text('{people['expert']}')", timeout=15000)
    assert page.is_hidden("#btn-ask-expert")


def test_the_console_loads_earlier_consultations_and_finds_one_by_number(people, patient_factory,
                                                                        consultation_factory, open_page):
    from playwright.sync_api import expect

    from consult.models import Consultation

    # given 60 consultations of the village clinic, all a month old (more than one page of 50)
    doctor = people["village_doctor"]
    patient = patient_factory(name="周玉兰", home_clinic=doctor.organisation)
    made = [consultation_factory(patient=patient, requested_by=doctor) for _ in range(60)]
    Consultation.objects.filter(pk__in=[c.pk for c in made]).update(
        created_at=timezone.now() - dt.timedelta(days=30))
    page = _open(open_page, doctor, "village-doctor")
    # then the console shows the latest ten, and offers the earlier ones
    page.wait_for_selector("#consultations tr[data-id]")
    assert page.locator("#consultations tr[data-id]").count() == 10
    # when the doctor loads the earlier ones
    page.click("#consultations-more")
    # then all 60 are listed, newest first, and there is nothing more to load
    expect(page.locator("#consultations tr[data-id]")).to_have_count(60, timeout=20000)
    assert page.locator("#consultations-more").is_hidden()
    ids = [int(x) for x in page.locator("#consultations tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")]
    assert ids == sorted((c.pk for c in made), reverse=True)
    # when the doctor searches for the oldest one by its number
    page.fill("#consultations-search input[name=q]", f"#{made[0].pk}")
    page.click("#consultations-search button[type=submit]")
    # then only it is listed
    expect(page.locator("#consultations tr[data-id]")).to_have_count(1, timeout=20000)
    assert page.locator("#consultations tr[data-id]").get_attribute("data-id") == str(made[0].pk)
    assert "找到 1 条" in page.inner_text("#consultations-title-note")


@pytest.mark.parametrize("ending", ["escalated", "assigned_elsewhere"])
def test_an_offer_ended_by_the_coordinator_leaves_the_experts_workstation_without_a_reload(
        ending, people, cardiology, patient_factory, consultation_factory, open_page):
    from scheduling.models import Assignment, OnCallShift
    from scheduling.services import assignment_request, consultation_assign, consultation_escalate

    # given a consultation on offer to the on-call cardiologist, shown on their workstation
    now = timezone.now()
    OnCallShift.objects.create(expert=people["expert"].expert, specialty=cardiology,
                               starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=8))
    doctor = people["village_doctor"]
    consultation = consultation_factory(patient=patient_factory(name="李秀英", home_clinic=doctor.organisation),
                                        requested_by=doctor, specialty=cardiology, state="requested")
    outside_the_browser_loop(assignment_request, consultation_id=consultation.pk)
    assert Assignment.objects.get(consultation=consultation, status="offered").expert == people["expert"].expert
    expert = _open(open_page, people["expert"], "expert")
    expert.wait_for_selector("#socket-state[data-state=open]")
    offer = f"#offers li.offer[data-consultation='{consultation.pk}']"
    expert.wait_for_selector(offer)
    # when the coordinator escalates it, or gives it by hand to the other cardiologist
    if ending == "escalated":
        outside_the_browser_loop(consultation_escalate, consultation_id=consultation.pk, reason="needs_senior",
                                 by=people["coordinator"])
    else:
        outside_the_browser_loop(consultation_assign, consultation_id=consultation.pk,
                                 expert_id=people["other_expert"].expert.pk, by=people["coordinator"])
    # then the offer leaves the expert's workstation at once (the page's own refresh is a minute away)
    expert.wait_for_selector(offer, state="detached", timeout=15000)
