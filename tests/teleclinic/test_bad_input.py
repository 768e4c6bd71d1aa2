"""Bad input gets a 4xx with a machine code and a reason, and nothing is written."""
import pytest

from audit.models import AuditEvent
from consult.models import Consultation
from directory.models import Patient


@pytest.fixture
def doctor(people):
    return people["village_doctor"]


def _counts():
    return Patient.objects.count(), Consultation.objects.count()


def test_malformed_json_is_refused(doctor, api):
    before = _counts()
    response = api(doctor).post("/api/patients/", data='{"name": "张三", ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed" and "JSON" in response.json()["detail"]
    assert _counts() == before


def test_unknown_fields_are_refused(doctor, api):
    before = _counts()
    response = api(doctor).post("/api/patients/", {"name": "张三", "sex": "M", "birth_date": "1960-01-01",
                                                   "is_vip": True}, format="json")
    assert response.status_code == 400
    assert "is_vip" in response.json()["detail"]
    assert _counts() == before


@pytest.mark.parametrize("body,field", [
    ({"name": "张三", "sex": "M", "birth_date": "not-a-date"}, "birth_date"),
    ({"name": "张三", "sex": "dragon", "birth_date": "1960-01-01"}, "sex"),
    ({"name": ["张三"], "sex": "M", "birth_date": "1960-01-01"}, "name"),
    ({"name": "张三", "sex": "M", "birth_date": "1960-01-01", "id_number": "12345"}, "id_number"),
])
def test_wrong_types_are_refused_with_the_field_named(doctor, api, body, field):
    before = _counts()
    response = api(doctor).post("/api/patients/", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(field) and field in response.json()["errors"]
    assert _counts() == before


def test_body_that_is_not_an_object_is_refused(doctor, api):
    response = api(doctor).post("/api/consultations/", [1, 2, 3], format="json")
    assert response.status_code == 400 and "JSON object" in response.json()["detail"]


def test_consultation_for_a_foreign_organisations_patient_is_not_found(community, doctor, patient_factory, api,
                                                                       cardiology):
    # given a patient of another village
    foreign = patient_factory(home_clinic=community.village_b1)
    before, audit_before = _counts(), AuditEvent.objects.count()
    # when the doctor asks for a consultation for them
    response = api(doctor).post("/api/consultations/", {"patient": foreign.pk, "specialty": "cardiology",
                                                        "reason": "胸痛"}, format="json")
    # then: 404 (the id does not leak) and nothing is written
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such patient in your reach."}
    assert _counts() == before and AuditEvent.objects.count() == audit_before


def test_reading_a_foreign_patient_is_not_found(community, doctor, patient_factory, api):
    foreign = patient_factory(home_clinic=community.foreign_village)
    response = api(doctor).get(f"/api/patients/{foreign.pk}/")
    assert response.status_code == 404 and not AuditEvent.objects.exists()


def test_unknown_specialty_is_a_reason(community, doctor, patient_factory, api, cardiology):
    mine = patient_factory(home_clinic=community.village_a1)
    response = api(doctor).post("/api/consultations/", {"patient": mine.pk, "specialty": "astrology",
                                                        "reason": "x"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unknown_specialty"
    assert not Consultation.objects.exists()


def test_valid_consultation_is_created_and_audited(community, doctor, patient_factory, api, cardiology):
    mine = patient_factory(home_clinic=community.village_a1)
    response = api(doctor).post("/api/consultations/", {"patient": mine.pk, "specialty": "cardiology",
                                                        "urgency": "urgent", "reason": "胸痛两小时"}, format="json")
    assert response.status_code == 201, response.json()
    consultation = Consultation.objects.get()
    assert (consultation.patient, consultation.requesting_org, consultation.urgency) == (
        mine, community.village_a1, "urgent")
    assert AuditEvent.objects.filter(consultation_id=consultation.pk, action="create").count() == 1


def test_unauthenticated_api_call_is_refused(api):
    response = api().get("/api/patients/")
    assert response.status_code in (401, 403) and response.json()["code"] == "not_authenticated"


def test_token_auth_works_and_bad_credentials_are_refused(people, api):
    token = api().post("/api/auth/token/", {"username": "vdoc", "password": "pw-123456"}, format="json")
    assert token.status_code == 200
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert client.get("/api/me/").json()["username"] == "vdoc"
    wrong = api().post("/api/auth/token/", {"username": "vdoc", "password": "nope"}, format="json")
    assert wrong.status_code == 403 and wrong.json()["code"] == "bad_credentials"


def test_openapi_schema_and_docs_are_served(people, client):
    client.force_login(people["village_doctor"])
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200 and "/api/patients/" in schema.json()["paths"]
    assert client.get("/api/docs/").status_code == 200


def test_nul_byte_in_a_query_parameter_is_a_400(doctor, api):
    response = api(doctor).get("/api/patients/?q=a%00b")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]

