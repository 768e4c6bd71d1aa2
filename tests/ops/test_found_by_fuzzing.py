"""Regressions for what schemathesis found in the foundation (tests/ops/test_api_schema_fuzz.py)."""
import pytest

from directory.models import Patient

NEW_PATIENT = {"name": "王秀英", "sex": "F", "birth_date": "1956-03-14"}


@pytest.mark.django_db
def test_patient_registered_without_a_record_number_gets_one_from_the_clinic(people, api, community):
    response = api(people["village_doctor"]).post("/api/patients/", NEW_PATIENT, format="json")
    assert response.status_code == 201, response.content
    patient = Patient.objects.get(pk=response.json()["id"])
    assert patient.health_record_no == f"VIL-A1-{patient.pk:06d}"


@pytest.mark.django_db
def test_admin_registering_for_an_unknown_clinic_gets_400(people, api):
    # (was a 500: Organisation.DoesNotExist; admins reach every clinic, so no reach check stopped it first)
    response = api(people["admin"]).post("/api/patients/", dict(NEW_PATIENT, home_clinic=999999), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_clinic"
    assert not Patient.objects.filter(name=NEW_PATIENT["name"]).exists()


@pytest.mark.django_db
def test_list_endpoints_document_their_pagination(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/patients/", "/api/consultations/", "/api/audit/"):
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        component = schema["components"]["schemas"][ok["$ref"].rsplit("/", 1)[-1]]
        assert {"count", "next", "previous", "results"} <= set(component["properties"]), path


def test_openapi_schema_validates_without_warnings(tmp_path):
    # (paginated responses with their own operation ids; a collision is a drf_spectacular.W001 warning)
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "PaginatedPatientList" in (tmp_path / "schema.yaml").read_text()
