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


# --- studies (ECG, imaging, uploads, DICOMweb) ----------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def ct_instance(media, community, people):
    """A CT image uploaded in village A1 within a consultation assigned to the expert."""
    from tests.ops.test_idor_matrix import an_instance

    return an_instance(community.village_a1, people["expert"].expert)


def test_studies_endpoints_are_documented_with_what_they_return(client):
    schema = client.get("/api/schema/?format=json").json()
    paths, components = schema["paths"], schema["components"]
    # JSON reads have response bodies (they were left out of the schema: APIViews without serializers)
    for path, name in (("/api/ecgs/{ecg_id}/", "Ecg"), ("/api/ecgs/{ecg_id}/samples/", "EcgSamples"),
                       ("/api/imaging-studies/{study_id}/", "ImagingStudy"), ("/api/uploads/", "UploadList"),
                       ("/api/uploads/{upload_id}/", "Upload")):
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].endswith(f"/{name}Out"), path
    # images and DICOMweb by their media types; DICOMweb's Bearer scheme has its own name
    rendered = paths["/api/instances/{instance_id}/frames/{frame}/rendered/"]["get"]["responses"]["200"]["content"]
    assert set(rendered) == {"image/png", "image/jpeg"}
    qido = paths["/dicomweb/studies/"]["get"]
    assert set(qido["responses"]["200"]["content"]) == {"application/dicom+json"}
    assert {"dicomwebBearer": []} in qido["security"] and "dicomwebBearer" in components["securitySchemes"]
    assert "multipart/related" in paths["/dicomweb/studies/{study}/"]["get"]["responses"]["200"]["content"]
    # tus and STOW-RS are protocols OpenAPI cannot state: excluded (tests/studies covers them)
    assert set(paths["/api/uploads/{upload_id}/"]) == {"get"} and "post" not in paths["/dicomweb/studies/"]


@pytest.mark.django_db
def test_qido_offset_beyond_a_bigint_is_a_400(people, api):
    # (was a 500: DataError, bigint out of range, from PostgreSQL's OFFSET)
    response = api(people["village_doctor"]).get("/dicomweb/studies?offset=100000000000000000000")
    assert response.status_code == 400 and response.json()["code"] == "bad_query"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["window_center=40&window_width=0", "window_center=40",
                                   "window_center=40&window_width=-400"])
def test_a_bad_window_is_the_requests_fault_a_400(people, api, ct_instance, query):
    # (was a 422 invalid_study, the code for a stored file that cannot be shown)
    response = api(people["expert"]).get(f"/api/instances/{ct_instance.pk}/frames/1/rendered/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "bad_window"


@pytest.mark.django_db
@pytest.mark.parametrize("window", ["nan,nan", "inf,400", "40,0", "40,-1"])
def test_dicomweb_rendered_refuses_a_window_that_is_not_finite_and_positive(people, api, ct_instance, window):
    series, study = ct_instance.series, ct_instance.series.study
    url = (f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
           f"/instances/{ct_instance.sop_instance_uid}/rendered?window={window}")
    response = api(people["expert"]).get(url)
    assert response.status_code == 400 and response.json()["code"] == "bad_window"


@pytest.mark.django_db
def test_upload_list_filter_outside_its_enum_gets_400(people, api):
    # (an unknown state silently listed nothing)
    response = api(people["village_doctor"]).get("/api/uploads/?state=lost")
    assert response.status_code == 400 and response.json()["code"] == "bad_filter"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "trace"])
def test_a_method_tus_does_not_have_is_a_405_not_a_412(people, api, method):
    # (the Tus-Resumable check ran before DRF looked for a handler: 412 Precondition Failed)
    response = api(people["village_doctor"]).generic(method.upper(), "/api/uploads/")
    assert response.status_code == 405
