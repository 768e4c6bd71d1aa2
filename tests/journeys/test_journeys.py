"""Journeys on the README's default (`make run`), in Chromium, with no substitute anywhere (issue 12).

The product runs as `manage.py rundemo` (tests/journeys/demo.py); the people are the demo's logins.
What is checked is what each person sees: the upload's true outcome, the report arriving at the
village clinic, the PDF's trace drawn on its grid, the QR code opening a page a person reads.
"""
import datetime as dt
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from directory.demo import EXPERTS
from tests.e2e.conftest import CANVAS_JS, sign_report, start_report, wait_for_js
from tests.e2e.media import video_decoding
from tests.journeys.conftest import SCREENSHOTS, request_async_cardiology
from tests.reports.pdf_checks import assert_pdf_shows

pytestmark = pytest.mark.browser

SERVICE_ZONE = ZoneInfo("Asia/Shanghai")  # settings.TIME_ZONE: the county's clock, the pages' too
SLOW_MS = 90_000  # ingest and PDF rendering in-process on a loaded 2-core machine
TRACE_NOT_ATTACHED = "could not be attached"  # reports/services/delivery.py, when the loader found no trace


def _patient(demo, doctor: str) -> dict:
    """A demo patient of the doctor's clinic, as the patient search shows them."""
    return demo.api(doctor).get("/api/patients/").json()["results"][0]


def _fresh_ecg(tmp_path: Path) -> str:
    """pydicom's 12-lead ECG as a new recording."""
    return _fresh_copy(tmp_path, "waveform_ecg.dcm")


def _fresh_copy(tmp_path: Path, name: str) -> str:
    """A pydicom sample as a new study (new UIDs): the same instance sent twice is stored once, and the demo
    server is shared by the session's tests."""
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def _upload(village, kind: str, files) -> None:
    village.select_option("#upload-kind", kind)
    village.set_input_files("#upload-files", files)
    village.click("#upload-form button[type=submit]")


def _offered_expert_username(demo, consultation_id: int, specialty: str = "cardiology") -> str:
    """Whom the system offered the case to (as the coordinator's API says), as a demo login."""
    coordinator = demo.api("coord")
    deadline = time.monotonic() + SLOW_MS / 1000
    while time.monotonic() < deadline:
        offers = [a for a in coordinator.get("/api/scheduling/assignments/?status=offered&limit=500").json()["results"]
                  if a["consultation"] == consultation_id]
        if offers:
            experts = coordinator.get(f"/api/scheduling/experts/?specialty={specialty}").json()
            name = next(e["name"] for e in experts if e["id"] == offers[0]["expert"])
            return next(username for username, full_name, *_ in EXPERTS if full_name in name)
        time.sleep(0.5)
    raise AssertionError(f"consultation {consultation_id} was offered to nobody")


def test_an_upload_shows_its_true_outcome_a_bad_file_its_reason_a_good_ecg_processed(demo, person, tmp_path):
    # given the village doctor's console and a consultation of theirs
    village = person("vdoc01")
    patient = _patient(demo, "vdoc01")
    consultation_id = request_async_cardiology(village, patient["name"], "心悸三天")
    # when they upload a text file as an ECG
    notes = tmp_path / "notes.txt"
    notes.write_text("患者自述心悸三天，无胸痛。\n" * 20)
    _upload(village, "ecg", str(notes))
    # then the page says it failed, and why, in Chinese; it never claims success
    failed = village.wait_for_selector(".upload[data-state=failed]:has-text('notes.txt')", timeout=SLOW_MS)
    assert "无法识别此文件的格式" in failed.inner_text(), failed.inner_text()
    village.wait_for_timeout(1500)  # a late success would overwrite it: it must not
    assert village.get_attribute(".upload:has-text('notes.txt')", "data-state") == "failed"
    # when they upload pydicom's 12-lead ECG for the same consultation
    _upload(village, "ecg", _fresh_ecg(tmp_path))
    # then it shows as processed
    done = village.wait_for_selector(".upload[data-state=ingested]:has-text('waveform_ecg.dcm')", timeout=SLOW_MS)
    assert "已处理" in done.inner_text()
    assert village.get_attribute(".upload:has-text('notes.txt')", "data-state") == "failed"
    studies = demo.api("vdoc01").get(f"/api/consultations/{consultation_id}/studies/").json()
    assert "ecg" in str(studies)


def test_journey_1_the_signed_ecg_report_reaches_the_village_with_its_trace_and_a_readable_qr_page(
        demo, person, chromium, tmp_path):
    # given the village doctor's console, a consultation requested there and its 12-lead ECG uploaded
    village = person("vdoc02")
    patient = _patient(demo, "vdoc02")
    consultation_id = request_async_cardiology(village, patient["name"], "胸闷两天，活动后加重")
    village.evaluate("window.__journeyMark = 'kept'")
    _upload(village, "ecg", _fresh_ecg(tmp_path))
    village.wait_for_selector(".upload[data-state=ingested]", timeout=SLOW_MS)

    # when the on-duty cardiologist it was offered to accepts it on the workstation, reads and signs
    expert = person(_offered_expert_username(demo, consultation_id))
    offer = f"#offers li.offer[data-consultation='{consultation_id}']"
    expert.wait_for_selector(offer, timeout=SLOW_MS)
    expert.click(f"{offer} button.primary")
    row = f"#worklist tr[data-id='{consultation_id}']"
    expert.wait_for_selector(row)
    with expert.expect_navigation():
        expert.click(f"{row} a:has-text('阅片')")
    expert.wait_for_selector("body[data-ready=true]")
    expert.wait_for_selector("#ecg[data-drawn-leads='12']", timeout=SLOW_MS)
    start_report(expert, "ecg")
    sign_report(expert, conclusion="窦性心律，心电图正常范围。")

    # then the report arrives on the village console, live (the page was not reloaded)
    report = village.wait_for_selector(f"#reports li.unread:has-text('#{consultation_id}')", timeout=SLOW_MS)
    assert patient["name"] in report.inner_text()
    assert village.evaluate("window.__journeyMark") == "kept", "the console was reloaded"
    href = village.wait_for_selector(f"#reports li.unread:has-text('#{consultation_id}') a:has-text('打开PDF')",
                                     timeout=SLOW_MS).get_attribute("href")
    response = village.request.get(href)
    assert response.status == 200 and response.body()[:5] == b"%PDF-"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.body())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "journeys-journey-1-report.pdf").write_bytes(response.body())

    # and the PDF carries the trace: no "could not be attached", and the ECG page has its grid and dark trace
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert TRACE_NOT_ATTACHED not in text and "未能附入" not in text
    grid, trace = _ecg_page_pixels(pdf, tmp_path)
    assert grid > 50_000, f"no ECG grid drawn ({grid} pink/red pixels)"
    assert trace > 5_000, f"no trace drawn on the grid ({trace} dark pixels)"

    # and its QR code opens, at the address rundemo printed, a page in Chinese that a person reads
    png = sorted(tmp_path.glob("page-*.png"))[0]
    url = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True, timeout=60).stdout.strip()
    assert url.startswith(f"{demo.url}/api/reports/verify/"), url
    phone = chromium.new_context(locale="zh-CN")
    try:
        page = phone.new_page()
        page.goto(url)
        assert page.locator("#verdict").get_attribute("data-genuine") == "true"
        assert "真实有效" in page.inner_text("body") and "报告真伪验证" in page.title()
        assert "Asia/Shanghai" in page.inner_text("#signed-at")
    finally:
        phone.close()

    # when the doctor acknowledges it, it is marked so
    village.click(f"#reports li.unread:has-text('#{consultation_id}') button:has-text('确认收到')")
    village.wait_for_selector(f"#reports li.acknowledged:has-text('#{consultation_id}')")


def _ecg_page_pixels(pdf: Path, tmp_path: Path) -> tuple[int, int]:
    """Rasterise every page; on the ECG page (the one with the most grid), count grid pixels and dark
    pixels inside the grid's bounding box (the trace and calibration pulses)."""
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    best = (0, 0)
    for png in sorted(tmp_path.glob("page-*.png")):
        rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        grid = (r > 200) & (g < 235) & (b < 235) & (r - g > 15)
        if grid.sum() <= best[0]:
            continue
        rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        dark = (r < 90) & (g < 90) & (b < 90)
        best = (int(grid.sum()), int(dark[box].sum()))
    return best


# --- journey 2: live cloud clinic ---------------------------------------------------------------------

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
VIDEO_S = 90  # the first frames through the relay, three pages decoding on a shared 2-core machine


def _expert_id(demo, username: str, specialty: str) -> int:
    """The demo expert's id, as the coordinator's API lists them."""
    full_name = next(name for login, name, *_ in EXPERTS if login == username)
    experts = demo.api("coord").get(f"/api/scheduling/experts/?specialty={specialty}").json()
    return next(e["id"] for e in experts if full_name in e["name"])


def _cloud_clinic_starting_soon(demo, stack_clock, username: str) -> dict:
    """As the coordinator, on the roster page's API: a one-day cardiology cloud clinic of the expert starting
    in four minutes (within the five minutes before a slot in which beat opens its room), every slot kept for
    grassroots clinics until it starts. Returns the session."""
    local = stack_clock.now().astimezone(SERVICE_ZONE) + dt.timedelta(minutes=4)
    start = local.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    if start.hour == 23:
        pytest.skip("a one-day session needs an hour before midnight in the service's zone (TEST_STACK_CLOCK_AT)")
    end = start + dt.timedelta(minutes=60)
    coordinator = demo.api("coord")
    expert_id = _expert_id(demo, username, "cardiology")
    roster = coordinator.post("/api/scheduling/rosters/", json={
        "expert": expert_id, "specialty": "cardiology", "weekdays": [start.isoweekday()],
        "start_time": f"{start:%H:%M}", "end_time": f"{end:%H:%M}", "slot_minutes": 20, "capacity": 3,
        "valid_from": f"{start:%Y-%m-%d}", "valid_until": f"{start:%Y-%m-%d}", "reserved_share": 100,
        "release_hours": 0})
    assert roster.status_code == 201, roster.text
    sessions = coordinator.get("/api/scheduling/sessions/", params={
        "expert": expert_id, "from": (start - dt.timedelta(minutes=1)).isoformat(),
        "to": (end + dt.timedelta(minutes=1)).isoformat(), "limit": 50}).json()
    sessions = sessions["results"] if isinstance(sessions, dict) else sessions
    return next(s for s in sessions if s["roster"] == roster.json()["id"])


def test_journey_2_a_booked_cloud_clinic_opens_its_room_the_patient_joins_by_phone_and_the_report_returns(
        demo, person, stack_clock, tmp_path):
    # given the expert's cloud clinic starting in a few minutes, and the village doctor's console (never reloaded)
    expert_login = "expert03"
    session = _cloud_clinic_starting_soon(demo, stack_clock, expert_login)
    village = person("vdoc03")
    patient = _patient(demo, "vdoc03")
    village.wait_for_selector("#socket-state[data-state=open]")
    village.evaluate("window.__journeyMark = 'kept'")

    # when the doctor requests a live cardiology consultation and books a reserved slot of that clinic
    village.fill("#patient-q", patient["name"])
    village.click("#patient-search button[type=submit]")
    village.click(f"#patient-results button:has-text('{patient['name']}') >> nth=0")
    village.select_option("#consult-specialty", "cardiology")
    village.check("#consult-form input[name=mode][value=live]")
    village.fill("#consult-form textarea[name=reason]", "心悸一周，夜间明显")
    village.click("#consult-form button[type=submit]")
    village.wait_for_selector("#consult-status:has-text('已申请')")
    wait_for_js(village, "document.querySelector('#booking-consultation').value !== ''")
    consultation_id = int(village.input_value("#booking-consultation"))
    village.click(f"#slots li.session-slots[data-session='{session['id']}'] button.slot.reserved >> nth=0",
                  timeout=SLOW_MS)
    village.wait_for_selector("#booking-status:has-text('已预约')")
    # then the console shows the case as the session expert's, with the booked time
    expert_name = next(name for login, name, *_ in EXPERTS if login == expert_login)
    row = f"#consultations tr[data-id='{consultation_id}']"
    village.wait_for_selector(f"{row}[data-state=assigned] td.expert:has-text('{expert_name}')", timeout=SLOW_MS)
    assert village.inner_text(f"{row} td.booked").strip(), "no booked time shown"

    # when the slot's time comes, the room opens by itself (beat) and the console says so, live
    village.wait_for_selector(f"#events li:has-text('预约时段的远程诊室已开放'):has-text('#{consultation_id}')",
                              timeout=SLOW_MS)
    # and the doctor goes into it (a second window: the console stays open) and makes the patient's link
    room = person("vdoc03")
    with room.expect_navigation(url="**/live/rooms/*/"):
        room.click(f"#consultations tr[data-id='{consultation_id}'] button[data-room]")
    room.wait_for_selector("#conn-status.ok", timeout=SLOW_MS)
    room.click("#btn-invite")
    room.wait_for_selector("#invite-qr svg")
    link = room.input_value("#invite-url")
    assert link.startswith(f"{demo.url}/") and "/join/#" in link, link
    host_id = str(room.evaluate("window.liveRoom.state.me.id"))

    # and the expert joins from the workstation's worklist
    expert = person(expert_login)
    with expert.expect_navigation(url="**/live/rooms/*/"):
        expert.click(f"#worklist tr[data-id='{consultation_id}'] button[data-room]", timeout=SLOW_MS)
    expert.wait_for_selector("#conn-status.ok", timeout=SLOW_MS)
    expert_id = str(expert.evaluate("window.liveRoom.state.me.id"))

    # when the patient opens the link on their phone (no account), passes the camera check and waits
    phone = person(None, **PHONE)
    phone.goto(link)
    phone.click("#btn-check")
    phone.wait_for_selector("#btn-enter", state="visible", timeout=SLOW_MS)
    video_decoding(phone, "#preview", timeout_s=VIDEO_S, min_frames=2)
    phone.click("#btn-enter")
    phone.wait_for_selector("#step-wait", state="visible")
    # then the doctor sees them waiting and admits them
    waiting = room.wait_for_selector("#participants li.waiting", timeout=SLOW_MS)
    patient_id = waiting.get_attribute("data-participant")
    room.click(f"#participants li.waiting[data-participant='{patient_id}'] button[data-action=admit]")
    room.wait_for_selector(f"#participants li.admitted[data-participant='{patient_id}']", timeout=SLOW_MS)
    phone.wait_for_selector("#step-call", state="visible", timeout=SLOW_MS)

    # then video flows through the relay between all three: each page decodes the other two cameras
    for who, pid in (("doctor", host_id), ("expert", expert_id)):
        video_decoding(phone, f'#remote video[data-participant="{pid}"]', timeout_s=VIDEO_S, min_frames=2)
    for page, others in ((expert, (host_id, patient_id)), (room, (expert_id, patient_id))):
        for pid in others:
            video_decoding(page, f'#tiles figure.tile[data-participant="{pid}"] video', timeout_s=VIDEO_S,
                           min_frames=2)

    # when the expert leaves the call and writes and signs the consultation report
    expert.click("#btn-leave")
    expert.goto(f"/read/{consultation_id}/")
    expert.wait_for_selector("body[data-ready=true]")
    start_report(expert, "consultation")
    sign_report(expert, assessment="阵发性室上性心动过速可能，血流动力学稳定。", plan="完善24小时动态心电图，避免浓茶咖啡。")

    # then the report reaches the village console live, and its PDF reads what the expert wrote
    item = f"#reports li.unread:has-text('#{consultation_id}')"
    assert patient["name"] in village.wait_for_selector(item, timeout=SLOW_MS).inner_text()
    href = village.wait_for_selector(f"{item} a:has-text('打开PDF')", timeout=SLOW_MS).get_attribute("href")
    _assert_pdf(village, href, tmp_path, texts=[patient["name"], "阵发性室上性心动过速可能，血流动力学稳定。",
                                                "完善24小时动态心电图，避免浓茶咖啡。", expert_name])
    assert village.evaluate("window.__journeyMark") == "kept", "the console was reloaded"


def _assert_pdf(page, href: str, tmp_path: Path, **shows) -> None:
    """The PDF opens for the page's user and shows what the person must see (tests/reports/pdf_checks.py)."""
    response = page.request.get(href)
    assert response.status == 200 and response.body()[:5] == b"%PDF-", response.text()[:300]
    path = tmp_path / "report.pdf"
    path.write_bytes(response.body())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"journeys-{Path(tmp_path).name}-report.pdf").write_bytes(response.body())
    assert_pdf_shows(path, **shows)


# --- journey 3: imaging --------------------------------------------------------------------------------

def test_journey_3_a_township_ct_is_read_by_the_offered_radiologist_and_the_report_returns_with_its_image(
        demo, person, tmp_path):
    # given the township doctor's console (never reloaded) and a patient of the township's villages
    township = person("tdoc01")
    patient = _patient(demo, "tdoc01")
    township.wait_for_selector("#socket-state[data-state=open]")
    township.evaluate("window.__journeyMark = 'kept'")
    assert township.inner_text("h1") == "乡镇医生工作台"

    # when the doctor requests an urgent radiology consultation and uploads the CT through the console
    township.fill("#patient-q", patient["name"])
    township.click("#patient-search button[type=submit]")
    township.click(f"#patient-results button:has-text('{patient['name']}') >> nth=0")
    township.select_option("#consult-specialty", "radiology")
    township.check("#consult-form input[name=urgency][value=urgent]")
    township.check("#consult-form input[name=mode][value=async]")
    township.fill("#consult-form textarea[name=reason]", "咳嗽一月，胸部CT请上级医院阅片")
    township.click("#consult-form button[type=submit]")
    township.wait_for_selector("#consult-status:has-text('已申请')")
    wait_for_js(township, "document.querySelector('#upload-consultation').value !== ''")
    consultation_id = int(township.input_value("#upload-consultation"))
    _upload(township, "dicom", _fresh_copy(tmp_path, "CT_small.dcm"))
    township.wait_for_selector(".upload[data-state=ingested]:has-text('CT_small.dcm')", timeout=SLOW_MS)

    # then the on-duty radiologist it was offered to sees the offer live; accepted, it is on the worklist as urgent
    radiologist_login = _offered_expert_username(demo, consultation_id, "radiology")
    radiologist = person(radiologist_login)
    offer = f"#offers li.offer[data-consultation='{consultation_id}']"
    radiologist.wait_for_selector(offer, timeout=SLOW_MS)
    radiologist.click(f"{offer} button.primary")
    row = radiologist.wait_for_selector(f"#worklist tr[data-id='{consultation_id}'][data-urgency=urgent]")
    assert patient["name"] in row.inner_text()
    # and the township console shows who took it, live
    radiologist_name = next(name for login, name, *_ in EXPERTS if login == radiologist_login)
    township.wait_for_selector(f"#consultations tr[data-id='{consultation_id}'][data-state=assigned] "
                               f"td.expert:has-text('{radiologist_name}')", timeout=SLOW_MS)

    # when the radiologist opens the reading page, the CT frame is drawn on the viewer's canvas
    with radiologist.expect_navigation():
        radiologist.click(f"#worklist tr[data-id='{consultation_id}'] a:has-text('阅片')")
    radiologist.wait_for_selector("body[data-ready=true]")
    radiologist.wait_for_selector("#image-panel:not([hidden]) .iv-info:has-text('1/1')", timeout=SLOW_MS)
    wait_for_js(radiologist, f"({CANVAS_JS})().levels > 16", timeout_ms=SLOW_MS)
    default_window = radiologist.evaluate(CANVAS_JS)
    # and the lung preset redraws it with that window: a different picture
    with radiologist.expect_response(lambda r: "/rendered/" in r.url and "window_center=-600" in r.url,
                                     timeout=SLOW_MS) as rendered:
        radiologist.click("button[data-preset=lung]")
    assert rendered.value.status == 200 and rendered.value.headers["content-type"] == "image/png"
    radiologist.wait_for_selector(".iv-info:has-text('-600 / 1500')")
    wait_for_js(radiologist, f"({CANVAS_JS})().mean !== {default_window['mean']}", timeout_ms=SLOW_MS)

    # when the radiologist writes and signs the imaging report
    start_report(radiologist, "imaging")
    sign_report(radiologist, findings="双肺纹理清晰，未见明确实质性病变。", impression="胸部CT未见明显异常。")

    # then the report reaches the township console live, its PDF carries the CT frame, and it is acknowledged
    item = f"#reports li.unread:has-text('#{consultation_id}')"
    township.wait_for_selector(item, timeout=SLOW_MS)
    href = township.wait_for_selector(f"{item} a:has-text('打开PDF')", timeout=SLOW_MS).get_attribute("href")
    _assert_pdf(township, href, tmp_path, key_images=[(128, 128)],  # CT_small.dcm's frame
                texts=[patient["name"], "双肺纹理清晰，未见明确实质性病变。", "胸部CT未见明显异常。"])
    township.click(f"{item} button:has-text('确认收到')")
    township.wait_for_selector(f"#reports li.acknowledged:has-text('#{consultation_id}')")
    assert township.evaluate("window.__journeyMark") == "kept", "the console was reloaded"


# --- journey 4: referral -------------------------------------------------------------------------------

def _taken_cardiology_case(demo, doctor: str, reason: str) -> tuple[dict, int, str]:
    """Through the API, as the people would: the doctor requests an urgent cardiology consultation and asks
    for an expert, the on-duty cardiologist it is offered to accepts it. Returns (patient, consultation id, expert login)."""
    patient = _patient(demo, doctor)
    consultation = demo.api(doctor).post("/api/consultations/", json={
        "patient": patient["id"], "specialty": "cardiology", "mode": "async", "urgency": "urgent",
        "reason": reason})
    assert consultation.status_code == 201, consultation.text
    consultation_id = consultation.json()["id"]
    routed = demo.api(doctor).post(f"/api/scheduling/consultations/{consultation_id}/assignment/", json={})
    assert routed.status_code == 201, routed.text  # an async case without a study yet is routed on request
    username = _offered_expert_username(demo, consultation_id)
    expert = demo.api(username)
    offers = expert.get("/api/scheduling/assignments/?status=offered&limit=500").json()["results"]
    offer = next(a for a in offers if a["consultation"] == consultation_id)
    accepted = expert.post(f"/api/scheduling/assignments/{offer['id']}/accept/", json={})
    assert accepted.status_code == 200, accepted.text
    return patient, consultation_id, username


def test_journey_4_referred_up_through_a_green_channel_and_back_down_with_a_follow_up_plan(demo, person):
    # given an urgent cardiology case of the village doctor's that an on-duty cardiologist has taken
    patient, consultation_id, expert_login = _taken_cardiology_case(demo, "vdoc05", "反复胸痛，心电图ST段压低")
    village = person("vdoc05")
    village.wait_for_selector("#socket-state[data-state=open]")
    village.evaluate("window.__journeyMark = 'kept'")

    # when the expert, on the reading page, recommends an upward referral
    reader = person(expert_login)
    reader.goto(f"/read/{consultation_id}/")
    reader.wait_for_selector("body[data-ready=true]")
    reader.fill("#refer-up textarea[name=reason]", "疑似不稳定型心绞痛，建议上级医院冠脉造影")
    reader.click("#refer-up button[type=submit]")
    # then a green-channel slot at the lead hospital is booked for the patient
    reader.wait_for_selector("#referral .status:has-text('已预约绿色通道号源')", timeout=SLOW_MS)
    referrals = demo.api("vdoc05").get("/api/scheduling/referrals/?limit=500").json()["results"]
    up = next(r for r in referrals if r["consultation"] == consultation_id and r["direction"] == "up")
    assert up["booking"] and up["slot_starts_at"], up
    # and the village console shows it live: up, the patient, the reason, the hospital, the slot's time
    item = village.wait_for_selector(f"#referrals li.referral.up[data-id='{up['id']}']", timeout=SLOW_MS)
    text = item.inner_text()
    slot_time = dt.datetime.fromisoformat(up["slot_starts_at"]).astimezone(SERVICE_ZONE).strftime("%H:%M")
    assert "上转" in text and patient["name"] in text and "冠脉造影" in text, text
    assert "县人民医院" in text and slot_time in text, text
    village.wait_for_selector("#events li:has-text('患者已上转')")

    # when the expert later sends the patient back down with a follow-up plan
    reader.fill("#refer-down textarea[name=summary]", "冠脉造影示单支病变，已植入支架，病情稳定。")
    titles = reader.locator("#refer-down input[name=title]")
    titles.nth(0).fill("一周后复查心电图")
    titles.nth(1).fill("每日监测血压并记录")
    reader.click("#refer-down button[type=submit]")
    reader.wait_for_selector("#referral .status:has-text('已下转')", timeout=SLOW_MS)

    # then the village console shows it with its tasks, live; the doctor receives it and completes one task
    down = village.wait_for_selector(
        f"#referrals li.referral.down:has-text('{patient['name']}') .tasks li:has-text('一周后复查心电图')",
        timeout=SLOW_MS)
    down_id = down.evaluate("(li) => li.closest('li.referral').dataset.id")
    item = f"#referrals li.referral.down[data-id='{down_id}']"
    village.click(f"{item} button:has-text('确认接收')")
    village.wait_for_selector(f"{item}[data-state=acknowledged]")
    village.click(f"{item} .tasks li:has-text('一周后复查心电图') button:has-text('完成')")
    village.wait_for_selector(f"{item} .tasks li.done:has-text('一周后复查心电图')")
    assert village.locator(f"{item} .tasks li:not(.done):has-text('每日监测血压')").count() == 1
    assert village.evaluate("window.__journeyMark") == "kept", "the console was reloaded"
    tasks = {t["title"]: t["state"] for r in demo.api("vdoc05").get("/api/scheduling/referrals/?limit=500")
             .json()["results"] if r["id"] == int(down_id) for t in r["follow_ups"]}
    assert tasks == {"一周后复查心电图": "done", "每日监测血压并记录": "open"}, tasks
