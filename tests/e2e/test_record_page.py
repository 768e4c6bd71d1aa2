"""The patient record page and the reader's priors in Chromium, on the real back end (no routed JSON).

A patient of village A1 with two consultations in two clinics (an ECG at the village, a CT at the
township centre above it), two signed reports, and a new cardiology case assigned to the expert
with an ECG of its own. Stored through the studies app's own ingest; times fixed in the past, the
pages' clock frozen.
"""
import datetime as dt

import numpy as np
import pytest
from django.db import transaction

from consult.models import Consultation
from records.demo import demo_ct_slices
from studies.formats.ecg.model import Ecg
from studies.models import EcgRecord, ImagingStudy
from studies.services.ingest import Source, ecg_measure, ecg_signal_store, ingest_dicom_batch
from studies.services.storage import files_or_nothing
from tests.e2e.conftest import login, outside_the_browser_loop, screenshot, wait_for_js
from tests.factories import ConsultationFactory, PatientFactory, SpecialtyFactory
from tests.records.conftest import T0, backdate, make_version
from tests.studies.ecgfiles import reference_ecg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGE_NOW = T0 + dt.timedelta(days=10)


def _ecg(by, consultation, created_at) -> EcgRecord:
    once = reference_ecg()
    ecg = Ecg(leads={k: np.asarray(v) for k, v in once.leads.items()}, sampling_rate=once.sampling_rate,
              source_format="csv")
    with files_or_nothing() as files, transaction.atomic():
        record = ecg_signal_store(parsed=ecg_measure(ecg), files=files, source=Source(
            by=by, organisation=by.organisation, consultation=consultation, patient=consultation.patient))
    backdate(record, created_at=created_at)
    return record


def _build(people, community, cardiology):
    radiology = SpecialtyFactory(code="radiology", name="放射科")
    vdoc, tdoc, expert = people["village_doctor"], people["township_doctor"], people["expert"]
    patient = PatientFactory(home_clinic=community.village_a1, name="孙秀兰", id_number="430521195603141234",
                             health_record_no="HR-REC-1")
    first = ConsultationFactory(patient=patient, requesting_org=community.village_a1, requested_by=vdoc,
                                specialty=cardiology, state=Consultation.State.CLOSED, assigned_expert=expert.expert,
                                reason="活动后胸闷")
    ecg = _ecg(vdoc, first, T0 + dt.timedelta(hours=1))
    second = ConsultationFactory(patient=patient, requesting_org=community.township_a, requested_by=tdoc,
                                 specialty=radiology, state=Consultation.State.REPORTED, assigned_expert=expert.expert,
                                 reason="咳嗽两周")
    results = ingest_dicom_batch(datas=demo_ct_slices(patient, n=3, size=64), source=Source(
        by=tdoc, organisation=community.township_a, consultation=second, patient=patient))
    assert not [r for r in results if isinstance(r, Exception)], results
    ct = ImagingStudy.objects.get(consultation=second)
    backdate(ct, created_at=T0 + dt.timedelta(days=3, hours=1))
    ecg_report = make_version(first, "ecg", 1, T0 + dt.timedelta(hours=4), expert,
                              {"conclusion": "窦性心律 Sinus rhythm"})
    ct_report = make_version(second, "imaging", 1, T0 + dt.timedelta(days=3, hours=5), expert,
                             {"impression": "右下肺炎症可能"})
    backdate(first, created_at=T0, updated_at=T0 + dt.timedelta(hours=5))
    backdate(second, created_at=T0 + dt.timedelta(days=3))
    new = ConsultationFactory(patient=patient, requesting_org=community.village_a1, requested_by=vdoc,
                              specialty=cardiology, state=Consultation.State.IN_PROGRESS,
                              assigned_expert=expert.expert, reason="胸闷复发")
    new_ecg = _ecg(vdoc, new, T0 + dt.timedelta(days=9, hours=1))
    backdate(new, created_at=T0 + dt.timedelta(days=9))
    return dict(patient=patient, first=first, second=second, ecg=ecg, ct=ct, ecg_report=ecg_report,
                ct_report=ct_report, new=new, new_ecg=new_ecg)


@pytest.fixture
def record(people, community, cardiology):
    return outside_the_browser_loop(_build, people=people, community=community, cardiology=cardiology)


def test_the_village_doctor_reads_the_record_across_clinics_and_opens_each_item(people, record, open_page):
    page = open_page("record")
    page.clock.install(time=PAGE_NOW)
    login(page, people["village_doctor"].username, next=f"/patients/{record['patient'].pk}/record/")
    page.wait_for_selector("body[data-ready=true]")
    assert "4305**********1234" in page.inner_text("#identity")
    assert "430521195603141234" not in page.content()
    shown = page.eval_on_selector_all("#timeline > li", "items => items.map(li => `${li.dataset.kind}:${li.dataset.id}`)")
    r = record
    assert shown == [f"ecg:{r['new_ecg'].pk}", f"consultation:{r['new'].pk}", f"report:{r['ct_report'].pk}",
                     f"imaging:{r['ct'].pk}", f"consultation:{r['second'].pk}", f"report:{r['ecg_report'].pk}",
                     f"ecg:{r['ecg'].pk}", f"consultation:{r['first'].pk}"]
    second = page.inner_text(f"#timeline li[data-kind=consultation][data-id='{r['second'].pk}']")
    assert "城关镇卫生院" in second and "已出报告" in second  # the township's case, its state, in Chinese
    pdf = page.get_attribute(f"#timeline li[data-kind=report][data-id='{r['ecg_report'].pk}'] a.open", "href")
    assert pdf == f"/api/reports/{r['ecg_report'].report_id}/versions/1/pdf/"

    # the first ECG opens in the ECG viewer, the CT in the image viewer
    page.click(f"#timeline li[data-kind=ecg][data-id='{r['ecg'].pk}'] button.open")
    page.wait_for_selector(f"#viewer[data-item='ecg:{r['ecg'].pk}']")
    assert page.is_visible("#ecg-panel")
    wait_for_js(page, "Number(document.querySelector('#ecg').dataset.drawnLeads) === 12")  # all 12 leads drawn
    page.click(f"#timeline li[data-kind=imaging][data-id='{r['ct'].pk}'] button.open")
    page.wait_for_selector(f"#viewer[data-item='imaging:{r['ct'].pk}']")
    assert page.is_visible("#image-panel") and not page.is_visible("#ecg-panel")

    # filtered to reports only, by the form
    for kind in ("consultation", "ecg", "imaging", "photo", "referral", "followup"):
        page.uncheck(f"#record-filter input[value={kind}]")
    page.click("#record-filter button[type=submit]")
    wait_for_js(page, "document.querySelectorAll('#timeline > li[data-kind=report]').length === 2 && "
                      "document.querySelectorAll('#timeline > li').length === 2")
    screenshot(page, "record-reports")


def test_the_expert_sees_the_prior_ecg_on_the_reading_page(people, record, open_page):
    page = open_page("reading")
    page.clock.install(time=PAGE_NOW)
    login(page, people["expert"].username, next=f"/read/{record['new'].pk}/")
    page.wait_for_selector("body[data-ready=true]")
    prior = f"#priors li[data-kind=ecg][data-id='{record['ecg'].pk}']"
    page.wait_for_selector(prior)
    # only ECG priors for an ECG case: the CT is not offered
    assert page.locator("#priors li[data-kind=imaging]").count() == 0
    page.click(f"{prior} button")
    page.wait_for_selector(f"#study-tabs[data-showing='prior:ecg:{record['ecg'].pk}']")
    assert page.is_visible("#ecg-panel")
    wait_for_js(page, "Number(document.querySelector('#ecg').dataset.drawnLeads) === 12")
    assert page.get_attribute("#record-link", "href") == f"/patients/{record['patient'].pk}/record/"
    screenshot(page, "reading-prior")
