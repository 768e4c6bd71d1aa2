"""The pages against the real scheduling, studies and reports endpoints.

One pass through journey 1 from the pages' side: the village doctor uploads pydicom's 12-lead ECG
through tus, a real Celery worker ingests it, the expert reads it, writes and signs the report,
and the village doctor acknowledges it. Nothing is served from test JSON: a missing endpoint fails.
"""
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.utils import timezone

from tests.e2e.conftest import login, screenshot, sign_report, start_report

# The back ends these pages call: a route missing here is a failure, not a skip.
BACK_ENDS = ["/api/scheduling/worklist/", "/api/scheduling/slots/", "/api/uploads/", "/api/ecgs/1/",
             "/api/imaging-studies/1/", "/api/consultations/1/studies/", "/api/reports/templates/",
             "/api/reports/deliveries/pending/", "/api/reports/turnaround/"]


def test_every_back_end_the_pages_call_is_routed():
    from django.urls import Resolver404, resolve

    missing = []
    for url in BACK_ENDS:
        try:
            resolve(url)
        except Resolver404:
            missing.append(url)
    assert not missing, f"not routed: {missing}"


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.worker
def test_village_doctor_uploads_an_ecg_the_expert_signs_and_the_report_comes_back(
        people, cardiology, patient_factory, consultation_factory, celery_worker_process, open_page, tmp_path):
    from pydicom.data import get_testdata_file
    from studies.models import EcgRecord

    # given a consultation of the village doctor's, assigned to the cardiology expert
    doctor, expert = people["village_doctor"], people["expert"]
    patient = patient_factory(name="刘淑珍", home_clinic=doctor.organisation)
    consultation = consultation_factory(patient=patient, requested_by=doctor, specialty=cardiology, urgency="urgent",
                                        assigned_expert=expert.expert, state="assigned", assigned_at=timezone.now(),
                                        due_at=timezone.now() + dt.timedelta(hours=2))
    village = open_page("village-doctor")
    login(village, doctor.username)
    village.wait_for_selector("body[data-ready=true]")
    village.wait_for_selector("#socket-state[data-state=open]")

    # when the village doctor uploads the 12-lead ECG for it
    ecg_file = Path(get_testdata_file("waveform_ecg.dcm"))
    village.select_option("#upload-consultation", str(consultation.id))
    village.select_option("#upload-kind", "ecg")
    village.set_input_files("#upload-files", str(ecg_file))
    village.click("#upload-form button[type=submit]")
    village.wait_for_selector(".upload[data-state=ingested]", timeout=60000)
    # then the worker ingests it and the page hears so on its socket
    village.wait_for_selector(".upload .upload-state:has-text('已处理')", timeout=60000)
    ecg = EcgRecord.objects.get(consultation=consultation)
    screenshot(village, "uploaded")

    # when the expert opens the worklist and the reading page
    reader = open_page("expert")
    login(reader, expert.username)
    reader.wait_for_selector(f"#worklist tr[data-id='{consultation.id}']")
    reader.click(f"#worklist tr[data-id='{consultation.id}'] a:has-text('阅片')")
    reader.wait_for_selector("body[data-ready=true]")
    reader.wait_for_selector("#ecg[data-drawn-leads='12']")
    # then the computed preliminary statements stand beside the device's, labelled to be confirmed
    assert "RITMO SINUSALE" in reader.inner_text(".ecg-device-statements")
    assert "窦性心律 · Sinus rhythm" in reader.inner_text(".ecg-computed-statements")
    assert "待专家确认" in reader.inner_text(".ecg-computed-statements")
    # and starts the ECG report (prefilled from the measurements and statements), concludes and signs it
    start_report(reader, "ecg")
    assert reader.input_value("#report input[name=pr_ms]") == "161"
    assert reader.input_value("#report [name=rhythm]") == "窦性心律 Sinus rhythm"
    assert reader.input_value("#report [name=findings]").startswith("计算机初步判读")
    sign_report(reader, conclusion="窦性心律，心电图正常范围。")
    screenshot(reader, "signed")

    # then the report reaches the village clinic's page live, and the doctor acknowledges it
    village.wait_for_selector("#reports li.unread", timeout=60000)
    village.wait_for_selector("#reports li a:has-text('打开PDF')", timeout=60000)
    village.click("#reports li.unread button:has-text('确认收到')")
    village.wait_for_selector("#reports li.acknowledged")
    screenshot(village, "acknowledged")


def test_roster_quotas_calendar_and_booking_on_the_real_scheduling_back_end(people, cardiology, api,
                                                                             patient_factory, open_page):
    # given a roster of the expert's every day, 30 % of its slots reserved for grassroots clinics
    from scheduling.services.rosters import roster_create

    doctor, expert = people["village_doctor"], people["expert"]
    roster_create(by=people["coordinator"], expert_id=expert.expert.pk, specialty_code="cardiology",
                  weekdays=[1, 2, 3, 4, 5, 6, 7], start_time=dt.time(9), end_time=dt.time(11), slot_minutes=20,
                  capacity=6, valid_from=timezone.localdate(), reserved_share=30, release_hours=2)
    patient = patient_factory(name="孙立新", home_clinic=doctor.organisation)
    created = api(doctor).post("/api/consultations/", {"patient": patient.id, "specialty": "cardiology",
                                                       "mode": "live", "reason": "心悸一周"}, format="json")
    assert created.status_code == 201, created.content

    # when the coordinator (an admin here) opens their page, the roster and its sessions' quotas show
    admin = open_page("admin")
    login(admin, people["admin"].username)
    admin.wait_for_selector("body[data-ready=true]")
    assert "30%" in admin.inner_text("#rosters")
    assert admin.locator("#sessions .quota .reserved").count() >= 7
    admin.wait_for_selector("#turnaround-status:has-text('近 30 天')")
    screenshot(admin, "coordinator")

    # when the expert opens the workstation in the hour before the roster's first session (the page's
    # clock: the calendar shows the page's week, and on a Sunday evening no session is left in the real one)
    from scheduling.models import CloudClinicSession

    first = CloudClinicSession.objects.filter(expert=expert.expert).order_by("starts_at").first()
    reader = open_page("expert")
    reader.clock.install(time=first.starts_at - dt.timedelta(hours=1))
    login(reader, expert.username)
    reader.wait_for_selector("body[data-ready=true]")
    # then that session is on the week's calendar, on its day, at 09:00-11:00 (the service's zone), 0 of 6 booked
    day = first.starts_at.astimezone(timezone.get_default_timezone()).date().isoformat()
    session = reader.wait_for_selector(f"#calendar .day[data-date='{day}'] .session")
    assert "09:00" in session.inner_text() and "0/6" in session.inner_text(), session.inner_text()
    screenshot(reader, "workstation")

    # when the village doctor books a reserved slot for the live consultation
    village = open_page("village-doctor")
    login(village, doctor.username)
    village.wait_for_selector("body[data-ready=true]")
    village.select_option("#booking-consultation", str(created.data["id"]))
    village.click("#slots button.slot.reserved >> nth=0")
    village.wait_for_selector("#booking-status:has-text('已预约')")
    # then the booking is stored for the patient and the consultation
    from scheduling.models import Booking

    booking = Booking.objects.get(consultation_id=created.data["id"])
    assert booking.patient_id == patient.id and booking.slot.is_reserved
    screenshot(village, "booked")


@pytest.mark.worker
def test_image_viewer_on_real_rendered_frames(people, cardiology, patient_factory, consultation_factory,
                                              celery_worker_process, open_page):
    from pydicom.data import get_testdata_file
    from studies.models import ImagingStudy

    # given a CT image uploaded by the village doctor for a consultation assigned to the expert
    doctor, expert = people["village_doctor"], people["expert"]
    patient = patient_factory(name="钱明", home_clinic=doctor.organisation)
    consultation = consultation_factory(patient=patient, requested_by=doctor, specialty=cardiology,
                                        assigned_expert=expert.expert, state="assigned")
    village = open_page("village-doctor")
    login(village, doctor.username)
    village.wait_for_selector("body[data-ready=true]")
    village.select_option("#upload-consultation", str(consultation.id))
    village.select_option("#upload-kind", "dicom")
    village.set_input_files("#upload-files", get_testdata_file("CT_small.dcm"))
    village.click("#upload-form button[type=submit]")
    village.wait_for_selector(".upload .upload-state:has-text('已处理')", timeout=60000)
    study = ImagingStudy.objects.get(consultation=consultation)

    # when the expert opens it, the server renders the frame; a preset re-renders it with that window
    reader = open_page("expert")
    login(reader, expert.username, next=f"/read/{consultation.id}/")
    reader.wait_for_selector("body[data-ready=true]")
    reader.wait_for_selector(".iv-info:has-text('1/1')")
    with reader.expect_response(lambda r: "/rendered/" in r.url and "window_center=-600" in r.url) as rendered:
        reader.click("button[data-preset=lung]")
    assert rendered.value.status == 200 and rendered.value.headers["content-type"] == "image/png"
    reader.wait_for_selector(".iv-info:has-text('-600 / 1500')")
    screenshot(reader, "ct")


def test_the_coordinator_sees_a_case_escalated_while_the_page_is_open(people, cardiology, patient_factory,
                                                                      consultation_factory, open_page):
    # given the coordinator's page open, its socket live, no escalations
    page = open_page("coordinator")
    login(page, people["coordinator"].username)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#socket-state[data-state=open]")
    assert page.inner_text("#escalations") == "暂无上报。"
    # when a stat case of a village clinic of the community finds no expert on duty and is escalated
    patient = patient_factory(name="何桂兰", home_clinic=people["village_doctor"].organisation)
    consultation = consultation_factory(patient=patient, requested_by=people["village_doctor"], specialty=cardiology,
                                        requesting_org=people["village_doctor"].organisation, urgency="stat",
                                        state="offered")
    # (from another thread, as a Celery task or a request would: Playwright's loop runs on this one)
    with ThreadPoolExecutor(1) as thread:
        thread.submit(_escalate_in_thread, consultation.pk).result(timeout=30)
    # then it appears in the escalations list without a reload, marked stat, with the patient's name
    item = page.wait_for_selector(f"#escalations li:has-text('#{consultation.pk} 何桂兰')", timeout=15000)
    assert "urgency-stat" in item.get_attribute("class")
    assert "心血管内科" in item.inner_text() and "危急" in item.inner_text()
    # and it offers the community's cardiologists to give it to, with their load
    options = f"#escalations li[data-id='{consultation.pk}'] select option[data-declined]"
    page.wait_for_selector(options, state="attached")
    assert page.locator(options).count() == 2 and "不在岗 · 0/" in page.inner_text(options)
    # (nobody preselected: the choice is the coordinator's)
    assert page.input_value(f"#escalations li[data-id='{consultation.pk}'] select") == ""
    screenshot(page, "coordinator-escalation")
    # when the coordinator gives it to the second cardiologist
    chosen = people["other_expert"]
    page.select_option(f"#escalations li[data-id='{consultation.pk}'] select", str(chosen.expert.pk))
    page.click(f"#escalations li[data-id='{consultation.pk}'] button:has-text('指派')")
    # then the page says so, the case leaves the list, and the expert holds it
    page.wait_for_selector(f"#escalations-status:has-text('已指派给 {chosen}')")
    page.wait_for_selector("#escalations li:has-text('暂无上报。')")
    consultation.refresh_from_db()
    assert consultation.state == "assigned" and consultation.assigned_expert_id == chosen.expert.pk


def _escalate_in_thread(consultation_id: int) -> None:
    from django.db import connection

    from scheduling.services.assignments import consultation_escalate

    try:
        consultation_escalate(consultation_id=consultation_id, reason="no_expert_available")
    finally:
        connection.close()
