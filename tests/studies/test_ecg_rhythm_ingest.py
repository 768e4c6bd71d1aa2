"""Rhythm statements through the real upload and ingest path: stored with the record, served by the API
beside the device's statements, prefilled into the report draft; a critical rhythm raises the case to stat."""
import numpy as np
import pytest

from audit.models import AuditEvent
from consult.models import Consultation, Urgency
from studies.formats.ecg.measure import r_peaks
from studies.models import EcgRecord
from studies.services.ingest import ingest_upload
from tests.formats.formats_samples import make_csv, make_wfdb_zip
from tests.formats.rhythm_samples import beat_parts, pvc_shape, regular, synthesize
from tests.reports.realdata import stored_real_ecg_ref
from tests.studies.conftest import sample_bytes, upload_id_of
from tests.studies.ecgfiles import reference_ecg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture(scope="module")
def parts():
    ecg = reference_ecg()
    _, rpeaks = r_peaks(ecg.leads["II"].astype(float), ecg.sampling_rate)
    return beat_parts(ecg, rpeaks)


@pytest.fixture
def doctor(people):
    return people["village_doctor"]


@pytest.fixture
def consultation(consultation_factory, community, people, cardiology):
    return consultation_factory(patient__home_clinic=community.village_a1, requested_by=people["village_doctor"],
                                specialty=cardiology)


def upload_and_ingest(tus_client, user, data: bytes, **metadata):
    return ingest_upload(upload_id=upload_id_of(tus_client(user).send(data, **metadata)))


def fast_af(parts):
    rng = np.random.default_rng(4)
    times = [t for t in 0.4 + np.cumsum(rng.uniform(0.33, 0.62, 40)) if t < 9.4]
    return synthesize(parts, seconds=10.0, qrst_beats=[(t, parts.qrst) for t in times], fibrillation=True, seed=4)


def vt_run(parts):
    before, after = regular(0.5, 70, 4.0), regular(6.5, 70, 10.0)
    wide = pvc_shape(parts)
    return synthesize(parts, seconds=10.0, p_times=before + after,
                      qrst_beats=[(t, parts.qrst) for t in before + after]
                      + [(t, wide) for t in np.arange(4.0, 5.75, 0.35)])


def test_af_with_rvr_as_csv_raises_the_consultation_to_stat_with_statements_and_no_pr(
        parts, tus_client, doctor, consultation, api, django_capture_on_commit_callbacks):
    # given a routine consultation and an AF ECG at ~125/min sent as a plain CSV (no device statements)
    assert consultation.urgency != Urgency.STAT
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_and_ingest(tus_client, doctor, make_csv(fast_af(parts)), consultation=consultation.pk,
                                   kind="ecg")
    # then the record holds the computed statements, the PR is withheld and the case is stat
    assert upload.state == "ingested", upload.error_message
    ecg = EcgRecord.objects.get()
    assert [s["code"] for s in ecg.computed_statements] == ["af_rvr"]
    assert ecg.computed_statements[0]["zh"] == "心房颤动伴快速心室率" and ecg.computed_statements[0]["source"] == "computed"
    assert ecg.computed_measurements["pr_ms"] is None and "pr_ms" in ecg.computed_measurements["withheld"]
    assert "af_rvr" in [f["code"] for f in ecg.critical_findings]
    assert Consultation.objects.get(pk=consultation.pk).urgency == Urgency.STAT
    raised = [e for e in AuditEvent.objects.filter(object_type="Consultation", action="update")
              if e.detail.get("urgency", [None, None])[1] == Urgency.STAT]
    assert len(raised) == 1 and "af_rvr" in raised[0].detail["findings"]
    # and the API serves them beside the (empty) device statements
    body = api(doctor).get(f"/api/ecgs/{ecg.pk}/").json()
    assert body["device_measurements"]["statements"] == []
    assert body["computed_measurements"]["statements"][0]["en"] == "Atrial fibrillation with rapid ventricular response"
    assert body["computed_measurements"]["values"]["pr_ms"] is None


def test_a_vt_run_in_a_wfdb_record_raises_the_consultation_to_stat(parts, tus_client, doctor, consultation):
    upload = upload_and_ingest(tus_client, doctor, make_wfdb_zip(vt_run(parts)), consultation=consultation.pk,
                               kind="ecg")
    assert upload.state == "ingested", upload.error_message
    ecg = EcgRecord.objects.get()
    assert "vt_run" in [s["code"] for s in ecg.computed_statements]
    assert "vt_run" in [f["code"] for f in ecg.critical_findings]
    assert Consultation.objects.get(pk=consultation.pk).urgency == Urgency.STAT


def test_the_real_dicom_12_lead_gets_sinus_rhythm_beside_its_device_statements_and_stays_routine(
        tus_client, doctor, consultation, api):
    upload = upload_and_ingest(tus_client, doctor, sample_bytes("waveform_ecg.dcm"), consultation=consultation.pk)
    assert upload.state == "ingested", upload.error_message
    body = api(doctor).get(f"/api/ecgs/{EcgRecord.objects.get().pk}/").json()
    assert body["device_measurements"]["statements"][0] == "RITMO SINUSALE"
    assert [s["zh"] for s in body["computed_measurements"]["statements"]] == ["窦性心律"]
    assert body["computed_measurements"]["values"]["pr_ms"] is not None
    assert Consultation.objects.get(pk=consultation.pk).urgency == Urgency.ROUTINE


def test_the_report_draft_is_prefilled_with_the_computed_statements(api, people, consultation_factory, community,
                                                                     cardiology):
    expert = people["expert"]
    consultation = consultation_factory(patient__home_clinic=community.village_a1, specialty=cardiology,
                                        requested_by=people["village_doctor"], assigned_expert=expert.expert,
                                        state=Consultation.State.ASSIGNED)
    response = api(expert).post(f"/api/consultations/{consultation.pk}/reports/", {
        "kind": "ecg", "study_ref": stored_real_ecg_ref(consultation), "measurements": {"heart_rate_bpm": 124.6},
        "statements": ["心房颤动伴快速心室率 Atrial fibrillation with rapid ventricular response",
                       "室性早搏 ×2 Premature ventricular complexes ×2"]}, format="json")
    assert response.status_code == 201, response.content
    draft = response.json()["draft"]
    assert draft["rhythm"] == "心房颤动伴快速心室率 Atrial fibrillation with rapid ventricular response"
    assert draft["findings"].startswith("计算机初步判读") and "室性早搏 ×2" in draft["findings"]
    assert draft["rate_bpm"] == 125 and draft["pr_ms"] is None and draft["conclusion"] == ""


def test_an_edf_plus_ecg_is_ingested_with_its_original_and_statements(tus_client, doctor, consultation, media):
    from tests.formats.formats_samples import make_edf

    upload = upload_and_ingest(tus_client, doctor, make_edf(reference_ecg()), filename="ecg.edf",
                               consultation=consultation.pk, kind="ecg")
    assert upload.state == "ingested", upload.error_message
    record = EcgRecord.objects.get()
    assert record.source_format == "edf" and record.lead_names == reference_ecg().lead_names
    assert record.original_file.endswith(".edf")
    assert [s["code"] for s in record.computed_statements] == ["sinus_rhythm"]


def test_a_ge_muse_xml_is_ingested_with_ges_measurements_and_statements(tus_client, doctor, consultation, api):
    from tests.formats.formats_samples import make_muse

    upload = upload_and_ingest(tus_client, doctor, make_muse(reference_ecg()), filename="ecg.xml",
                               consultation=consultation.pk, kind="ecg")
    assert upload.state == "ingested", upload.error_message
    body = api(doctor).get(f"/api/ecgs/{EcgRecord.objects.get().pk}/").json()
    assert body["source_format"] == "muse" and body["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    assert body["device_measurements"]["values"]["heart_rate_bpm"] == 61
    assert body["device_measurements"]["values"]["QTcFrederica"] == 369
    assert body["device_measurements"]["statements"] == ["RITMO SINUSALE", "ECG NORMALE"]
    assert [s["code"] for s in body["computed_measurements"]["statements"]] == ["sinus_rhythm"]


@pytest.fixture(scope="module")
def borderline_qt(parts):
    """A sinus ECG whose QTc is about 455 ms (men's limit 450, women's 460)."""
    from studies.formats.ecg.measure import analyse_ecg
    from tests.formats.rhythm_samples import qt_stretched

    times = regular(0.5, 72, 10.0)
    for stretch in np.arange(1.15, 1.25, 0.01):  # about 1.18 at 72/min
        record = synthesize(parts, seconds=10.0, p_times=times,
                            qrst_beats=[(t, qt_stretched(parts, float(stretch))) for t in times])
        if 453 <= analyse_ecg(record).computed.qtc_ms <= 457:
            return record
    raise AssertionError("no stretch gives a QTc of 453-457 ms")


@pytest.mark.parametrize("sex, prolonged", [("M", True), ("F", False)])
def test_a_borderline_qtc_is_judged_by_the_consultation_patients_sex(borderline_qt, sex, prolonged, tus_client,
                                                                      doctor, consultation_factory, community,
                                                                      cardiology):
    consultation = consultation_factory(patient__home_clinic=community.village_a1, patient__sex=sex,
                                        requested_by=doctor, specialty=cardiology)
    # when it is uploaded in the patient's consultation
    upload = upload_and_ingest(tus_client, doctor, make_csv(borderline_qt), consultation=consultation.pk, kind="ecg")
    # then QTc is stated prolonged for a man, not for a woman
    assert upload.state == "ingested", upload.error_message
    ecg = EcgRecord.objects.get()
    assert 450 < ecg.computed_measurements["qtc_ms"] < 460
    assert ("prolonged_qtc" in [s["code"] for s in ecg.computed_statements]) is prolonged
