"""The pages in a real browser (Debian's chromium) against Daphne on the test database.

Some tests here still set a page's state with test-only JSON (tests/frontend/branch_fixtures.py)
through Playwright's routing, although every endpoint exists; the same behaviours are shown on the
real back ends in tests/frontend/test_pages_on_real_back_ends.py and tests/e2e/.
"""
import datetime as dt
import json
import re
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from consult.models import Consultation
from teleclinic.events import send_to_users_now
from tests.e2e.conftest import login, screenshot, sign_report, start_report, wait_for_js
from tests.frontend.branch_fixtures import (FakeReports, FakeTusServer, Recorder, ecg_from_pydicom_waveform,
                                            imaging_study, referrals, rendered_ct_frame, serve_json)
from tests.frontend.real_reports import deliver_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CSS_PX_PER_MM = 96 / 25.4


def notify(**kwargs) -> None:
    """send_to_users_now from another thread: Playwright's event loop runs in this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(send_to_users_now, **kwargs).result(timeout=10)


def test_village_doctor_registers_a_patient_and_starts_a_consultation(people, community, cardiology,
                                                                       consultation_factory, patient_factory, open_page):
    # given a village doctor with an earlier case whose signed report waits for them (the real reports
    # services and endpoints), and its referrals
    doctor = people["village_doctor"]
    earlier = consultation_factory(patient=patient_factory(name="赵桂芝", home_clinic=doctor.organisation),
                                   requested_by=doctor, state="assigned", assigned_expert=people["expert"].expert)
    delivery = deliver_report(earlier).delivery
    page = open_page("village-doctor")
    calls = Recorder()
    serve_json(page, "/api/scheduling/referrals/", referrals(
        patient_id=earlier.patient_id, consultation_id=earlier.id, lead_id=community.lead.id,
        village_id=doctor.organisation_id))
    # and an expert's session with a reserved and a free slot
    soon = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1)
    serve_json(page, "/api/scheduling/sessions/", [{"id": 3, "roster": 1, "expert": 1, "expert_name": "李主任",
                                                    "specialty": "cardiology", "organisation": community.lead.id,
                                                    "starts_at": soon.isoformat(), "state": "scheduled",
                                                    "ends_at": (soon + dt.timedelta(hours=3)).isoformat()}])
    serve_json(page, "/api/scheduling/slots/", [
        {"id": 40 + i, "session": 3, "expert": 1, "specialty": "cardiology", "kind": "regular",
         "starts_at": (soon + dt.timedelta(minutes=15 * i)).isoformat(), "ends_at": (soon + dt.timedelta(minutes=15 * i + 15)).isoformat(),
         "reserved": i == 0, "release_at": (soon - dt.timedelta(hours=12)).isoformat(), "taken": False} for i in range(2)])
    serve_json(page, "/api/scheduling/bookings/", lambda m, b: [] if m == "GET" else {"id": 77, **b, "status": "booked"},
               recorder=calls)
    login(page, doctor.username)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#socket-state[data-state=open]")

    # when they register a patient
    page.fill("#register-form input[name=name]", "王秀英")
    page.select_option("#register-form select[name=sex]", "F")
    page.fill("#register-form input[name=birth_date]", "1958-04-02")
    page.fill("#register-form input[name=phone]", "13912345678")
    page.fill("#register-form input[name=health_record_no]", "DF-2026-0042")  # see the report: blank fails on main
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#register-status:has-text('王秀英')")
    # and start an urgent live consultation for them
    page.select_option("#consult-specialty", "cardiology")
    page.check("#consult-form input[name=urgency][value=urgent]")
    page.check("#consult-form input[name=mode][value=live]")
    page.fill("#consult-form textarea[name=reason]", "胸闷三天，活动后加重")
    page.click("#consult-form button[type=submit]")
    page.wait_for_selector("#consultations tr[data-urgency=urgent]:has-text('王秀英')")

    # then the consultation is stored as they asked, and the upload and booking panels offer it
    consultation = Consultation.objects.get(patient__name="王秀英")
    assert (consultation.urgency, consultation.mode, consultation.requested_by_id) == ("urgent", "live", doctor.id)
    assert consultation.requesting_org_id == doctor.organisation_id
    assert page.input_value("#upload-consultation") == str(consultation.id)
    assert page.input_value("#booking-consultation") == str(consultation.id)
    assert "加急" in page.inner_text("#consultations") and "视频会诊" in page.inner_text("#consultations")
    # when they book the slot reserved for grassroots clinics
    page.click("#slots button.slot.reserved")
    page.wait_for_selector("#booking-status:has-text('已预约')")
    assert calls.of("POST", "/bookings/") == [{"slot": 40, "patient": consultation.patient_id,
                                                "consultation": consultation.id}]

    # when a report event arrives on their socket, the page shows it without a reload (another delivery's:
    # the socket sent this one as pending when it connected, and sends each delivery once)
    notify(user_ids=[doctor.id], payload={"type": "report.arrived", "delivery": delivery.pk + 1000,
                                         "report": delivery.version.report_id, "consultation": earlier.id})
    page.wait_for_selector("#events li:has-text('收到一份报告')")
    # and the waiting report is listed as unread; they acknowledge it, and it stays listed, acknowledged
    assert page.locator("#reports li.unread:has-text('赵桂芝')").count() == 1
    page.click("#reports li.unread button:has-text('确认收到')")
    page.wait_for_selector("#reports li.acknowledged:has-text('赵桂芝')")
    delivery.refresh_from_db()
    assert delivery.state == "acknowledged" and delivery.acknowledged_by_id == doctor.id
    assert "每周测血压" in page.inner_text("#referrals") and "县人民医院" in page.inner_text("#referrals")
    screenshot(page, "console")

    # when they open the live consultation's room, the live app's room page opens (a stand-in here)
    serve_json(page, "/api/live/rooms/", lambda m, b: {"id": 5, "consultation": b["consultation"], "page": "/live/rooms/5/"},
               recorder=calls)
    page.route(re.compile(r".*/live/rooms/5/$"), lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>room</title><p>live room</p>"))
    with page.expect_navigation(url=re.compile(r".*/live/rooms/5/$")):
        page.click(f"#consultations tr[data-id='{consultation.id}'] button[data-room]")
    assert calls.of("POST", "/api/live/rooms/") == [{"consultation": consultation.id}]


def test_ecg_viewer_draws_twelve_leads_on_grid_paper_and_a_caliper_measures(people, consultation_factory,
                                                                          patient_factory, open_page):
    # given a consultation assigned to the expert, with pydicom's 12-lead ECG uploaded for it
    expert = people["expert"]
    patient = patient_factory(name="张建国", home_clinic=people["village_doctor"].organisation)
    consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"],
                                        assigned_expert=expert.expert, state="assigned", urgency="urgent")
    samples, record = ecg_from_pydicom_waveform()
    page = open_page("expert-ecg")
    serve_json(page, rf"/api/consultations/{consultation.id}/studies/",
               [{"type": "ecg", "id": 1, "created_at": "2026-11-25T08:00:00+08:00"}])
    serve_json(page, "/api/ecgs/1/", record)
    serve_json(page, "/api/ecgs/1/samples/", samples)
    # the ECG above exists only in this page, so its serial comparison does too: a patient with no earlier ECG
    serve_json(page, "/api/records/ecgs/1/comparison/",
               {"current": 1, "prior": None, "measurements": [],
                "statements": {"new": [], "gone": [], "unchanged": [], "device_new": [], "device_gone": []}})
    reports = FakeReports(page, consultation.id)

    # when the expert opens the reading page
    login(page, expert.username, next=f"/read/{consultation.id}/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#ecg[data-drawn-leads='12']")

    # then the paper is calibrated: 25 mm/s and 10 mm/mV at zoom 1 make a 4 x 62.5 mm wide grid plus margins
    size = page.evaluate("""() => { const c = document.querySelector('.ecg-paper');
        return {w: c.getBoundingClientRect().width, h: c.getBoundingClientRect().height}; }""")
    assert size["w"] == pytest.approx((10 + 4 * 62.5 + 2) * CSS_PX_PER_MM, abs=1)
    # and each of the 12 cells of the 3x4 layout and the rhythm strip holds a trace (dark pixels)
    ink = page.evaluate(INK_PER_CELL)
    assert len(ink) == 13 and min(ink) > 200, ink
    # and the grid lines are on the paper: a major (5 mm) line is darker than the space between lines
    assert page.evaluate(GRID_CONTRAST) > 20
    # and the device's and the computed measurements are beside it, the computed ones labelled
    assert "161 ms" in page.inner_text(".ecg-device") and "计算值" in page.inner_text(".ecg-computed")
    assert "RITMO SINUSALE" in page.inner_text(".ecg-measurements")

    # when they drag the time caliper over 25 mm (1 s at 25 mm/s)
    box = page.locator(".ecg-overlay").bounding_box()
    x0, y0 = box["x"] + 40 * CSS_PX_PER_MM, box["y"] + 20 * CSS_PX_PER_MM
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 12 * CSS_PX_PER_MM, y0, steps=4)
    page.mouse.move(x0 + 25 * CSS_PX_PER_MM, y0, steps=4)
    page.mouse.up()
    # then it reads 1000 ms and 60 /min
    assert float(page.get_attribute(".ecg-caliper-readout", "data-ms")) == pytest.approx(1000, abs=5)
    assert "60 /min" in page.inner_text(".ecg-caliper-readout")
    screenshot(page, "ecg-caliper")

    # when they switch to 20 mm/mV and measure 20 mm with the amplitude caliper, it reads 1 mV
    page.click("[data-switch=Gain] button[data-value='20']")
    page.click("button[data-caliper=amplitude]")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0, y0 + 20 * CSS_PX_PER_MM, steps=4)
    page.mouse.up()
    assert float(page.get_attribute(".ecg-caliper-readout", "data-mv")) == pytest.approx(1.0, abs=0.01)
    # and 50 mm/s doubles the traces' length (the margin widens with the calibration pulse, 0.2 s wide)
    page.click("[data-switch=Speed] button[data-value='50']")
    wide = page.evaluate("() => document.querySelector('.ecg-paper').getBoundingClientRect().width")
    assert wide == pytest.approx((15 + 4 * 125 + 2) * CSS_PX_PER_MM, abs=1)
    page.click("[data-switch=Speed] button[data-value='25']")
    page.click("[data-switch=Gain] button[data-value='10']")
    # and zoom 2x draws the same paper twice as large
    page.click("[data-switch=Zoom] button[data-value='2']")
    zoomed = page.evaluate("() => document.querySelector('.ecg-paper').getBoundingClientRect().width")
    assert zoomed == pytest.approx(2 * (10 + 4 * 62.5 + 2) * CSS_PX_PER_MM, abs=2)
    page.click("[data-switch=Zoom] button[data-value='1']")

    # when they start the ECG report, it is prefilled from the measurements (the device's first)
    start_report(page, "ecg")
    assert page.input_value("#report input[name=pr_ms]") == "161"
    assert page.input_value("#report input[name=rate_bpm]") == "61"
    # and what they write is saved by itself
    page.fill("#report textarea[name=conclusion]", "窦性心律，心电图正常范围。")
    page.wait_for_selector("#report .status:has-text('已于')")
    assert reports.puts[-1]["content"]["conclusion"] == "窦性心律，心电图正常范围。"
    # and signing freezes it
    sign_report(page)
    assert page.is_disabled("#report textarea[name=conclusion]")
    # when they amend it with a reason, change the conclusion and sign again, there are two versions
    page.click("#report button:has-text('修订')")
    page.fill("#report textarea[name=amend_reason]", "补充ST段描述")
    page.click("#report button:has-text('开始修订')")
    page.wait_for_selector("#report[data-state=amending]")
    page.fill("#report textarea[name=conclusion]", "窦性心律，ST段未见异常。")
    page.click("#report button:has-text('签发修订')")
    page.click("#sign-dialog button[data-confirm]")  # the sign dialog's summary, confirmed
    page.wait_for_selector("#report[data-state=signed] .versions li:nth-child(2)")
    assert "补充ST段描述" in page.inner_text("#report .versions")
    assert reports.report["versions"][1]["content"]["conclusion"] == "窦性心律，ST段未见异常。"
    screenshot(page, "reading")


INK_PER_CELL = """() => {
  const c = document.querySelector('.ecg-paper'), ctx = c.getContext('2d');
  const k = c.width / c.getBoundingClientRect().width * (96 / 25.4);   // device px per mm
  const colMm = 62.5, rowMm = 30, left = 10, top = 4, cells = [];
  const ink = (x, y, w, h) => { const d = ctx.getImageData(Math.round(x * k), Math.round(y * k), Math.round(w * k), Math.round(h * k)).data;
    let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 90 && d[i + 1] < 90 && d[i + 2] < 90) n++; return n; };
  for (let row = 0; row < 3; row++) for (let col = 0; col < 4; col++)
    cells.push(ink(left + col * colMm + 6, top + row * rowMm + 3, colMm - 8, rowMm - 4));
  cells.push(ink(left + 6, top + 3 * rowMm + 3, 4 * colMm - 8, rowMm - 4));
  return cells;
}"""

GRID_CONTRAST = """() => {
  const c = document.querySelector('.ecg-paper'), ctx = c.getContext('2d');
  const k = c.width / c.getBoundingClientRect().width * (96 / 25.4);
  const column = (xMm) => { const d = ctx.getImageData(Math.round(xMm * k), 0, 1, Math.round(3 * k)).data;
    let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i + 1]; return s / (d.length / 4); };
  return column(7.5) - column(10);   // green channel: the pink major line at 10 mm is darker than paper at 7.5 mm
}"""


def test_language_switch_shows_the_console_in_english(people, open_page):
    # given a village doctor on the console, in Chinese
    page = open_page("village-doctor-en")
    login(page, people["village_doctor"].username)
    page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text("h1") == "村医工作台"
    # when they press English
    with page.expect_navigation():
        page.click("header button[value=en]")
    page.wait_for_selector("body[data-ready=true]")
    # then the page and the script-drawn parts are in English
    assert page.inner_text("h1") == "Village doctor console"
    assert page.get_attribute("html", "lang") == "en"
    assert "No reports yet." in page.inner_text("#reports")
    page.wait_for_selector("#socket-state[data-state=open]:has-text('Live')")
    screenshot(page, "console-en")


def test_expert_workstation_shows_offers_counting_down_and_the_worklist_with_overdue_in_red(frozen_clock, people,
                                                                                            cardiology, open_page):
    # given the scheduling branch's worklist for the expert: one live offer, three assigned cases, one overdue
    now = dt.datetime.now(dt.timezone.utc)
    page = open_page("expert")
    frozen_clock.install(page)
    calls = Recorder()

    def item(consultation, name, urgency, status="assigned", due=None, overdue=False, mode="async", **extra):
        return {"consultation": consultation, "patient_name": name, "specialty": "cardiology", "urgency": urgency,
                "mode": mode, "state": "assigned" if status == "assigned" else "offered", "status": status,
                "due_at": due.isoformat() if due else None, "assignment": None, "offer_expires_at": None,
                "overdue": overdue, "slot_starts_at": None, **extra}

    accepted = {"done": False}
    serve_json(page, "/api/scheduling/worklist/", lambda m, b: [
        *([] if accepted["done"] else [item(4, "赵四", "stat", status="offered", mode="live", assignment=9,
                                             offer_expires_at=(now + dt.timedelta(seconds=90)).isoformat())]),
        item(3, "丙", "stat", due=now + dt.timedelta(minutes=10),
             studies=[{"type": "ecg", "id": 1}, {"type": "ecg", "id": 2},
                      {"type": "imaging", "id": 5, "modalities": ["CT"], "description": "胸部平扫"}]),
        item(2, "乙", "urgent", due=now - dt.timedelta(minutes=30), overdue=True),
        item(1, "甲", "routine", due=now + dt.timedelta(hours=20))])
    serve_json(page, "/api/reports/quality/reads/", [{"id": 8, "report": 3, "version": 1, "second_reader": 1,
                                                      "sampled_at": now.isoformat(), "agreement": "", "comment": "",
                                                      "read_at": None, "kind": "ecg", "study_ref": "ecg:2",
                                                      "content": {"conclusion": "窦性心律，正常心电图。"}}])
    serve_json(page, r"/api/reports/quality/samples/\d+/", {"id": 8, "agreement": "agree"}, recorder=calls)
    serve_json(page, r"/api/scheduling/assignments/\d+/accept/",
               lambda m, b: accepted.update(done=True) or {"id": 9, "status": "accepted"}, recorder=calls)
    # sessions at 09:00 on Monday, Wednesday and Friday of this week in the service's zone (the page's week)
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    monday = (local - dt.timedelta(days=local.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    serve_json(page, "/api/scheduling/me/calendar/", [
        {"id": d, "roster": 1, "expert": 1, "expert_name": "李主任", "specialty": "cardiology", "organisation": 1,
         "starts_at": (monday + dt.timedelta(days=d)).isoformat(), "state": "scheduled",
         "ends_at": (monday + dt.timedelta(days=d, hours=3)).isoformat(),
         "slots": [{"id": 10 * d + i, "kind": "regular", "bookings": [{"id": i}] if i < 2 else []} for i in range(6)]}
        for d in (0, 2, 4)])
    # when the expert opens the workstation
    login(page, people["expert"].username)
    page.wait_for_selector("body[data-ready=true]")
    # then the worklist keeps the server's order, the overdue case in red, and the offer counts down
    assert page.locator("#worklist tr").evaluate_all("rows => rows.map(r => r.dataset.id)") == ["3", "2", "1"]
    assert page.locator("#worklist tr.overdue").count() == 1
    # and each case says what it holds to read, under the patient's name
    assert page.inner_text("#worklist tr[data-id='3'] .studies") == "心电图 ×2 · CT"
    assert page.locator("#worklist tr[data-id='1'] .studies").count() == 0
    colour = page.locator("#worklist tr.overdue td").nth(1).evaluate("td => getComputedStyle(td).color")
    assert colour == "rgb(192, 57, 43)"
    first = page.inner_text(".offer .countdown")
    wait_for_js(page, f"document.querySelector('.offer .countdown').textContent !== {json.dumps(first)}",
                timeout_ms=5000)
    assert page.locator("#calendar .session").count() == 3 and "已约 2/6" in page.inner_text("#calendar")
    assert "窦性心律，正常心电图。" in page.inner_text("#qc-reads")
    screenshot(page, "workstation")
    # when they record their second read as a minor discrepancy
    page.fill(".qc-read input[name=comment]", "QT 略长")
    page.click(".qc-read button[data-agreement=minor]")
    page.wait_for_selector("#qc-status:has-text('复核结果已记录')")
    assert calls.of("POST", "/quality/samples/8/") == [{"agreement": "minor", "comment": "QT 略长"}]
    # when they accept the offer, it leaves the offers
    page.click(".offer button:has-text('接诊')")
    page.wait_for_selector("#offers li.muted")
    assert len(calls.of("POST", "/assignments/9/accept/")) == 1


def test_coordinator_sees_rosters_and_turnaround_charts_and_the_admin_searches_the_audit_log(frozen_clock, people,
                                                                                            cardiology, open_page):
    page = open_page("admin")
    frozen_clock.install(page)
    now = dt.datetime.now(dt.timezone.utc)
    starts = now + dt.timedelta(days=1)
    serve_json(page, "/api/scheduling/rosters/", [
        {"id": 1, "expert": 1, "specialty": "cardiology", "organisation": 1, "weekdays": [1, 3, 5],
         "start_time": "09:00:00", "end_time": "12:00:00", "slot_minutes": 15, "capacity": 12, "reserved_share": 30,
         "reserved_for": [], "release_hours": 24, "green_channel_slots": 1, "valid_from": "2026-11-01",
         "valid_until": None, "active": True}])
    serve_json(page, "/api/scheduling/sessions/", [
        {"id": 1, "roster": 1, "expert": 1, "expert_name": "李主任", "specialty": "cardiology", "organisation": 1,
         "starts_at": starts.isoformat(), "ends_at": (starts + dt.timedelta(hours=3)).isoformat(), "state": "scheduled"}])
    serve_json(page, "/api/scheduling/slots/", [
        {"id": i, "session": 1, "expert": 1, "specialty": "cardiology", "kind": "regular",
         "starts_at": (starts + dt.timedelta(minutes=15 * i)).isoformat(),
         "ends_at": (starts + dt.timedelta(minutes=15 * i + 15)).isoformat(),
         "reserved": 6 <= i < 10, "release_at": (starts - dt.timedelta(hours=24)).isoformat(), "taken": i < 6}
        for i in range(12)])
    def steps(*medians):
        return {step: {"n": 5, "median": m, "p90": m * 2}
                for step, m in zip(("assignment", "first_open", "signature", "acknowledgement"), medians)}

    serve_json(page, "/api/reports/turnaround/", {  # reports/statistics.py turnaround()
        "days": 30, "unit": "minutes from request",
        "by_urgency": {"routine": steps(40, 120, 300, 620), "stat": steps(3, 6, 14, 25), "urgent": steps(12, 30, 55, 90)},
        "by_expert": {"李主任": steps(10, 20, 42, 80), "王主任": steps(15, 30, 75, 120)}})
    qc = Recorder()
    serve_json(page, "/api/reports/quality/figures/", [  # reports/statistics.py quality_figures()
        {"expert_id": 1, "expert": "李主任", "sampled": 20, "read": 16, "agree": 14, "minor": 1, "major": 1, "agreement_rate": 0.875},
        {"expert_id": 2, "expert": "王主任", "sampled": 20, "read": 16, "agree": 15, "minor": 1, "major": 0, "agreement_rate": 0.938}])
    serve_json(page, "/api/reports/quality/samples/", lambda m, b: [{"id": i} for i in range(3)], recorder=qc)
    # when the administrator opens their home page
    login(page, people["admin"].username)
    page.wait_for_selector("body[data-ready=true]")
    # then the charts are drawn (ECharts, on canvas: 3 urgencies x 4 steps, 2 experts x 5 QC figures)
    for chart in ("#turnaround-chart", "#qc-chart"):
        page.wait_for_selector(f"{chart}[data-rendered=true] canvas")
    option = "(sel) => window.echarts.getInstanceByDom(document.querySelector(sel + ' .chart-canvas')).getOption()"
    turnaround = page.evaluate(f"({option})('#turnaround-chart')")
    assert turnaround["yAxis"][0]["data"] == ["常规", "加急", "危急"]  # the first row on top
    assert [s["data"][2] for s in turnaround["series"]] == [3, 6, 14, 25]  # stat's medians
    assert sum(len(s["data"]) for s in page.evaluate(f"({option})('#qc-chart')")["series"]) == 10
    # and the coordinator draws a 10 % second-read sample
    page.fill("#qc-share", "10")
    page.click("#qc-sample-form button[type=submit]")
    page.wait_for_selector("#qc-status:has-text('3')")
    assert qc.of("POST", "/quality/samples/") == [{"share": 0.1}]
    assert "6/12" in page.text_content("#sessions") and "30%" in page.inner_text("#rosters")  # (sessions folded)
    reserved_width = page.locator("#sessions .quota .reserved").evaluate("e => e.style.width")  # (set via the CSSOM)
    assert reserved_width.endswith("%") and float(reserved_width[:-1]) == pytest.approx(100 / 3, abs=1e-3)
    # and the audit log search answers
    page.fill("#audit-form input[name=actor]", people["admin"].username)
    page.click("#audit-form button[type=submit]")
    page.wait_for_selector("#audit-status:has-text('条记录')")
    screenshot(page, "coordinator")


def test_upload_resumes_by_itself_after_the_link_drops(people, consultation_factory, patient_factory, open_page):
    # given a village doctor's consultation and an upload endpoint that drops the second chunk
    doctor = people["village_doctor"]
    patient = patient_factory(name="李桂兰", home_clinic=doctor.organisation)
    consultation = consultation_factory(patient=patient, requested_by=doctor)
    page = open_page("village-doctor-upload", viewport={"width": 800, "height": 1280})  # a tablet
    page.console_errors.allow(r"ERR_CONNECTION_RESET|net::ERR_FAILED")  # the dropped link, on purpose
    server = FakeTusServer(page, drop=(2,))  # (a link dropping a chosen PATCH: an edge the real server cannot make)
    payload = bytes(range(256)) * (10 * 1024)  # 2.5 MiB: three 1 MiB chunks
    login(page, doctor.username)
    page.wait_for_selector("body[data-ready=true]")
    # when they upload a file for the consultation
    page.select_option("#upload-consultation", str(consultation.id))
    page.set_input_files("#upload-files", files=[{"name": "ecg.dcm", "mimeType": "application/dicom", "buffer": payload}])
    page.click("#upload-form button[type=submit]")
    # then the upload finishes by itself, having asked the server where to resume after the drop
    page.wait_for_selector(".upload[data-state=done]", timeout=30000)
    assert bytes(server.data) == payload
    assert server.log.count("PATCH") == 4 and "HEAD" in server.log[server.log.index("PATCH") + 1:]
    assert page.get_attribute(".upload progress", "value") == "100"
    assert server.metadata_pairs()["consultation"] == str(consultation.id)
    assert server.metadata_pairs()["filename"] == "ecg.dcm"
    screenshot(page, "upload-done")


def test_image_viewer_scrolls_frames_and_sets_the_window(people, consultation_factory, patient_factory, open_page):
    # given a consultation with a CT study, frames rendered by (a stand-in for) the studies branch
    expert = people["expert"]
    patient = patient_factory(name="周敏", home_clinic=people["village_doctor"].organisation)
    consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"],
                                        assigned_expert=expert.expert, state="assigned")
    page = open_page("expert-images")
    frames = []

    def frame(route):
        url = urllib.parse.urlparse(route.request.url)
        query = urllib.parse.parse_qs(url.query)
        number = int(url.path.split("/frames/")[1].split("/")[0])
        center = float(query["window_center"][0]) if "window_center" in query else None
        width = float(query["window_width"][0]) if "window_width" in query else None
        frames.append((url.path.split("/")[3], number, center, width))
        png, center, width = rendered_ct_frame(number - 1, center, width)  # the API counts frames from 1
        route.fulfill(status=200, content_type="image/png", body=png, headers={"X-Window": f"{center},{width},explicit"})

    page.route(re.compile(r".*/api/instances/\d+/frames/\d+/rendered.*"), frame)
    serve_json(page, rf"/api/consultations/{consultation.id}/studies/",
               [{"type": "imaging", "id": 2, "created_at": "2026-11-25T08:00:00+08:00"}])
    serve_json(page, "/api/imaging-studies/2/", imaging_study())
    FakeReports(page, consultation.id)
    login(page, expert.username, next=f"/read/{consultation.id}/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector(".iv-info:has-text('1/5')")
    assert page.locator(".iv-thumb").count() == 2
    # when they scroll the wheel over the image twice, they are on frame 3
    page.hover(".iv-canvas")
    page.mouse.wheel(0, 100)
    page.wait_for_selector(".iv-info:has-text('2/5')")
    page.mouse.wheel(0, 100)
    page.wait_for_selector(".iv-info:has-text('3/5')")
    assert frames[-1][:2] == ("100", 3)
    # when they pick the lung preset, the frame is rendered with that window
    page.click("button[data-preset=lung]")
    page.wait_for_selector(".iv-info:has-text('-600 / 1500')")
    assert frames[-1][2:] == (-600.0, 1500.0)
    # when they drag right and down, the window widens and the level rises
    box = page.locator(".iv-canvas").bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 250, box["y"] + 230, steps=5)
    page.mouse.up()
    page.wait_for_selector(".iv-info:has-text('-540 / 1600')")
    assert frames[-1][2:] == (-540.0, 1600.0)
    screenshot(page, "image-viewer")


RECORD_SOCKETS = """(() => { const Native = window.WebSocket; window.__sockets = [];
  window.WebSocket = class extends Native { constructor(...args) { super(...args); window.__sockets.push(this); } }; })()"""


def test_notification_socket_reconnects_by_itself_after_a_drop(people, open_page):
    # given a village doctor's console with its live socket open
    doctor = people["village_doctor"]
    page = open_page("village-doctor-socket")
    page.add_init_script(RECORD_SOCKETS)
    pending = Recorder()  # the clinic's report list (one page and the unacknowledged count per reload)
    serve_json(page, "/api/reports/deliveries/", {"count": 0, "next": None, "previous": None, "results": []},
               recorder=pending)
    serve_json(page, "/api/scheduling/referrals/", [])
    login(page, doctor.username)
    page.wait_for_selector("#socket-state[data-state=open]")
    # when the connection drops
    page.evaluate("() => window.__sockets.at(-1).close()")
    # then the page says so, connects again by itself, and live events arrive on the new socket
    page.wait_for_selector("#socket-state[data-state=waiting]")
    page.wait_for_selector("#socket-state[data-state=open]", timeout=10000)
    assert page.evaluate("() => window.__sockets.length") == 2
    notify(user_ids=[doctor.id], payload={"type": "study.ready", "kind": "ecg", "ecg": 3})
    page.wait_for_selector("#events li:has-text('有新的检查可阅片')")
    # and a burst of replayed pending reports (as sent on reconnect) reloads the list once, not per frame
    before = len(pending.calls)
    for delivery in range(20):
        notify(user_ids=[doctor.id], payload={"type": "report.pending", "delivery": delivery})
    for _ in range(30):  # route handlers run while Playwright waits
        page.wait_for_timeout(100)
        if len(pending.calls) > before:
            break
    page.wait_for_timeout(600)
    assert 2 <= len(pending.calls) - before <= 4
