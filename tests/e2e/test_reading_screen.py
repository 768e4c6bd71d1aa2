"""The expert's reading screen and workstation in Chromium on the real back end (issue 19): trace and report
side by side on a desktop, no horizontal overflow on a phone or a tablet, the phrase library, the sign
dialog, localised messages, the English switch, offers with their details and declining with a reason.

One module, one browser and one Daphne (tests/e2e/conftest.py). The ECG is pydicom's 12-lead waveform,
stored by the ingest service in the test's process; everything else goes through the pages and the API.
The clock is frozen (time-machine here, Playwright's clock in the page) at a Wednesday noon in the
service's zone, so the dates the pages show do not depend on the day the suite runs.
"""
import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from tests.e2e.conftest import login, outside_the_browser_loop, screenshot, start_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MOMENT = dt.datetime(2026, 12, 2, 4, 0, tzinfo=dt.UTC)  # Wednesday 12:00 in Asia/Shanghai
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
TABLET = {"viewport": {"width": 820, "height": 1180}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def frozen():
    with time_machine.travel(MOMENT, tick=True):
        yield


def _store_ecg(consultation, by) -> int:
    from pydicom.data import get_testdata_file

    from studies.services.ingest import Source, ingest_dicom_bytes

    with open(get_testdata_file("waveform_ecg.dcm"), "rb") as f:
        data = f.read()
    ingest_dicom_bytes(data=data, source=Source(by=by, organisation=by.organisation, consultation=consultation,
                                                patient=consultation.patient))
    from studies.models import EcgRecord

    return EcgRecord.objects.get(consultation=consultation).pk


@pytest.fixture
def reading_case(frozen, people, cardiology, patient_factory, consultation_factory):
    """A cardiology consultation assigned to the expert with a 12-lead ECG, no report yet, and the demo phrases."""
    from reports.demo import seed_phrases

    doctor = people["village_doctor"]
    consultation = consultation_factory(
        patient=patient_factory(name="周建华", sex="M", home_clinic=doctor.organisation), requested_by=doctor,
        requesting_org=doctor.organisation, specialty=cardiology, urgency="urgent", reason="胸闷两天，活动后加重",
        assigned_expert=people["expert"].expert, state="assigned", assigned_at=timezone.now(),
        due_at=timezone.now() + dt.timedelta(hours=2))
    outside_the_browser_loop(_store_ecg, consultation=consultation, by=doctor)
    seed_phrases()
    return consultation


def _reader(open_page, people, consultation, name="expert-reading", **context):
    page = open_page(name, **context)
    page.clock.install(time=dt.datetime.now(dt.UTC))
    login(page, people["expert"].username, next=f"/read/{consultation.id}/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#ecg[data-drawn-leads='12']")
    return page


def _box(page, selector: str) -> dict:
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, vw: innerWidth, vh: innerHeight }; }""", selector)


def _in_view(box: dict) -> bool:
    return box["bottom"] > 0 and box["top"] < box["vh"] and box["right"] > 0 and box["left"] < box["vw"]


def test_trace_and_report_side_by_side_the_report_sticky_while_typing_and_scrolling(reading_case, people, open_page):
    page = _reader(open_page, people, reading_case, viewport={"width": 1366, "height": 768})
    # before any report exists the header says so by leaving it out: never the text "null"
    assert "null" not in page.inner_text("#case") and "周建华" in page.inner_text("#case")
    start_report(page, "ecg")
    for width, height in ((1366, 768), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        # the report panel stands to the right of the trace, not under it
        trace, side = _box(page, "#ecg canvas.ecg-paper"), _box(page, "#reading-side")
        assert side["left"] >= trace["left"] + 400, (width, trace, side)
        # when the expert types the conclusion (the field scrolls into view inside the panel, not the page)
        page.fill("#report textarea[name=conclusion]", "")
        page.click("#report textarea[name=conclusion]")
        page.keyboard.type("窦性心律，心电图大致正常。")
        page.wait_for_selector("#report .status:has-text('已于')")
        # then the trace and the report are both on screen
        assert _in_view(_box(page, "#ecg canvas.ecg-paper")), f"the trace scrolled away at {width}x{height}"
        assert _in_view(_box(page, "#report textarea[name=conclusion]"))
        # and when the page scrolls to its end (the measurements under the trace), the report panel stays
        # in view, stuck to the top (sticky), its conclusion field still on screen
        natural_top = page.evaluate("document.querySelector('#reading-side').getBoundingClientRect().top + scrollY")
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        scrolled = page.evaluate("scrollY")
        assert scrolled > natural_top, "the page is too short to show the panel sticking"
        side = _box(page, "#reading-side")
        assert -2 <= side["top"] <= 10 and side["bottom"] <= side["vh"] + 2, side
        assert _in_view(_box(page, "#report textarea[name=conclusion]"))
        # and with the trace scrolled back into view the panel is beside it
        page.evaluate("document.querySelector('#ecg canvas.ecg-paper').scrollIntoView({block: 'nearest'})")
        assert _in_view(_box(page, "#ecg canvas.ecg-paper")) and _in_view(_box(page, "#reading-side"))
        assert page.evaluate(NO_OVERFLOW)
        screenshot(page, f"side-by-side-{width}x{height}")
    assert page.input_value("#report textarea[name=conclusion]") == "窦性心律，心电图大致正常。"


def test_reading_page_and_workstation_fit_a_phone_and_a_tablet(reading_case, people, open_page):
    page = _reader(open_page, people, reading_case, name="expert-phone", **PHONE)
    start_report(page, "ecg")
    for size in (PHONE["viewport"], TABLET["viewport"]):
        page.set_viewport_size(size)
        for url in (f"/read/{reading_case.id}/", "/"):
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]")
            if url != "/":
                page.wait_for_selector("#ecg[data-drawn-leads='12']")
            assert page.evaluate(NO_OVERFLOW), (size, url, page.evaluate(
                "[document.documentElement.scrollWidth, innerWidth]"))
            if url != "/":  # stacked below 1100 px: the report panel under the trace
                assert _box(page, "#reading-side")["top"] > _box(page, "#ecg canvas.ecg-paper")["bottom"]
            screenshot(page, f"{'reading' if url != '/' else 'workstation'}-{size['width']}x{size['height']}")
        # on the phone the worklist row is a card whose cells name their column
        if size["width"] < 700:
            row = page.wait_for_selector(f"#worklist tr[data-id='{reading_case.id}']")
            assert row.evaluate("(r) => getComputedStyle(r).display") == "block"


def test_phrases_insert_by_click_and_by_short_code_and_the_expert_keeps_their_own(reading_case, people, open_page):
    page = _reader(open_page, people, reading_case)
    start_report(page, "ecg")
    findings = "#report textarea[name=findings]"
    conclusion = "#report textarea[name=conclusion]"
    # a click on a phrase button inserts it at the caret
    page.fill(findings, "")
    page.click("#report .phrase-bar[data-field=findings] button[data-code=sr]")
    assert page.input_value(findings) == "窦性心律，心率正常范围。"
    # "/st" then Enter expands in place; an unknown code is left as typed (Enter is a new line)
    page.focus(findings)
    page.keyboard.press("Control+End")
    page.keyboard.type("/st")
    page.keyboard.press("Enter")
    assert page.input_value(findings) == "窦性心律，心率正常范围。各导联 ST 段未见明显抬高或压低，T 波形态正常。"
    page.fill(conclusion, "")
    page.focus(conclusion)
    page.keyboard.type("/zz")
    page.keyboard.press("Enter")
    assert page.input_value(conclusion) == "/zz\n"
    # "/nl" then Tab expands the conclusion's own phrase of that code
    page.fill(conclusion, "")
    page.focus(conclusion)
    page.keyboard.type("/nl")
    page.keyboard.press("Tab")
    assert page.input_value(conclusion) == "1. 窦性心律\n2. 正常心电图"
    # and the draft is saved with it
    page.wait_for_selector("#report .status:has-text('已于')")
    from reports.models import Phrase, Report

    assert Report.objects.get(consultation=reading_case).draft["conclusion"] == "1. 窦性心律\n2. 正常心电图"

    # when the expert adds a phrase of their own in "My phrases"
    page.click("#report button[data-manage-phrases]")
    dialog = "#phrase-dialog"
    page.wait_for_selector(f"{dialog}[open]")
    page.select_option(f"{dialog} select[name=field]", "conclusion")
    page.fill(f"{dialog} input[name=code]", "lvh")
    page.fill(f"{dialog} input[name=label]", "左室高电压")
    page.fill(f"{dialog} textarea[name=text]", "左心室高电压，请结合超声心动图。")
    page.click(f"{dialog} button[type=submit]")
    page.wait_for_selector(f"{dialog} li[data-code=lvh]")
    mine = Phrase.objects.get(owner=people["expert"], code="lvh")
    assert (mine.kind, mine.field) == ("ecg", "conclusion")
    # changing it
    page.click(f"{dialog} li[data-code=lvh] button[data-edit]")
    page.fill(f"{dialog} textarea[name=text]", "左心室高电压。")
    page.click(f"{dialog} button[type=submit]")
    page.wait_for_selector(f"{dialog} li[data-code=lvh]:has-text('左心室高电压。')")
    mine.refresh_from_db()
    assert mine.text == "左心室高电压。"
    page.keyboard.press("Escape")
    page.wait_for_selector(dialog, state="detached")
    # then it is typed by its code like the specialty's, and what was typed before stays
    assert page.input_value(conclusion) == "1. 窦性心律\n2. 正常心电图"
    page.focus(conclusion)
    page.keyboard.press("Control+End")
    page.keyboard.type("\n/lvh")
    page.keyboard.press("Enter")
    assert page.input_value(conclusion) == "1. 窦性心律\n2. 正常心电图\n左心室高电压。"
    # and deleting it removes its button
    page.click("#report button[data-manage-phrases]")
    page.click(f"{dialog} li[data-code=lvh] button[data-delete]")
    page.wait_for_selector(f"{dialog} li[data-code=lvh]", state="detached")
    page.click(f"{dialog} button[data-close]")
    assert not Phrase.objects.filter(owner=people["expert"]).exists()
    assert page.locator("#report .phrase-bar[data-field=conclusion] button[data-code=lvh]").count() == 0


def test_signing_asks_with_a_summary_cancel_keeps_the_draft_confirm_signs(reading_case, people, open_page):
    from reports.models import Report

    page = _reader(open_page, people, reading_case)
    start_report(page, "ecg")
    # an empty conclusion: the page says so in Chinese, naming the field, and asks nothing
    page.fill("#report textarea[name=conclusion]", "")
    page.click("#report .report-actions button.primary")
    message = page.inner_text("#report .status")
    assert "签发前请填写：结论。" in message and "Fill in" not in message
    assert page.locator("#sign-dialog").count() == 0
    # when the conclusion is written and the critical box ticked, signing opens the summary
    page.fill("#report textarea[name=conclusion]", "急性下壁心肌梗死可能")
    page.check("#report input[name=critical]")
    page.wait_for_selector("#report .status:has-text('已于')")
    page.click("#report .report-actions button.primary")
    dialog = page.wait_for_selector("#sign-dialog[open]")
    text = dialog.inner_text()
    assert "周建华" in text and "心电图" in text and "急性下壁心肌梗死可能" in text
    assert "是" in page.inner_text("#sign-dialog dd[data-summary=critical]")
    screenshot(page, "sign-dialog")
    # cancel: nothing is signed
    page.click("#sign-dialog button[data-cancel]")
    page.wait_for_selector("#sign-dialog", state="detached")
    assert Report.objects.get(consultation=reading_case).state == "draft"
    # Esc cancels too, and focus returns to the sign button
    page.click("#report .report-actions button.primary")
    page.wait_for_selector("#sign-dialog[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#sign-dialog", state="detached")
    assert page.evaluate("document.activeElement.matches('#report .report-actions button.primary')")
    assert Report.objects.get(consultation=reading_case).state == "draft"
    # confirm by keyboard: Tab from Cancel to the sign button, Enter
    page.click("#report .report-actions button.primary")
    page.wait_for_selector("#sign-dialog[open]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.matches('#sign-dialog button[data-confirm]')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#report[data-state=signed]")
    report = Report.objects.get(consultation=reading_case)
    assert report.state == "signed" and report.versions.get().critical is True
    assert "null" not in page.inner_text("#case")


def test_ecg_lead_labels_clear_the_calibration_pulse_at_both_speeds(reading_case, people, open_page):
    page = _reader(open_page, people, reading_case)
    for speed in (25, 50):
        page.click(f"#ecg [data-switch=Speed] button[data-value='{speed}']")
        page.wait_for_selector(f"#ecg[data-speed='{speed}']")
        end, label = page.evaluate("[Number(ecg.dataset.calibrationEndMm), Number(ecg.dataset.labelXMm)]")
        assert end < label, f"at {speed} mm/s the calibration pulse ends at {end} mm, the first label starts at {label} mm"
    screenshot(page, "ecg-50mm-s")


def test_english_switch_on_the_reading_page_and_the_workstation(reading_case, people, open_page):
    page = _reader(open_page, people, reading_case)
    start_report(page, "ecg")
    with page.expect_navigation():
        page.click(".lang button[value=en]")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#ecg[data-drawn-leads='12']")
    assert page.inner_text("#h-report") == "Report"
    assert "Type / and a phrase's code" in page.inner_text("#report .phrase-hint")
    page.fill("#report textarea[name=conclusion]", "")
    page.click("#report .report-actions button.primary")
    assert "Fill in before signing: conclusion." in page.inner_text("#report .status")
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text("#h-offers") == "Offers" and page.inner_text("#h-worklist") == "Worklist"
    assert "Read" in page.inner_text(f"#worklist tr[data-id='{reading_case.id}']")


@pytest.fixture
def offered_case(people, cardiology, patient_factory, consultation_factory):
    """An urgent consultation with a 12-lead ECG offered to the expert (the only cardiologist on duty). On the real
    clock: the server (another process) checks the offer's expiry against its own."""
    from scheduling.models import OnCallShift
    from scheduling.services import assignment_request

    now = timezone.now()
    OnCallShift.objects.create(expert=people["expert"].expert, specialty=cardiology,
                               starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=3))
    doctor = people["village_doctor"]
    consultation = consultation_factory(
        patient=patient_factory(name="吴桂兰", sex="F", home_clinic=doctor.organisation), requested_by=doctor,
        requesting_org=doctor.organisation, specialty=cardiology, urgency="urgent", reason="心悸一周")
    outside_the_browser_loop(_store_ecg, consultation=consultation, by=doctor)
    offer = outside_the_browser_loop(assignment_request, consultation_id=consultation.pk)
    assert offer is not None and offer.expert_id == people["expert"].expert.pk
    return consultation, offer


def test_an_offer_shows_its_details_and_declining_asks_why_which_the_coordinator_reads(
        offered_case, people, open_page):
    from scheduling.models import Assignment

    consultation, offer = offered_case
    page = open_page("expert-workstation")
    page.clock.install(time=dt.datetime.now(dt.UTC))
    login(page, people["expert"].username)
    page.wait_for_selector("body[data-ready=true]")
    row = f"#offers li.offer[data-consultation='{consultation.id}']"
    details = page.inner_text(f"{row} .offer-details")
    assert "心悸一周" in details and "东风村卫生室" in details and "心电图" in details and "加急原因" in details
    screenshot(page, "offer-details")
    # declining asks why; no choice, no decline
    page.click(f"{row} button[data-decline]")
    page.wait_for_selector("#decline-dialog[open]")
    page.click("#decline-dialog button[data-confirm]")
    assert "请选择原因。" in page.inner_text("#decline-dialog .status")
    # "other" needs words
    page.check("#decline-dialog input[value=other]")
    page.click("#decline-dialog button[data-confirm]")
    assert "请简要说明原因。" in page.inner_text("#decline-dialog .status")
    assert Assignment.objects.get(pk=offer.pk).status == "offered"
    page.check("#decline-dialog input[value=busy]")
    page.fill("#decline-dialog textarea[name=decline_reason]", "门诊加号中，一小时内无法阅片")
    page.click("#decline-dialog button[data-confirm]")
    page.wait_for_selector("#offers-status:has-text('已拒绝')")
    declined = Assignment.objects.get(pk=offer.pk)
    assert (declined.status, declined.decline_code, declined.reason) == ("declined", "busy", "门诊加号中，一小时内无法阅片")

    # then the coordinator reads who declined and why, through their API and on their page's escalations
    coordinator = open_page("coordinator")
    coordinator.clock.install(time=dt.datetime.now(dt.UTC))
    login(coordinator, people["coordinator"].username)
    rows = coordinator.request.get(f"/api/scheduling/assignments/?consultation={consultation.id}").json()["results"]
    assert [(r["expert_name"], r["decline_code"], r["reason"]) for r in rows if r["status"] == "declined"] == [
        (str(people["expert"]), "busy", "门诊加号中，一小时内无法阅片")]
    coordinator.wait_for_selector("body[data-ready=true]")
    escalation = coordinator.wait_for_selector(f"#escalations li[data-id='{consultation.id}'] [data-declines] li")
    assert "手头病例已满" in escalation.inner_text() and "门诊加号中" in escalation.inner_text()
