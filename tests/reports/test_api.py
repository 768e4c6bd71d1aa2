"""The reports API end to end (services run in-process): draft, sign, PDF, pending list, acknowledge, share."""
import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from reports.models import PatientLink
from reports.services import delivery as delivery_services

from .conftest import MEASUREMENTS, fill
from .realdata import stored_real_ecg_ref


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _sign_through_the_api(api, people, consultation) -> dict:
    expert = api(people["expert"])
    started = expert.post(f"/api/consultations/{consultation.pk}/reports/",
                          {"kind": "ecg", "study_ref": stored_real_ecg_ref(consultation),
                           "measurements": MEASUREMENTS}, format="json")
    assert started.status_code == 201, started.json()
    report_id = started.json()["id"]
    assert started.json()["draft"]["qtc_ms"] == 419
    saved = expert.put(f"/api/reports/{report_id}/draft/", {"content": fill("ecg")}, format="json")
    assert saved.status_code == 200 and saved.json()["draft"]["conclusion"] == "急性下壁心肌梗死可能"
    signed = expert.post(f"/api/reports/{report_id}/sign/")
    assert signed.status_code == 201, signed.json()
    return {"report": report_id, **signed.json()}


@pytest.mark.django_db
def test_the_report_travels_from_the_expert_to_the_village_and_is_acknowledged(api, people, assigned):
    # given a report signed through the API, rendered and delivered by the services the tasks call
    consultation = assigned(urgency="stat")
    signed = _sign_through_the_api(api, people, consultation)
    version_id = consultation.reports.get().versions.get().pk
    delivery_services.version_render_pdf(version_id=version_id)
    delivery_services.delivery_deliver(delivery_id=signed["delivery"]["id"])
    village = api(people["village_doctor"])
    # when the village doctor lists pending reports
    pending = village.get("/api/reports/deliveries/pending/").json()["results"]
    # then the report is there with its PDF, which downloads
    assert [(p["report"], p["version"], p["state"]) for p in pending] == [(signed["report"], 1, "delivered")]
    pdf = village.get(pending[0]["pdf"])
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    # and the village sees the signed version but not the expert's draft fields
    body = village.get(f"/api/reports/{signed['report']}/").json()
    assert "draft" not in body and body["versions"][0]["content"]["conclusion"] == "急性下壁心肌梗死可能"
    # when they acknowledge it, then the time is recorded and it leaves the pending list
    acked = village.post(f"/api/reports/deliveries/{pending[0]['delivery']}/acknowledge/")
    assert acked.status_code == 200 and acked.json()["acknowledged_at"]
    assert village.get("/api/reports/deliveries/pending/").json()["results"] == []
    assert AuditEvent.objects.filter(actor=people["village_doctor"], object_type="ReportVersion").exists()


@pytest.mark.django_db
def test_other_clinics_and_other_experts_cannot_see_the_report(api, people, assigned):
    signed = _sign_through_the_api(api, people, assigned())
    for who in ("other_village_doctor", "other_expert", "foreign_coordinator"):
        assert api(people[who]).get(f"/api/reports/{signed['report']}/").status_code == 404
        assert api(people[who]).get(f"/api/reports/{signed['report']}/versions/1/pdf/").status_code == 404
    assert api(people["other_expert"]).post(f"/api/reports/{signed['report']}/sign/").status_code == 404


@pytest.mark.django_db
def test_an_amended_report_shows_the_village_what_changed_and_why(api, people, assigned):
    # given a signed report that the expert amends
    signed = _sign_through_the_api(api, people, assigned())
    expert = api(people["expert"])
    assert expert.post(f"/api/reports/{signed['report']}/amend/", {"reason": "补充 aVF 导联"}, format="json").status_code == 200
    expert.put(f"/api/reports/{signed['report']}/draft/", {"content": {"conclusion": "急性下壁心肌梗死"}}, format="json")
    assert expert.post(f"/api/reports/{signed['report']}/sign/").status_code == 201
    # then the village sees both versions, the second marked with its reason
    body = api(people["village_doctor"]).get(f"/api/reports/{signed['report']}/").json()
    assert [(v["number"], v["amendment_reason"]) for v in body["versions"]] == [(1, ""), (2, "补充 aVF 导联")]
    pending = api(people["village_doctor"]).get("/api/reports/deliveries/pending/").json()["results"]
    assert {(p["version"], p["amended"], p["amendment_reason"]) for p in pending} == {
        (1, False, ""), (2, True, "补充 aVF 导联")}


@pytest.mark.django_db
def test_bad_input_gets_a_reason(api, people, assigned):
    expert = api(people["expert"])
    consultation = assigned()
    response = expert.post(f"/api/consultations/{consultation.pk}/reports/", {"kind": "ecg", "color": 1}, format="json")
    assert response.status_code == 400 and "color" in response.json()["detail"]
    response = expert.post(f"/api/consultations/{consultation.pk}/reports/", {"kind": "x-ray"}, format="json")
    assert response.status_code == 400
    started = expert.post(f"/api/consultations/{consultation.pk}/reports/", {"kind": "ecg"}, format="json").json()
    response = expert.post(f"/api/reports/{started['id']}/sign/")
    assert response.status_code == 400 and response.json()["code"] == "incomplete"


@pytest.mark.django_db
def test_the_qr_verification_is_public_and_shows_no_patient_data(api, people, assigned):
    signed = _sign_through_the_api(api, people, assigned())
    body = api().get(f"/api/reports/verify/{signed['verification_code']}/").json()
    assert body["genuine"] is True and body["current"] is True and body["version"] == 1
    assert "王秀英" not in str(body)
    assert api().get("/api/reports/verify/NOSUCHCODE/").status_code == 404


@pytest.mark.django_db
def test_a_patient_link_opens_one_report_until_it_expires_and_is_audited(api, people, assigned):
    # given a rendered report and the village doctor sharing it with the patient for 2 hours
    signed = _sign_through_the_api(api, people, assigned())
    delivery_services.version_render_pdf(version_id=_version_id(signed))
    created = api(people["village_doctor"]).post(f"/api/reports/{signed['report']}/versions/1/patient-links/",
                                                 {"hours": 2}, format="json")
    assert created.status_code == 201
    url = created.json()["url"].replace("http://testserver", "")
    # when the patient opens it without an account, then they get the PDF and the read is audited
    opened = api().get(url)
    assert opened.status_code == 200 and opened["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(interface="link", object_type="ReportVersion").count() == 1
    # when it has expired, then it is gone
    PatientLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api().get(url).status_code == 410
    # and an expert cannot hand out patient links, nor a doctor for a year
    assert api(people["expert"]).post(f"/api/reports/{signed['report']}/versions/1/patient-links/",
                                      {"hours": 2}, format="json").status_code == 403
    assert api(people["village_doctor"]).post(f"/api/reports/{signed['report']}/versions/1/patient-links/",
                                              {"hours": 24 * 365}, format="json").status_code == 400


def _version_id(signed: dict) -> int:
    from reports.models import ReportVersion

    return ReportVersion.objects.get(report_id=signed["report"], number=1).pk
