"""Two flows of the patient record in Chromium, on the real back end (no routed JSON), on one moved clock:

- results recognised (检查结果互认): a new cardiology consultation at the console is told "an ECG from 3 days
  ago exists", the doctor attaches it instead of repeating it, and the expert reads it in that consultation;
- break-glass (紧急调阅): a doctor out of reach is asked for a reason, the record opens, and the coordinator's
  page (already open) lists the read.

The whole stack (this module's Daphne, the test, the pages) runs on tests/frontend's clocked stack, so the
ECG's "3 days ago" is the same whatever day or hour the suite runs.
"""
import datetime as dt

import pytest

from consult.models import Consultation
from records.models import AttachedStudy, BreakGlassGrant
from tests.e2e.conftest import login, outside_the_browser_loop, screenshot, wait_for_js
from tests.e2e.test_record_page import _ecg
from tests.factories import ConsultationFactory, PatientFactory
from tests.frontend import clocked
from tests.frontend.conftest import clocked_stack, stack_clock  # noqa: F401 (fixtures of this module's stack)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stack_clock")]
live_daphne, open_page = clocked.live_daphne, clocked.open_page


def _patient_with_an_ecg_3_days_ago(people, community, cardiology):
    vdoc = people["village_doctor"]
    patient = PatientFactory(home_clinic=community.village_a1, name="周桂芳", health_record_no="HR-REC-2")
    earlier = ConsultationFactory(patient=patient, requesting_org=community.village_a1, requested_by=vdoc,
                                  specialty=cardiology, state=Consultation.State.CLOSED,
                                  assigned_expert=people["expert"].expert, reason="心悸")
    ecg = _ecg(vdoc, earlier, dt.datetime.now(dt.UTC) - dt.timedelta(days=3, hours=2))
    return patient, ecg


def test_the_doctor_attaches_a_recent_ecg_instead_of_repeating_it_and_the_expert_reads_it(
        people, community, cardiology, open_page):
    patient, ecg = outside_the_browser_loop(_patient_with_an_ecg_3_days_ago, people=people, community=community,
                                            cardiology=cardiology)
    page = open_page("console")
    login(page, people["village_doctor"].username)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#patient-q", "周桂芳")
    page.click("#patient-search button[type=submit]")
    page.click("#patient-results button.link")
    page.select_option("#consult-specialty", "cardiology")
    page.fill("#consult-form textarea[name=reason]", "胸闷三天")
    page.click("#consult-form button[type=submit]")

    # the console points out the ECG of 3 days ago for the new consultation
    offered = page.wait_for_selector(f"#recognised-list li[data-kind=ecg][data-id='{ecg.pk}']")
    assert "已有3 天前的心电图" in offered.inner_text()
    new = Consultation.objects.filter(patient=patient).exclude(pk=ecg.consultation_id).get()
    assert page.get_attribute("#recognised", "data-consultation") == str(new.pk)
    offered.query_selector("button").click()
    page.wait_for_selector(f"#recognised-list li[data-id='{ecg.pk}'] .status:has-text('已引用到会诊 #{new.pk}')")
    attached = AttachedStudy.objects.get(consultation=new)
    assert (attached.ecg_id, attached.attached_by_id) == (ecg.pk, people["village_doctor"].pk)
    assert ecg.consultation_id != new.pk  # the study keeps its first consultation
    screenshot(page, "attached")

    # when an expert takes the case, the attached ECG is part of it on the reading page
    Consultation.objects.filter(pk=new.pk).update(state=Consultation.State.ASSIGNED,
                                                  assigned_expert=people["expert"].expert)
    reader = open_page("reading")
    login(reader, people["expert"].username, next=f"/read/{new.pk}/")
    reader.wait_for_selector("body[data-ready=true]")
    shown = reader.wait_for_selector(f"#priors li[data-kind=ecg][data-id='{ecg.pk}'][data-attached=true]")
    assert "从病历引用" in shown.inner_text()
    shown.query_selector("button").click()
    reader.wait_for_selector(f"#study-tabs[data-showing='ecg:{ecg.pk}']")
    assert reader.is_visible("#ecg-panel")
    wait_for_js(reader, "Number(document.querySelector('#ecg').dataset.drawnLeads) === 12")


def test_a_break_glass_read_asks_for_a_reason_opens_the_record_and_is_flagged_to_the_coordinator(
        people, community, cardiology, open_page):
    patient, ecg = outside_the_browser_loop(_patient_with_an_ecg_3_days_ago, people=people, community=community,
                                            cardiology=cardiology)
    coordinator = open_page("coordinator")
    login(coordinator, people["coordinator"].username)
    coordinator.wait_for_selector("body[data-ready=true]")
    coordinator.wait_for_selector("#break-glass-reads li.muted:has-text('没有紧急调阅。')")
    coordinator.wait_for_selector("#socket-state[data-state=open]")

    # a doctor of another village (out of reach) opens the patient's record: not in reach, break-glass offered
    doctor = open_page("doctor")
    doctor.console_errors.allow(r"status of 404 .*/api/records/patients/\d+/timeline/")  # out of reach, as meant
    doctor.console_errors.allow(r"status of 400 .*/api/records/patients/\d+/break-glass/")  # the blank reason
    login(doctor, people["other_village_doctor"].username, next=f"/patients/{patient.pk}/record/")
    doctor.wait_for_selector("#break-glass:not([hidden])")
    assert doctor.inner_text("#page-status") == "该患者的病历不在您的调阅范围内。"
    assert doctor.locator("#timeline > li").count() == 0
    # no reason: the form does not go; blanks only: the server refuses and says why
    doctor.click("#break-glass-form button[type=submit]")
    doctor.fill("#break-glass-form textarea[name=reason]", "    ")
    doctor.click("#break-glass-form button[type=submit]")
    doctor.wait_for_selector("#break-glass-status.error")
    assert not BreakGlassGrant.objects.exists()

    doctor.fill("#break-glass-form textarea[name=reason]", "患者昏迷送至本村卫生室，需查既往心电图")
    doctor.click("#break-glass-form button[type=submit]")
    doctor.wait_for_selector(f"#timeline li[data-kind=ecg][data-id='{ecg.pk}']")
    assert doctor.is_hidden("#break-glass")
    # the reader is told, above the record, that this is an emergency read and until when
    assert doctor.inner_text("#page-status").startswith("已紧急调阅：协调员已收到通知。 有效至 ")
    assert "周桂芳" in doctor.inner_text("#identity")
    grant = BreakGlassGrant.objects.get()
    assert (grant.user_id, grant.patient_id) == (people["other_village_doctor"].pk, patient.pk)

    # the coordinator's open page lists it at once (pushed), with who, whose record and why
    flagged = coordinator.wait_for_selector(f"#break-glass-reads li[data-id='{grant.pk}']")
    text = flagged.inner_text()
    assert str(people["other_village_doctor"]) in text and "周桂芳" in text and "需查既往心电图" in text
    assert flagged.query_selector("a").get_attribute("href") == f"/patients/{patient.pk}/record/"
    screenshot(coordinator, "break-glass-flagged")
