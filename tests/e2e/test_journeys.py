"""The four journeys of DESIGN.md, end to end in a real browser: one test each, one browser context per person.

Everything past the test's own setup (people, a patient, an on-call shift or a roster, as a
coordinator would have made them) goes through the pages and the real back ends: Daphne on the
test database, a real Celery worker for ingest and report delivery, the notification socket.
"""
import datetime as dt
import time

import pytest
from django.utils import timezone

from tests.e2e.conftest import login, screenshot

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


def _assert_pdf(page, href: str) -> None:
    response = page.request.get(href)
    assert response.status == 200, response.text()[:300]
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body()[:5] == b"%PDF-"


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
    assert village.input_value("#upload-consultation") == str(consultation.id)
    # and uploads pydicom's 12-lead ECG through the console's upload panel
    village.select_option("#upload-kind", "ecg")
    village.set_input_files("#upload-files", get_testdata_file("waveform_ecg.dcm"))
    village.click("#upload-form button[type=submit]")
    village.wait_for_selector(".upload[data-state=done]", timeout=WORKER_S)
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
    reader.click("#report button[data-start=ecg]")
    reader.wait_for_selector("#report[data-state=draft]")
    assert reader.input_value("#report input[name=pr_ms]") == "161"
    reader.fill("#report textarea[name=conclusion]", "窦性心律，心电图正常范围。")
    reader.wait_for_selector("#report .status:has-text('已于')")
    reader.click("#report button:has-text('签发')")
    reader.wait_for_selector("#report[data-state=signed]")
    screenshot(reader, "signed")

    # then the report arrives on the village console live (no reload), its PDF opens, and the doctor acknowledges
    _no_reload_marker(village)
    report = village.wait_for_selector(f"#reports li.unread:has-text('#{consultation.id}')", timeout=WORKER_S)
    assert "刘淑珍" in report.inner_text()
    pdf = village.wait_for_selector("#reports li.unread a:has-text('打开PDF')", timeout=WORKER_S)
    _assert_pdf(village, pdf.get_attribute("href"))
    village.click("#reports li.unread button:has-text('确认收到')")
    village.wait_for_selector("#reports li.acknowledged")
    _still_same_page(village)
    from reports.models import Delivery

    assert Delivery.objects.filter(version__report__consultation=consultation, acknowledged_at__isnull=False).exists()
    screenshot(village, "acknowledged")
    print(f"journey 1: {time.monotonic() - started:.1f} s")
