"""Issue 19, the village doctor's console, the coordinator's page and the login page as people use them, in
Chromium on the real back end (Daphne on the test database, no routed JSON): readable at 390x844 and
usable on a tablet (nothing wider than the screen, tables as cards), in Chinese and after the English
switch; the report card's conclusion, the consultation list's expert and next step; the login page keeping
the username; escalations first, each saying why, with no expert preselected; the sessions folded and
paged; ECharts charts exported as PNG and CSV; the audit search naming patients, searched by name and ID.

The pages' clock is fixed at the latest Sunday 23:00 UTC (Monday 07:00 in the county); the server keeps real
time, and the data are made relative to it."""
import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from tests.e2e.conftest import login, outside_the_browser_loop, screenshot, wait_for_js
from tests.frontend.real_reports import ECG_READING, deliver_report
from tests.frontend.test_people_pages_on_the_real_back_end import latest_sunday_23_utc

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
WOMAN = "430521195603141228"
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
# the audit table lists rows, all of them hers (the search answered, not the first listing)
ONLY_HER = ("(() => { const cells = [...document.querySelectorAll('#audit td.patient')]; "
            "return cells.length > 0 && cells.every((td) => td.textContent.includes('卢秀英')); })()")


def _open(open_page, user, name, viewport=PHONE):
    page = open_page(name, viewport=viewport)
    page.clock.set_fixed_time(latest_sunday_23_utc())
    login(page, user.username)
    page.wait_for_selector("body[data-ready=true]")
    return page


def _english(page):
    with page.expect_navigation():
        page.click("header button[value=en]")
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_attribute("html", "lang") == "en"


# what sticks out: the outermost elements whose right edge is past the screen's
STICKING_OUT = ("[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5"
                " && !(e.parentElement && e.parentElement.getBoundingClientRect().right > innerWidth + 0.5))"
                ".slice(0, 5).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`)")


def _no_overflow(page, where):
    extra = page.evaluate(OVERFLOW)
    assert extra <= 0, f"{where}: {extra} px wider than the screen: {page.evaluate(STICKING_OUT)}"


def test_the_console_on_a_phone_and_a_tablet_shows_the_conclusion_the_expert_and_the_next_step(
        people, patient_factory, consultation_factory, open_page):
    # given a village doctor with a reported case (its ECG report delivered), and a case just requested
    doctor = people["village_doctor"]

    def data():
        reported = consultation_factory(patient=patient_factory(name="卢秀英", id_number=WOMAN,
                                                                home_clinic=doctor.organisation),
                                        requested_by=doctor, state="assigned", assigned_expert=people["expert"].expert,
                                        assigned_at=timezone.now())
        deliver_report(reported)
        waiting = consultation_factory(patient=patient_factory(name="张建华", sex="M", id_number="",
                                                               home_clinic=doctor.organisation),
                                       requested_by=doctor, state="requested", mode="async")
        return reported.pk, waiting.pk

    reported, waiting = outside_the_browser_loop(data)
    # when the doctor opens the console on a phone
    page = _open(open_page, doctor, "console-phone")
    # then nothing is wider than the screen, and the consultations are cards with their headings
    _no_overflow(page, "console 390 zh")
    row = page.locator(f"#consultations tr[data-id='{reported}']")
    row.locator("td.expert").wait_for()
    assert page.locator("#consultations").evaluate("b => getComputedStyle(b.closest('table').tHead).display") == "none"
    assert row.locator("td.expert").get_attribute("data-label") == "专家"
    width = row.locator("td.expert").evaluate("td => td.getBoundingClientRect().width")
    assert width > 300, f"the expert's cell is {width} px wide"
    # and each row names the expert (or who is finding one) and the next step
    assert str(people["expert"]) in row.locator("td.expert").inner_text()
    assert row.locator("td.next-step").inner_text() == "请阅读并确认报告"
    waiting_row = page.locator(f"#consultations tr[data-id='{waiting}']")
    assert waiting_row.locator("td.expert").inner_text() == "尚未分配"
    assert waiting_row.locator("td.next-step").inner_text() == "请在下方上传心电图或影像"
    # and the report card shows the conclusion
    card = page.locator("#reports li:has-text('卢秀英')")
    card.wait_for()
    assert f"结论: {ECG_READING['conclusion']}" in card.locator(".conclusion").inner_text()
    # and the role label is in Chinese only
    assert page.inner_text("header .who").endswith("· 村医")
    # and a search that finds nobody points at the registration form by its name, wherever it is laid out
    page.fill("#patient-q", "查无此人")
    page.click("#patient-search button")
    page.wait_for_selector("#patient-results li:has-text('登记患者')")
    screenshot(page, "console-390-zh")
    # when they switch to English
    _english(page)
    row = page.locator(f"#consultations tr[data-id='{reported}']")
    row.locator("td.next-step").wait_for()
    # then the same page is in English, the role too, and still fits
    assert row.locator("td.next-step").inner_text() == "Read and acknowledge the report"
    assert page.inner_text("header .who").endswith("· village doctor") and "村医" not in page.inner_text("header")
    assert "Conclusion: " in page.locator("#reports li:has-text('卢秀英') .conclusion").inner_text()
    _no_overflow(page, "console 390 en")
    # and on a tablet, both ways up, in English, nothing is wider than the screen either
    for viewport in (TABLET, {"width": TABLET["height"], "height": TABLET["width"]}):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(200)
        _no_overflow(page, f"console {viewport} en")
    screenshot(page, "console-tablet-en")


def test_a_wrong_password_keeps_the_username(people, open_page):
    page = open_page("login", viewport=PHONE)
    for language, message in (("zh", "用户名或密码错误"), ("en", "Wrong username or password")):
        if language == "en":
            page.goto("/login/")
            with page.expect_navigation():
                page.click("header button[value=en]")
        page.goto("/login/")
        page.fill("input[name=username]", "vdoc")
        page.fill("input[name=password]", "not-the-password")
        with page.expect_navigation():
            page.click("main button[type=submit]")
        page.wait_for_selector(f"main .error:has-text('{message}')")
        assert page.input_value("input[name=username]") == "vdoc"
        assert page.evaluate("document.activeElement.name") == "password"
        _no_overflow(page, f"login {language}")


def _coordinator_data(people, cardiology, community, consultation_factory, patient_factory):
    """An urgent case three cardiologists declined (two with a reason), escalated as nobody else was on duty;
    a reported case (turnaround, volumes); two weeks of sessions of two rosters (28 sessions)."""
    from scheduling.models import Assignment
    from scheduling.services.assignments import consultation_escalate
    from scheduling.services.rosters import roster_create
    from tests.factories import ExpertFactory, UserFactory

    third = ExpertFactory(user=UserFactory(username="expert3", display_name="王三", role="expert",
                                           organisation=community.lead), specialties=[cardiology])
    doctor = people["village_doctor"]
    patient = patient_factory(name="卢秀英", id_number=WOMAN, home_clinic=doctor.organisation)
    case = consultation_factory(patient=patient, requested_by=doctor, specialty=cardiology,
                                requesting_org=doctor.organisation, urgency="urgent", state="offered")
    now = timezone.now()
    decliners = [people["expert"].expert, people["other_expert"].expert, third]
    for expert, reason in zip(decliners, ["正在手术", "", "不熟悉此类病例"]):
        Assignment.objects.create(consultation=case, expert=expert, status=Assignment.Status.DECLINED,
                                  expires_at=now + dt.timedelta(minutes=5), decided_at=now, reason=reason)
    consultation_escalate(consultation_id=case.pk, reason="no_expert_available")
    reported = consultation_factory(patient=patient_factory(name="张建华", sex="M", id_number="",
                                                            home_clinic=doctor.organisation),
                                    requested_by=doctor, specialty=cardiology, state="assigned",
                                    assigned_expert=people["expert"].expert, assigned_at=now)
    deliver_report(reported)
    for user in (people["expert"], people["other_expert"]):
        roster_create(by=people["coordinator"], expert_id=user.expert.pk, specialty_code="cardiology",
                      weekdays=[1, 2, 3, 4, 5, 6, 7], start_time=dt.time(9), end_time=dt.time(10), slot_minutes=20,
                      capacity=3, valid_from=timezone.localdate(), reserved_share=30, release_hours=2)
    return case.pk, [e.pk for e in decliners], doctor.organisation.name


def test_the_coordinator_sees_escalations_first_with_why_charts_to_export_and_an_audit_search_by_name(
        people, cardiology, community, consultation_factory, patient_factory, open_page):
    case, decliners, clinic = outside_the_browser_loop(_coordinator_data, people=people, cardiology=cardiology,
                                                       community=community, consultation_factory=consultation_factory,
                                                       patient_factory=patient_factory)
    # when the administrator (coordinator and audit searcher) opens their page on a desktop
    page = _open(open_page, people["admin"], "coordinator", viewport={"width": 1440, "height": 900})
    item = page.locator(f"#escalations li.escalation[data-id='{case}']")
    item.wait_for()
    # then the escalations come first, above the rosters, and say why: who declined, their reasons, nobody else
    assert page.locator("#escalations-card").bounding_box()["y"] < page.locator("#h-rosters").bounding_box()["y"]
    declines = item.locator("ul.why li[data-expert]")
    assert declines.count() == 3
    assert [int(v) for v in declines.evaluate_all("ls => ls.map(l => l.dataset.expert)")] == decliners
    assert "正在手术" in declines.nth(0).inner_text() and "不熟悉此类病例" in declines.nth(2).inner_text()
    assert "没有其他专家值班" in item.locator("ul.why").inner_text()
    # and no expert is preselected: those who declined are marked, the button waits for a choice
    select = item.locator("select")
    page.wait_for_selector(f"#escalations li[data-id='{case}'] option[data-declined]", state="attached")
    assert select.input_value() == "" and item.locator("button").is_disabled()
    declined = select.locator("option[data-declined=true]")
    assert sorted(int(v) for v in declined.evaluate_all("os => os.map(o => o.value)")) == sorted(decliners)
    assert all("已拒绝此病例" in text for text in declined.all_inner_texts())
    # and the two weeks of sessions are folded, fifteen to a page
    assert not page.locator("#sessions").is_visible()
    total = int(page.inner_text("#sessions-count"))  # 26 to 28, by the hour the server's day has reached
    assert 15 < total <= 28
    page.click("#sessions-box summary")
    assert page.locator("#sessions tr").count() == 15
    page.click("#sessions-pager button[data-page=next]")
    page.wait_for_selector(f"#sessions-pager:has-text('16–{total}')")
    assert page.locator("#sessions tr").count() == total - 15
    # and the charts are drawn by ECharts, on canvas
    for chart in ("#turnaround-chart", "#turnaround-expert-chart", "#volumes-chart"):
        page.wait_for_selector(f"{chart}[data-rendered=true] canvas")
    wait_for_js(page, "window.echarts.getInstanceByDom(document.querySelector('#volumes-chart .chart-canvas')) !== undefined")
    # and a chart's data downloads as CSV (Chinese kept through a BOM) and its picture as PNG (ECharts' toolbox)
    with page.expect_download() as download:
        page.click("#volumes-chart button.csv")
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert rows[0] == ["类别", "申请的会诊", "已出报告"] and [clinic, "2", "1"] in rows[1:]
    box = page.locator("#volumes-chart .chart-canvas").bounding_box()
    with page.expect_download() as download:
        page.mouse.click(box["x"] + box["width"] - 29, box["y"] + 24)  # on the toolbox icon's arrow
    assert download.value.suggested_filename.endswith(".png")
    assert open(download.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # and the page is no longer thousands of pixels tall
    height = page.evaluate("document.documentElement.scrollHeight")
    screenshot(page, "coordinator-1440-zh")
    assert height < 3600, f"the coordinator's page is {height} px tall"
    # when the admin searches the audit log by the patient's name, in Chinese
    page.fill("#audit-form input[name=q]", "秀英")
    page.click("#audit-form button[type=submit]")
    wait_for_js(page, ONLY_HER)
    # then the rows name her (ID number masked) and say the action and object in Chinese
    rows = page.locator("#audit tr")
    texts = rows.all_inner_texts()
    assert texts and all("卢秀英 · 4305**********1228" in text for text in texts)
    assert any("会诊" in text and "修改" in text for text in texts), texts
    assert not any("Consultation" in text or "update" in text for text in texts), texts
    # and by her whole ID number just the same
    page.fill("#audit-form input[name=q]", WOMAN)
    page.click("#audit-form button[type=submit]")
    page.wait_for_selector(f"#audit-status:has-text('{len(texts)} 条记录')")
    # when they switch to English, the same search speaks English
    _english(page)
    page.fill("#audit-form input[name=q]", "卢秀英")
    page.click("#audit-form button[type=submit]")
    wait_for_js(page, ONLY_HER)
    texts = page.locator("#audit tr").all_inner_texts()
    assert any("consultation" in text and "changed" in text for text in texts), texts
    assert page.inner_text("header .who").endswith("· administrator")
    why = page.locator(f"#escalations li[data-id='{case}'] ul.why").inner_text()
    assert why.count("Declined by") == 3 and "No other expert on duty" in why
    # and on a phone and a tablet the page fits the screen (the audit table scrolls in its own box)
    for viewport in (PHONE, TABLET):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)
        _no_overflow(page, f"coordinator {viewport} en")
    screenshot(page, "coordinator-tablet-en")
