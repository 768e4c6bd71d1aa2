"""Serial comparison on the expert's reading page in Chromium, on the real back end (issue 15).

The patient's first ECG is pydicom's real 12-lead (sinus rhythm); the current one, a month later, is
atrial fibrillation with a rapid rate built from that record's own beats (tests/formats/rhythm_samples).
Both go through the studies app's own store and analysis. The reading page shows the previous ECG
under the current one on the same paper, the differences in rate, PR, QRS, QTc and axis, and the
statements new and gone; the paper switches of the current ECG move both.
"""
import datetime as dt

import numpy as np
import pytest
from django.db import transaction

from consult.models import Consultation
from studies.formats.ecg.measure import r_peaks
from studies.formats.ecg.model import Ecg
from studies.models import EcgRecord
from studies.services.ingest import Source, ecg_measure, ecg_signal_store
from studies.services.storage import files_or_nothing
from tests.e2e.conftest import login, outside_the_browser_loop, screenshot
from tests.factories import ConsultationFactory, PatientFactory
from tests.formats.rhythm_samples import beat_parts, synthesize
from tests.records.conftest import T0, backdate
from tests.studies.ecgfiles import reference_ecg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGE_NOW = T0 + dt.timedelta(days=30, hours=2)


def _fast_af() -> Ecg:
    ecg = reference_ecg()
    _, rpeaks = r_peaks(ecg.leads["II"].astype(float), ecg.sampling_rate)
    parts = beat_parts(ecg, rpeaks)
    rng = np.random.default_rng(4)
    times = [t for t in 0.4 + np.cumsum(rng.uniform(0.33, 0.62, 40)) if t < 9.4]
    return synthesize(parts, seconds=10.0, qrst_beats=[(t, parts.qrst) for t in times], fibrillation=True, seed=4)


def _store(by, consultation, ecg: Ecg, created_at) -> EcgRecord:
    with files_or_nothing() as files, transaction.atomic():
        record = ecg_signal_store(parsed=ecg_measure(ecg, patient=consultation.patient), files=files, source=Source(
            by=by, organisation=by.organisation, consultation=consultation, patient=consultation.patient))
    backdate(record, created_at=created_at)
    return record


def _build(people, community, cardiology):
    vdoc, expert = people["village_doctor"], people["expert"]
    patient = PatientFactory(home_clinic=community.village_a1, name="孙秀兰", sex="F")
    first = ConsultationFactory(patient=patient, requesting_org=community.village_a1, requested_by=vdoc,
                                specialty=cardiology, state=Consultation.State.CLOSED, assigned_expert=expert.expert)
    sinus = reference_ecg()
    old = _store(vdoc, first, Ecg(leads=dict(sinus.leads), sampling_rate=sinus.sampling_rate, source_format="csv"),
                 T0 + dt.timedelta(hours=1))
    backdate(first, created_at=T0, updated_at=T0 + dt.timedelta(hours=5))
    new = ConsultationFactory(patient=patient, requesting_org=community.village_a1, requested_by=vdoc,
                              specialty=cardiology, state=Consultation.State.IN_PROGRESS,
                              assigned_expert=expert.expert, reason="心悸一天")
    current = _store(vdoc, new, _fast_af(), T0 + dt.timedelta(days=30, hours=1))
    backdate(new, created_at=T0 + dt.timedelta(days=30))
    return dict(first=first, new=new, old=old, current=current)


@pytest.fixture
def serial(people, community, cardiology):
    return outside_the_browser_loop(_build, people=people, community=community, cardiology=cardiology)


def _reader(open_page, people, consultation):
    page = open_page("expert", viewport={"width": 1440, "height": 900})
    page.clock.install(time=PAGE_NOW)
    login(page, people["expert"].username, next=f"/read/{consultation.pk}/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#ecg[data-drawn-leads='12']")
    return page


def _paper(page, selector: str) -> dict:
    return page.evaluate("""(sel) => { const v = document.querySelector(sel); const c = v.querySelector('canvas.ecg-paper');
      const r = c.getBoundingClientRect();
      return { gain: v.dataset.gain, speed: v.dataset.speed, zoom: v.dataset.zoom, leads: v.dataset.drawnLeads,
               left: r.left, top: r.top, bottom: r.bottom, width: r.width, height: r.height }; }""", selector)


def test_the_expert_sees_the_previous_ecg_beside_the_current_with_what_changed(serial, people, open_page):
    current, old = serial["current"], serial["old"]
    assert "af_rvr" in [s["code"] for s in current.computed_statements]
    assert "sinus_rhythm" in [s["code"] for s in old.computed_statements]
    page = _reader(open_page, people, serial["new"])
    # the comparison of the current ECG with the patient's previous one
    page.wait_for_selector(f"#serial[data-current='{current.pk}'][data-prior='{old.pk}']")
    page.wait_for_selector("#ecg-prior[data-drawn-leads='12']")
    assert page.is_visible("#serial")
    assert "2026-03-02" in page.inner_text("#serial-when") or "03-02" in page.inner_text("#serial-when")
    # on the same paper: the same gain, speed and zoom, the same size, the same leads; under the current one
    now, before = _paper(page, "#ecg"), _paper(page, "#ecg-prior")
    assert (now["gain"], now["speed"], now["zoom"], now["leads"]) == ("10", "25", "1", "12")
    assert (before["gain"], before["speed"], before["zoom"], before["leads"]) == ("10", "25", "1", "12")
    assert (before["width"], before["height"], before["left"]) == (now["width"], now["height"], now["left"])
    assert before["top"] > now["bottom"]
    # the differences, as the API computes them from the two stored analyses
    rate = page.locator("#serial-measurements tr[data-key=heart_rate_bpm] td")
    now_rate, old_rate = current.computed_measurements["heart_rate_bpm"], old.computed_measurements["heart_rate_bpm"]
    assert rate.nth(0).inner_text() == f"{round(now_rate)} /min"
    assert rate.nth(1).inner_text() == f"{round(old_rate)} /min"
    assert rate.nth(2).inner_text() == f"+{round(now_rate - old_rate)} /min"
    for key in ("qrs_ms", "qtc_ms", "qrs_axis_deg"):
        assert page.locator(f"#serial-measurements tr[data-key={key}] td").count() == 3
    # PR does not apply in atrial fibrillation: said so, no difference stated
    pr = page.locator("#serial-measurements tr[data-key=pr_ms] td")
    assert pr.nth(0).inner_text() == "不适用"
    assert pr.nth(1).inner_text() == f"{round(old.computed_measurements['pr_ms'])} ms"
    assert pr.nth(2).inner_text() == "—"
    # the statements that changed: AF with a rapid rate new, sinus rhythm gone
    assert "心房颤动" in page.inner_text("#serial-statements .serial-new")
    assert page.locator("#serial-statements .serial-new li[data-code=af_rvr]").count() == 1
    assert page.locator("#serial-statements .serial-gone li[data-code=sinus_rhythm]").count() == 1
    screenshot(page, "serial-comparison")

    # when the expert switches the paper of the current ECG, the previous one follows
    page.click("#ecg [data-switch=Speed] button[data-value='50']")
    page.click("#ecg [data-switch=Gain] button[data-value='20']")
    page.wait_for_selector("#ecg-prior[data-speed='50'][data-gain='20']")
    now, before = _paper(page, "#ecg"), _paper(page, "#ecg-prior")
    assert (before["width"], before["height"]) == (now["width"], now["height"])
    # the previous ECG has no switches of its own
    assert not page.is_visible("#ecg-prior .ecg-toolbar")


def test_the_first_ecg_of_the_patient_shows_no_comparison(serial, people, open_page):
    page = _reader(open_page, people, serial["first"])
    page.wait_for_selector(f"#serial[data-current='{serial['old'].pk}'][data-prior=none]", state="attached")
    assert not page.is_visible("#serial")
