"""Issue 12, fault 2: a report reads only its own consultation's study; the QR code opens a page a person reads."""
import datetime as dt

import pytest
import time_machine

from studies.models import EcgRecord, ImagingStudy, ReportStudy
from tests.factories import ConsultationFactory

from .conftest import MEASUREMENTS, fill

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _ecg(consultation) -> EcgRecord:
    return EcgRecord.objects.create(patient=consultation.patient, consultation=consultation, source_format="dicom",
                                    sampling_rate=500.0, lead_names=["I"], n_samples=5000, samples_file="none.npz")


def test_a_study_ref_naming_another_consultations_ecg_is_refused(api, people, assigned):
    # given two consultations of one patient assigned to the expert, each with its own ECG
    mine = assigned()
    other = ConsultationFactory(patient=mine.patient, requested_by=mine.requested_by, specialty=mine.specialty,
                                assigned_expert=mine.assigned_expert, state=mine.state)
    other_ecg = _ecg(other)
    expert = api(people["expert"])
    # when the expert starts a report of the first one naming the second one's ECG
    response = expert.post(f"/api/consultations/{mine.pk}/reports/",
                           {"kind": "ecg", "study_ref": f"ecg:{other_ecg.pk}", "measurements": MEASUREMENTS},
                           format="json")
    # then it is refused with a reason, and no report is made
    assert response.status_code == 400
    assert response.json()["code"] == "study_not_in_consultation" and response.json()["detail"]
    assert not mine.reports.exists()
    # while its own ECG is accepted
    own = expert.post(f"/api/consultations/{mine.pk}/reports/",
                      {"kind": "ecg", "study_ref": f"ecg:{_ecg(mine).pk}", "measurements": MEASUREMENTS}, format="json")
    assert own.status_code == 201, own.json()


def test_a_study_ref_naming_no_stored_study_is_refused_and_a_real_one_is_linked_by_key(api, people, assigned):
    # given a consultation assigned to the expert, with one stored ECG
    mine = assigned()
    expert = api(people["expert"])
    ecg = _ecg(mine)
    # when the expert names an ECG and an imaging study that were never stored
    for ref in (f"ecg:{ecg.pk + 1000}", "dicom:1.2.3.4.5"):
        response = expert.post(f"/api/consultations/{mine.pk}/reports/",
                               {"kind": "ecg", "study_ref": ref, "measurements": MEASUREMENTS}, format="json")
        # then it is refused with a reason, and nothing is half-stored
        assert response.status_code == 400, ref
        assert response.json()["code"] == "study_not_found" and ref in response.json()["detail"]
        assert not mine.reports.exists() and not ReportStudy.objects.exists()
    # and the stored one is accepted and linked by foreign key
    own = expert.post(f"/api/consultations/{mine.pk}/reports/",
                      {"kind": "ecg", "study_ref": f"ecg:{ecg.pk}", "measurements": MEASUREMENTS}, format="json")
    assert own.status_code == 201, own.json()
    link = ReportStudy.objects.get(report_id=own.json()["id"])
    assert link.ecg == ecg and link.imaging_study is None


def _signed_code(api, people, consultation) -> str:
    expert = api(people["expert"])
    report = expert.post(f"/api/consultations/{consultation.pk}/reports/",
                         {"kind": "ecg", "study_ref": f"ecg:{_ecg(consultation).pk}", "measurements": MEASUREMENTS},
                         format="json").json()
    expert.put(f"/api/reports/{report['id']}/draft/", {"content": fill("ecg")}, format="json")
    return expert.post(f"/api/reports/{report['id']}/sign/").json()["verification_code"]


def test_the_verification_page_is_a_chinese_page_in_the_service_time_zone(api, people, assigned, client):
    # given a report signed at 16:30 UTC on a Sunday (00:30 on Monday in Asia/Shanghai)
    with time_machine.travel(dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC), tick=False):
        code = _signed_code(api, people, assigned())
    # when a phone's browser opens the QR code's address
    page = client.get(f"/api/reports/verify/{code}/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    # then it is a human page in Chinese, with the time in the service's zone
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "报告真伪验证" in html and "真实有效" in html
    assert "2026-03-02 00:30" in html and "Asia/Shanghai" in html
    assert "王秀英" not in html
    # and in English for a user who chose English
    client.cookies["django_language"] = "en"
    english = client.get(f"/api/reports/verify/{code}/", HTTP_ACCEPT="text/html").content.decode()
    assert "Genuine: this is the current version" in english and "2026-03-02 00:30" in english


def test_the_verification_stays_json_for_api_clients(api, people, assigned, client):
    code = _signed_code(api, people, assigned())
    as_json = client.get(f"/api/reports/verify/{code}/", HTTP_ACCEPT="application/json")
    assert as_json["Content-Type"] == "application/json" and as_json.json()["genuine"] is True
    by_format = client.get(f"/api/reports/verify/{code}/?format=json", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert by_format.json()["current"] is True
    missing = client.get("/api/reports/verify/NOSUCHCODE/", HTTP_ACCEPT="application/json")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    page = client.get("/api/reports/verify/NOSUCHCODE/", HTTP_ACCEPT="text/html")
    assert page.status_code == 404 and "不是真实报告" in page.content.decode()


@pytest.mark.parametrize("kind", ["ecg", "dicom"])
def test_another_patients_study_is_answered_as_no_study_at_all(api, people, assigned, kind):
    """No oracle on study ids: naming another patient's study (of a case the expert also holds) gets the very
    answer a study that does not exist gets."""
    mine, theirs = assigned(), assigned()
    if kind == "ecg":
        other_ref, missing_ref = f"ecg:{_ecg(theirs).pk}", f"ecg:{_ecg(theirs).pk + 1000}"
    else:
        ImagingStudy.objects.create(study_instance_uid="1.2.826.0.1.99", patient=theirs.patient, consultation=theirs,
                                    organisation=theirs.requesting_org)
        other_ref, missing_ref = "dicom:1.2.826.0.1.99", "dicom:1.2.826.0.1.98"
    expert = api(people["expert"])
    answers = []
    for ref in (other_ref, missing_ref):
        response = expert.post(f"/api/consultations/{mine.pk}/reports/",
                               {"kind": "ecg", "study_ref": ref, "measurements": MEASUREMENTS}, format="json")
        answers.append((response.status_code, {**response.json(), "detail": response.json()["detail"].replace(ref, "?")}))
    assert answers[0] == answers[1] and answers[0][0] == 400 and answers[0][1]["code"] == "study_not_found"
    assert not mine.reports.exists()
