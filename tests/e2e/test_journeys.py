"""The four journeys of DESIGN.md, end to end in a real browser: one test each, one browser context per person.

Everything past the test's own setup (people, a patient, an on-call shift or a roster, as a
coordinator would have made them) goes through the pages and the real back ends: Daphne on the
test database, a real Celery worker for ingest and report delivery, the notification socket.
"""
import datetime as dt
import time

from playwright.sync_api import expect

import pytest
from django.utils import timezone

from tests.e2e.conftest import CANVAS_JS, SCREENSHOTS, login, screenshot, sign_report, start_report
from tests.e2e.media import video_decoding
from tests.reports.pdf_checks import assert_pdf_shows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORKER_S = 60_000  # ms: ingest and PDF rendering on a loaded 2-core machine


def _ready(page) -> None:
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#socket-state[data-state=open]")


def _no_reload_marker(page) -> None:
    """Marks the page's JS realm; `_still_same_page` fails if the page was reloaded or left since."""
    page.evaluate("window.__journeyMark = 'kept'")


def _still_same_page(page) -> None:
    assert page.evaluate("window.__journeyMark") == "kept", "the page was reloaded"


def _assert_pdf(page, href: str, **shows) -> None:
    """The PDF link works for the page's user and the PDF shows what the person must see (tests/reports/
    pdf_checks.py's assert_pdf_shows: texts, the ECG grid and trace drawn, key images). The PDF is kept
    next to the screenshots to be looked at."""
    response = page.request.get(href)
    assert response.status == 200, response.text()[:300]
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body()[:5] == b"%PDF-"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{page.test_slug}-report.pdf"
    path.write_bytes(response.body())
    assert_pdf_shows(path, **shows)


@pytest.fixture
def on_call_cardiologist(people, cardiology):
    """The expert on an on-call cardiology shift now (the other cardiologist is not on duty)."""
    from scheduling.models import OnCallShift

    now = timezone.now()
    OnCallShift.objects.create(expert=people["expert"].expert, specialty=cardiology,
                               starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=3))
    return people["expert"]


@pytest.mark.worker
def test_journey_1_async_ecg_reaches_an_on_call_expert_and_the_signed_report_comes_back(
        people, on_call_cardiologist, patient_factory, celery_worker_process, open_page):
    from pydicom.data import get_testdata_file

    from consult.models import Consultation

    started = time.monotonic()
    doctor, expert = people["village_doctor"], on_call_cardiologist
    patient_factory(name="刘淑珍", home_clinic=doctor.organisation, health_record_no="HR-ECG-0001")
    # given the on-call expert's workstation open (and never reloaded)
    workstation = open_page("expert-workstation")
    login(workstation, expert.username)
    _ready(workstation)
    workstation.wait_for_selector("#offers li.muted")  # no offers waiting yet
    _no_reload_marker(workstation)

    # when the village doctor finds the patient and requests an async cardiology consultation
    village = open_page("village-console")
    login(village, doctor.username)
    _ready(village)
    village.fill("#patient-q", "刘淑珍")
    village.click("#patient-search button[type=submit]")
    village.click("#patient-results button:has-text('刘淑珍')")
    village.select_option("#consult-specialty", "cardiology")
    village.check("#consult-form input[name=mode][value=async]")
    village.fill("#consult-form textarea[name=reason]", "胸闷两天，活动后加重")
    village.click("#consult-form button[type=submit]")
    village.wait_for_selector("#consult-status:has-text('已申请'), #consult-status:has-text('requested')")
    consultation = Consultation.objects.get(patient__name="刘淑珍")
    # the console fills the upload form's consultation just after the status line: wait for it
    expect(village.locator("#upload-consultation")).to_have_value(str(consultation.id), timeout=10_000)
    # and uploads pydicom's 12-lead ECG through the console's upload panel
    village.select_option("#upload-kind", "ecg")
    village.set_input_files("#upload-files", get_testdata_file("waveform_ecg.dcm"))
    village.click("#upload-form button[type=submit]")
    village.wait_for_selector(".upload[data-state=ingested]", timeout=WORKER_S)
    village.wait_for_selector(".upload .upload-state:has-text('已处理')", timeout=WORKER_S)

    # then the on-call expert's workstation shows the offer live, with its countdown
    offer = workstation.wait_for_selector(f"#offers li.offer[data-consultation='{consultation.id}']", timeout=WORKER_S)
    assert "刘淑珍" in offer.inner_text()
    workstation.wait_for_selector(f"#offers li.offer[data-consultation='{consultation.id}'] .countdown:text-matches('\\\\d+:\\\\d\\\\d')")
    _still_same_page(workstation)
    screenshot(workstation, "offer")

    # when the expert accepts, the case moves to the worklist; the expert opens the reading page
    workstation.click(f"#offers li.offer[data-consultation='{consultation.id}'] button.primary")
    row = f"#worklist tr[data-id='{consultation.id}']"
    workstation.wait_for_selector(row)
    _still_same_page(workstation)
    with workstation.expect_navigation():
        workstation.click(f"{row} a:has-text('阅片')")
    reader = workstation
    reader.wait_for_selector("body[data-ready=true]")
    # then the 12-lead ECG is drawn, with the device's measurements beside it
    reader.wait_for_selector("#ecg[data-drawn-leads='12']", timeout=WORKER_S)
    assert reader.locator("#ecg svg, #ecg canvas").count() >= 1
    # when the expert starts the ECG report (prefilled), concludes and signs it
    start_report(reader, "ecg")
    assert reader.input_value("#report input[name=pr_ms]") == "161"
    sign_report(reader, conclusion="窦性心律，心电图正常范围。")
    screenshot(reader, "signed")

    # then the report arrives on the village console live (no reload), its PDF opens, and the doctor acknowledges
    _no_reload_marker(village)
    report = village.wait_for_selector(f"#reports li.unread:has-text('#{consultation.id}')", timeout=WORKER_S)
    assert "刘淑珍" in report.inner_text()
    pdf = village.wait_for_selector("#reports li.unread a:has-text('打开PDF')", timeout=WORKER_S)
    _assert_pdf(village, pdf.get_attribute("href"), texts=["刘淑珍", "窦性心律，心电图正常范围。"], ecg_trace=True)
    village.click("#reports li.unread button:has-text('确认收到')")
    village.wait_for_selector("#reports li.acknowledged")
    _still_same_page(village)
    from reports.models import Delivery

    assert Delivery.objects.filter(version__report__consultation=consultation, acknowledged_at__isnull=False).exists()
    screenshot(village, "acknowledged")
    print(f"journey 1: {time.monotonic() - started:.1f} s")


# --- journey 2: live cloud clinic -------------------------------------------------------------------

@pytest.fixture
def cloud_clinic_now(people, cardiology):
    """The expert's cloud-clinic session starting in ten minutes, its first slots reserved for grassroots clinics."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from scheduling.services.rosters import roster_create

    local = timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE)) + dt.timedelta(minutes=10)
    start = local.replace(second=0, microsecond=0) + dt.timedelta(minutes=5 - local.minute % 5)
    if start.hour == 23:  # keep the session within one day
        start = (start + dt.timedelta(days=1)).replace(hour=0, minute=10)
    end = start + dt.timedelta(minutes=60)
    return roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                         weekdays=[1, 2, 3, 4, 5, 6, 7], start_time=start.time(), end_time=end.time(), slot_minutes=20,
                         capacity=3, valid_from=start.date(), valid_until=start.date(), reserved_share=67,
                         release_hours=2)


def test_journey_2_live_cloud_clinic_booked_slot_patient_phone_three_way_video_and_report(
        relay_worker, people, cloud_clinic_now, patient_factory, celery_worker_process, open_page, browser_devices):
    from consult.models import Consultation
    from live.models import Participant
    from scheduling.models import Booking

    started = time.monotonic()
    doctor, expert = people["village_doctor"], people["expert"]
    patient_factory(name="孙立新", home_clinic=doctor.organisation, health_record_no="HR-LIVE-0002")
    # given the village console open (it stays open: the report arrives there)
    village = open_page("village-console")
    login(village, doctor.username)
    _ready(village)
    _no_reload_marker(village)

    # when the village doctor requests a live cardiology consultation and books a reserved slot
    village.fill("#patient-q", "孙立新")
    village.click("#patient-search button[type=submit]")
    village.click("#patient-results button:has-text('孙立新')")
    village.select_option("#consult-specialty", "cardiology")
    village.check("#consult-form input[name=mode][value=live]")
    village.fill("#consult-form textarea[name=reason]", "心悸一周，夜间明显")
    village.click("#consult-form button[type=submit]")
    consultation_id = int(village.wait_for_selector("#consultations tr[data-id]").get_attribute("data-id"))
    assert village.input_value("#booking-consultation") == str(consultation_id)
    village.click("#slots button.slot.reserved >> nth=0")
    village.wait_for_selector("#booking-status:has-text('已预约')")
    booking = Booking.objects.select_related("slot").get(consultation_id=consultation_id)
    assert booking.slot.is_reserved and booking.slot.session.expert_id == expert.expert.pk
    assert Consultation.objects.get(pk=consultation_id).assigned_expert_id == expert.expert.pk

    # when, at the time, the doctor starts the room (a second window) and makes the patient's link
    room_page = open_page("village-room")
    login(room_page, doctor.username)
    room_page.wait_for_selector(f"#consultations tr[data-id='{consultation_id}'] button[data-room]")
    with room_page.expect_navigation(url="**/live/rooms/*/"):
        room_page.click(f"#consultations tr[data-id='{consultation_id}'] button[data-room]")
    room_page.wait_for_selector("#conn-status.ok")
    room_page.click("#btn-invite")
    room_page.wait_for_selector("#invite-qr svg")
    link = room_page.input_value("#invite-url")
    assert "/join/#" in link
    host_id = str(room_page.evaluate("window.liveRoom.state.me.id"))

    # and the expert joins from the worklist
    expert_page = open_page("expert-room")
    login(expert_page, expert.username)
    expert_page.wait_for_selector("body[data-ready=true]")
    with expert_page.expect_navigation(url="**/live/rooms/*/"):
        expert_page.click(f"#worklist tr[data-id='{consultation_id}'] button[data-room]")
    expert_page.wait_for_selector("#conn-status.ok")

    # when the patient opens the link on their phone, passes the camera check and waits
    phone = open_page("patient-phone", **browser_devices["Pixel 7"])
    phone.goto(link)
    phone.click("#btn-check")
    phone.wait_for_selector("#btn-enter", state="visible")
    video_decoding(phone, "#preview")
    phone.click("#btn-enter")
    phone.wait_for_selector("#step-wait", state="visible")
    screenshot(phone, "waiting")
    # then the host sees them waiting, and admits them
    admit = room_page.locator("#participants li.waiting button[data-action=admit]")
    admit.wait_for()
    patient_id = room_page.locator("#participants li.waiting").get_attribute("data-participant")
    admit.click()
    phone.wait_for_selector("#step-call", state="visible")

    # then video flows through the relay between all three: each page decodes the others' cameras
    expert_id = str(Participant.objects.get(room__consultation_id=consultation_id, user=expert).pk)
    on_phone = {who: video_decoding(phone, f'#remote video[data-participant="{pid}"]')
                for who, pid in (("doctor", host_id), ("expert", expert_id))}
    on_expert = {who: video_decoding(expert_page, f'#tiles figure.tile[data-participant="{pid}"] video')
                 for who, pid in (("doctor", host_id), ("patient", patient_id))}
    on_host = {who: video_decoding(room_page, f'#tiles figure.tile[data-participant="{pid}"] video')
               for who, pid in (("expert", expert_id), ("patient", patient_id))}
    decoded = expert_page.evaluate("""async () => {
        let n = 0;
        for (const {pc} of window.liveRoom.media.downstreams.values())
          (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded; });
        return n; }""")
    assert decoded > 0, (on_phone, on_expert, on_host)
    screenshot(phone, "call")
    screenshot(room_page, "call-host")
    screenshot(expert_page, "call-expert")

    # when the expert writes and signs the consultation report after the call
    expert_page.click("#btn-leave")
    expert_page.goto(f"/read/{consultation_id}/")
    expert_page.wait_for_selector("body[data-ready=true]")
    start_report(expert_page, "consultation")
    sign_report(expert_page, assessment="阵发性室上性心动过速可能，血流动力学稳定。", plan="完善24小时动态心电图，避免浓茶咖啡。")
    screenshot(expert_page, "signed")

    # then it reaches the village console live, with a working PDF
    report = village.wait_for_selector(f"#reports li.unread:has-text('#{consultation_id}')", timeout=WORKER_S)
    assert "孙立新" in report.inner_text()
    pdf = village.wait_for_selector(f"#reports li.unread:has-text('#{consultation_id}') a:has-text('打开PDF')",
                                    timeout=WORKER_S)
    _assert_pdf(village, pdf.get_attribute("href"), ecg_trace=False,
                texts=["孙立新", "阵发性室上性心动过速可能，血流动力学稳定。", "完善24小时动态心电图，避免浓茶咖啡。"])
    _still_same_page(village)
    screenshot(village, "report-arrived")
    print(f"journey 2: {time.monotonic() - started:.1f} s")


# --- journey 3: imaging -------------------------------------------------------------------------------

@pytest.fixture
def on_call_radiologist(community):
    from directory.models import User
    from scheduling.models import OnCallShift
    from tests.factories import ExpertFactory, SpecialtyFactory, UserFactory

    radiology = SpecialtyFactory(code="radiology", name="放射科")
    expert = ExpertFactory(user=UserFactory(username="radiologist", role=User.Role.EXPERT,
                                            organisation=community.lead), specialties=[radiology])
    now = timezone.now()
    OnCallShift.objects.create(expert=expert, specialty=radiology, starts_at=now - dt.timedelta(hours=1),
                               ends_at=now + dt.timedelta(hours=3))
    return expert.user


@pytest.mark.worker
def test_journey_3_township_ct_is_read_in_the_browser_by_the_radiologist_and_the_report_returns(
        people, on_call_radiologist, patient_factory, celery_worker_process, open_page):
    from pydicom.data import get_testdata_file

    from consult.models import Consultation
    from studies.models import ImagingStudy

    started = time.monotonic()
    doctor, radiologist = people["township_doctor"], on_call_radiologist
    patient_factory(name="钱明", home_clinic=doctor.organisation, health_record_no="HR-CT-0003")
    workstation = open_page("radiologist")
    login(workstation, radiologist.username)
    _ready(workstation)
    _no_reload_marker(workstation)

    # when the township doctor requests a radiology consultation and uploads the CT through the console
    township = open_page("township-console")
    login(township, doctor.username)
    _ready(township)
    township.fill("#patient-q", "钱明")
    township.click("#patient-search button[type=submit]")
    township.click("#patient-results button:has-text('钱明')")
    township.select_option("#consult-specialty", "radiology")
    township.check("#consult-form input[name=urgency][value=urgent]")
    township.fill("#consult-form textarea[name=reason]", "咳嗽一月，胸部CT请上级医院阅片")
    township.click("#consult-form button[type=submit]")
    township.wait_for_selector("#consult-status:has-text('已申请')")
    assert township.inner_text("h1") == "乡镇医生工作台"
    consultation = Consultation.objects.get(patient__name="钱明")
    township.select_option("#upload-kind", "dicom")
    township.set_input_files("#upload-files", get_testdata_file("CT_small.dcm"))
    township.click("#upload-form button[type=submit]")
    township.wait_for_selector(".upload .upload-state:has-text('已处理')", timeout=WORKER_S)
    study = ImagingStudy.objects.get(consultation=consultation)

    # then the radiologist's workstation offers it live; accepted, it is on the worklist as urgent
    offer = f"#offers li.offer[data-consultation='{consultation.id}']"
    workstation.wait_for_selector(offer, timeout=WORKER_S)
    workstation.click(f"{offer} button.primary")
    row = workstation.wait_for_selector(f"#worklist tr[data-id='{consultation.id}'][data-urgency=urgent]")
    assert "钱明" in row.inner_text()
    _still_same_page(workstation)
    screenshot(workstation, "worklist")

    # when the radiologist opens the reading page, the CT frame is rendered on the viewer's canvas
    with workstation.expect_navigation():
        workstation.click(f"#worklist tr[data-id='{consultation.id}'] a:has-text('阅片')")
    reader = workstation
    reader.wait_for_selector("body[data-ready=true]")
    reader.wait_for_selector("#image-panel:not([hidden]) .iv-info:has-text('1/1')")
    reader.wait_for_function(f"({CANVAS_JS})().levels > 16")
    default_window = reader.evaluate(CANVAS_JS)
    # and the lung preset re-renders it with that window: a different picture
    with reader.expect_response(lambda r: "/rendered/" in r.url and "window_center=-600" in r.url) as rendered:
        reader.click("button[data-preset=lung]")
    assert rendered.value.status == 200 and rendered.value.headers["content-type"] == "image/png"
    reader.wait_for_selector(".iv-info:has-text('-600 / 1500')")
    reader.wait_for_function(f"({CANVAS_JS})().mean !== {default_window['mean']}")
    lung_window = reader.evaluate(CANVAS_JS)
    assert lung_window["levels"] > 16, lung_window
    screenshot(reader, "ct-lung-window")

    # when the radiologist writes and signs the imaging report
    start_report(reader, "imaging")
    sign_report(reader, findings="双肺纹理清晰，未见明确实质性病变。", impression="胸部CT未见明显异常。")
    screenshot(reader, "signed")

    # then the report reaches the township console live, with a working PDF, and is acknowledged
    item = f"#reports li.unread:has-text('#{consultation.id}')"
    township.wait_for_selector(item, timeout=WORKER_S)
    pdf = township.wait_for_selector(f"{item} a:has-text('打开PDF')", timeout=WORKER_S)
    _assert_pdf(township, pdf.get_attribute("href"), key_images=[(128, 128)],  # CT_small.dcm's frame
                texts=["钱明", "双肺纹理清晰，未见明确实质性病变。", "胸部CT未见明显异常。"])
    township.click(f"{item} button:has-text('确认收到')")
    township.wait_for_selector("#reports li.acknowledged")
    assert study.consultation_id == consultation.id
    screenshot(township, "acknowledged")
    print(f"journey 3: {time.monotonic() - started:.1f} s")


# --- journey 4: referral ---------------------------------------------------------------------------------

@pytest.fixture
def green_channel_tomorrow(people, cardiology):
    """The expert's cardiology clinic tomorrow morning at the lead hospital, its last slot a green channel."""
    from scheduling.services.rosters import roster_create

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    return roster_create(by=people["coordinator"], expert_id=people["expert"].expert.pk, specialty_code="cardiology",
                         weekdays=[tomorrow.isoweekday()], start_time=dt.time(9), end_time=dt.time(10),
                         slot_minutes=20, capacity=3, valid_from=tomorrow, valid_until=tomorrow,
                         green_channel_slots=1)


def test_journey_4_referral_up_through_a_green_channel_and_back_down_with_follow_up_tasks(
        people, cardiology, green_channel_tomorrow, patient_factory, consultation_factory, open_page):
    from scheduling.models import Booking, FollowUpTask, Referral

    started = time.monotonic()
    doctor, expert = people["village_doctor"], people["expert"]
    # given a cardiology consultation of the village doctor's that the expert has taken
    patient = patient_factory(name="赵桂兰", home_clinic=doctor.organisation, health_record_no="HR-REF-0004")
    consultation = consultation_factory(patient=patient, requested_by=doctor, requesting_org=doctor.organisation,
                                        specialty=cardiology, urgency="urgent", reason="反复胸痛，心电图ST段压低",
                                        assigned_expert=expert.expert, state="assigned", assigned_at=timezone.now())
    village = open_page("village-console")
    login(village, doctor.username)
    _ready(village)
    village.wait_for_selector("#referrals li.muted")  # no referrals yet
    _no_reload_marker(village)

    # when the expert, on the reading page, recommends an upward referral
    reader = open_page("expert-reading")
    login(reader, expert.username, next=f"/read/{consultation.id}/")
    reader.wait_for_selector("body[data-ready=true]")
    reader.fill("#refer-up textarea[name=reason]", "疑似不稳定型心绞痛，建议上级医院冠脉造影")
    reader.click("#refer-up button[type=submit]")
    # then the lead hospital's green-channel slot is booked for the patient
    reader.wait_for_selector("#referral .status:has-text('已预约绿色通道号源')")
    referral = Referral.objects.select_related("booking__slot").get(consultation=consultation, direction="up")
    assert referral.booking.slot.kind == "green_channel" and referral.booking.patient_id == patient.id
    assert Booking.objects.get(pk=referral.booking_id).status == "booked"
    slot_time = timezone.localtime(referral.booking.slot.starts_at).strftime("%H:%M")
    # and the village console shows the upward referral live, with the hospital and the slot's time
    up = village.wait_for_selector(f"#referrals li.referral.up[data-id='{referral.id}']")
    assert "上转" in up.inner_text() and "赵桂兰" in up.inner_text() and "冠脉造影" in up.inner_text()
    assert people["expert"].organisation.name in up.inner_text() and slot_time in up.inner_text()
    village.wait_for_selector("#events li:has-text('患者已上转')")

    # when the expert later sends the patient back down with a follow-up plan
    reader.fill("#refer-down textarea[name=summary]", "冠脉造影示单支病变，已植入支架，病情稳定。")
    titles = reader.locator("#refer-down input[name=title]")
    titles.nth(0).fill("一周后复查心电图")
    titles.nth(1).fill("每日监测血压并记录")
    reader.click("#refer-down button[type=submit]")
    reader.wait_for_selector("#referral .status:has-text('已下转')")
    down = Referral.objects.get(consultation=consultation, direction="down")
    assert FollowUpTask.objects.filter(referral=down).count() == 2
    screenshot(reader, "referrals")

    # then the village console shows it with the follow-up tasks, live; the doctor receives it and completes one
    item = f"#referrals li.referral.down[data-id='{down.id}']"
    village.wait_for_selector(f"{item} .tasks li:has-text('一周后复查心电图')")
    village.click(f"{item} button:has-text('确认接收')")
    village.wait_for_selector(f"#referrals li.referral.down[data-id='{down.id}'][data-state=acknowledged]")
    village.click(f"{item} .tasks li:has-text('一周后复查心电图') button:has-text('完成')")
    village.wait_for_selector(f"{item} .tasks li.done:has-text('一周后复查心电图')")
    assert village.locator(f"{item} .tasks li:not(.done):has-text('每日监测血压')").count() == 1
    _still_same_page(village)
    assert set(FollowUpTask.objects.filter(referral=down).values_list("title", "state")) == {
        ("一周后复查心电图", "done"), ("每日监测血压并记录", "open")}
    screenshot(village, "follow-up-done")
    print(f"journey 4: {time.monotonic() - started:.1f} s")
