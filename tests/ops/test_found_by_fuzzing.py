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


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["from=2026-02-30", "to=2026-13-01T08:00", "expert=abc", "expert=99999999999999999999",
                                   "specialty=cardiology&expert=-1"])
def test_bad_scheduling_filters_get_400_with_a_reason(people, api, query):
    # (an impossible date made parse_datetime raise ValueError, a non-numeric expert id reached the ORM: 500s)
    for path in ("/api/scheduling/slots/", "/api/scheduling/sessions/"):
        response = api(people["village_doctor"]).get(f"{path}?{query}")
        assert response.status_code == 400, (path, query, response.content)
        assert response.json()["code"] in ("bad_date", "bad_filter")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/scheduling/bookings/?status=lost", "/api/scheduling/assignments/?status=x",
                                  "/api/scheduling/referrals/?direction=sideways", "/api/scheduling/follow-ups/?state=x"])
def test_scheduling_list_filters_outside_their_enum_get_400(people, api, path):
    response = api(people["village_doctor"]).get(path)
    assert response.status_code == 400 and response.json()["code"] == "bad_filter"


@pytest.mark.django_db
def test_scheduling_lists_document_their_pagination(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("assignments", "bookings", "follow-ups", "referrals", "rosters", "sessions", "slots"):
        ok = schema["paths"][f"/api/scheduling/{path}/"]["get"]["responses"]["200"]["content"]["application/json"]
        component = schema["components"]["schemas"][ok["schema"]["$ref"].rsplit("/", 1)[-1]]
        assert {"count", "next", "previous", "results"} <= set(component["properties"]), path
