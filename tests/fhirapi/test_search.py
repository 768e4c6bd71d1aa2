"""The FHIR base /fhir/: search parameters, paging, _include, errors and reach, audited; resources and
Bundles validated with fhir.resources (its R4B models: R4B adds to R4 only where unused here)."""
import datetime as dt
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def search(client, path, **headers):
    response = client.get(path, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    Bundle.model_validate(body)  # the Bundle and every resource in it
    return body


def ids(bundle, mode="match"):
    return [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == mode]


def follow(client, url):
    parts = urlsplit(url)
    return search(client, f"{parts.path}?{parts.query}")


@pytest.fixture
def record(make_record):
    return make_record(5)


@pytest.mark.parametrize("query, found", [
    ("identifier={hrn}", True),
    ("identifier=urn:teleclinic:health-record-no|{hrn}", True),
    ("identifier=urn:teleclinic:resident-id-number|430521195603141234", True),
    ("identifier=urn:other|{hrn}", False),
    ("name=王", True), ("name:exact=王秀英", True), ("name:exact=王", False), ("name:contains=秀", True),
    ("name=李", False),
    ("birthdate=1956-03-14", True), ("birthdate=1956", True), ("birthdate=1956-03", True), ("birthdate=1957", False),
    ("birthdate=ge1956-03-14", True), ("birthdate=gt1956-03-14", False), ("birthdate=lt1956-03-14", False),
    ("birthdate=le1956-03-14", True), ("birthdate=ne1956-03-14", False),
    ("gender=female", True), ("gender=male", False), ("gender=male,female", True),
    ("gender=http://hl7.org/fhir/administrative-gender|female", True),
    ("name=王&gender=male", False),
])
def test_patient_search_parameters(api, people, record, query, found):
    hrn = record.patient.health_record_no
    body = search(api(people["village_doctor"]), f"/fhir/Patient?{query.format(hrn=hrn)}")
    assert ids(body) == ([str(record.patient.pk)] if found else []) and body["total"] == int(found)
    if found:
        resource = body["entry"][0]["resource"]
        assert resource["gender"] == "female" and resource["birthDate"] == "1956-03-14"
        assert "430521195603141234" not in str(resource)  # the ID number is searchable, never shown


# consultations asked on 2026-03-01 .. 05 (Asia/Shanghai), reports 0, 2, 4 ECG, 1, 3 imaging
@pytest.mark.parametrize("query, expected", [
    ("", [0, 1, 2, 3, 4]),
    ("date=2026-03-02", [1]), ("date=eq2026-03-02", [1]), ("date=ge2026-03-04", [3, 4]), ("date=gt2026-03-04", [4]),
    ("date=lt2026-03-02", [0]), ("date=le2026-03-02", [0, 1]), ("date=2026-03", [0, 1, 2, 3, 4]), ("date=2025", []),
    ("date=ge2026-03-02&date=le2026-03-03", [1, 2]),
    ("date=ge2026-03-02T09:30:00%2B08:00&date=lt2026-03-03T00:00:00Z", [1]),
    ("category=EC", [0, 2, 4]), ("category=http://terminology.hl7.org/CodeSystem/v2-0074|RAD", [1, 3]),
    ("category=EC,RAD", [0, 1, 2, 3, 4]), ("category=XX", []),
    ("code=http://loinc.org|11524-6", [0, 2, 4]), ("code=18748-4", [1, 3]),
    ("status=final", [0, 1, 2, 3, 4]), ("status=amended", []), ("status:not=final", []),
    ("category=EC&date=ge2026-03-03", [2, 4]),
])
def test_diagnostic_report_search_parameters(api, people, record, query, expected):
    patient = f"patient=Patient/{record.patient.pk}"
    body = search(api(people["village_doctor"]), f"/fhir/DiagnosticReport?{patient}&{query}")
    want = {f"{record.versions[i].report_id}-1" for i in expected}
    assert set(ids(body)) == want and body["total"] == len(expected)


def test_reports_newest_first_and_other_patients_not_found(api, people, record, make_record):
    other = make_record(2, name="李四", id_number="")
    client = api(people["village_doctor"])
    body = search(client, f"/fhir/DiagnosticReport?subject={record.patient.pk}")
    assert ids(body) == [f"{v.report_id}-1" for v in reversed(record.versions)]  # signed newest first
    assert not set(ids(body)) & {f"{v.report_id}-1" for v in other.versions}


def test_an_amended_report_is_found_once_as_its_current_version(api, people, record):
    version = record.versions[1]
    drafting_start_and_sign(people["expert"], version)
    body = search(api(people["village_doctor"]), f"/fhir/DiagnosticReport?patient={record.patient.pk}&status=amended")
    assert ids(body) == [f"{version.report_id}-2"] and body["entry"][0]["resource"]["status"] == "amended"
    everything = ids(search(api(people["village_doctor"]), f"/fhir/DiagnosticReport?patient={record.patient.pk}"))
    assert len(everything) == 5 and f"{version.report_id}-1" not in everything


def drafting_start_and_sign(expert, version):
    from reports.services import drafting

    drafting.amendment_start(report_id=version.report_id, by=expert, reason="更正结论")
    drafting.report_sign(report_id=version.report_id, by=expert)


def test_paging_with_count_follows_next_and_previous_links(api, people, record):
    client = api(people["village_doctor"])
    page = search(client, f"/fhir/DiagnosticReport?patient={record.patient.pk}&_count=2")
    seen, pages = [], 0
    while True:
        pages += 1
        assert page["total"] == 5 and len(ids(page)) <= 2
        seen += ids(page)
        links = {link["relation"]: link["url"] for link in page["link"]}
        assert links["self"].startswith("http://testserver/fhir/DiagnosticReport?")
        if "next" not in links:
            break
        page = follow(client, links["next"])
    assert pages == 3 and len(seen) == 5 and set(seen) == {f"{v.report_id}-1" for v in record.versions}
    back = follow(client, {lk["relation"]: lk["url"] for lk in page["link"]}["previous"])
    assert ids(back) == seen[2:4]
    assert search(client, f"/fhir/DiagnosticReport?patient={record.patient.pk}&_count=0")["entry"] == []


@pytest.mark.parametrize("path, include, target", [
    ("DiagnosticReport?patient={p}", "DiagnosticReport:patient", "Patient/{p}"),
    ("DiagnosticReport?patient={p}", "DiagnosticReport:subject", "Patient/{p}"),
    ("DiagnosticReport?patient={p}&_count=1", "DiagnosticReport:based-on", "ServiceRequest/{last}"),
    ("ImagingStudy?patient={p}", "ImagingStudy:patient", "Patient/{p}"),
    ("Appointment?patient={p}", "Appointment:patient", "Patient/{p}"),
    ("Slot?schedule={session}", "Slot:schedule", "Schedule/{session}"),
    ("ServiceRequest?patient={p}", "ServiceRequest:patient", "Patient/{p}"),
    ("Observation?patient={p}", "Observation:patient", "Patient/{p}"),
])
def test_include_adds_the_referenced_resource_once(api, people, record, path, include, target):
    values = {"p": record.patient.pk, "session": record.session.pk, "last": record.consultations[-1].pk}
    body = search(api(people["village_doctor"]), f"/fhir/{path.format(**values)}&_include={include}")
    included = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body["entry"]
                if e["search"]["mode"] == "include"]
    assert ids(body) and included == [target.format(**values)]


@pytest.mark.parametrize("path, expected", [
    ("ServiceRequest?patient={p}&status=completed", 5), ("ServiceRequest?patient={p}&status=active", 0), ("ServiceRequest?patient={p}&priority=stat", 0),
    ("ServiceRequest?patient={p}&authored=ge2026-03-04", 2),
    ("Observation?patient={p}", 3), ("Observation?patient={p}&code=http://loinc.org|34534-8", 3),
    ("Observation?patient={p}&date=2026-03-03", 1),
    ("ImagingStudy?patient={p}", 1), ("ImagingStudy?patient={p}&modality=CT", 1), ("ImagingStudy?patient={p}&modality=MR", 0),
    ("ImagingStudy?patient={p}&started=2026-03-02", 1), ("ImagingStudy?identifier=urn:dicom:uid|urn:oid:{uid}", 1),
    ("ImagingStudy?basedon=ServiceRequest/{last}", 1),
    ("Appointment?patient={p}&status=booked", 1), ("Appointment?patient={p}&status=cancelled", 0),
    ("Slot?schedule=Schedule/{session}", 2), ("Slot?schedule={session}&status=busy", 1),
    ("Slot?schedule={session}&status=free", 1), ("Slot?schedule={session}&service-type=cardiology", 2),
    ("Schedule?_id={session}&active=true", 1), ("Schedule?_id={session}&active=false", 0),
    ("Schedule?actor=Practitioner/{expert}", 1),
])
def test_search_parameters_of_the_other_types(api, people, record, path, expected):
    values = {"p": record.patient.pk, "session": record.session.pk, "last": record.consultations[-1].pk,
              "uid": record.study.study_instance_uid, "expert": people["expert"].expert.pk}
    body = search(api(people["village_doctor"]), f"/fhir/{path.format(**values)}")
    assert body["total"] == expected == len(ids(body))


@pytest.mark.parametrize("path, status, code", [
    ("/fhir/DiagnosticReport?foo=bar", 400, "unknown_search_parameter"),
    ("/fhir/DiagnosticReport?patient:exact=1", 400, "unknown_search_parameter"),
    ("/fhir/DiagnosticReport?date=2026-13-01", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?date=yesterday", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?date=ge2026-02-30", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?date=2026-03-01T25:00:00Z", 400, "bad_search_parameter"),
    ("/fhir/Patient?birthdate=", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?patient=Patient/abc", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?patient=99999999999999999999999", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?category=|", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?_count=-1", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?_count=abc", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?_count=99999999999", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?_offset=1e3", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?_include=DiagnosticReport:performer", 400, "unknown_include"),
    # digits Python's isdigit() takes and int() refuses, and the calendar's edges (were 500s)
    ("/fhir/DiagnosticReport?_count=²", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?_offset=①", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?patient=²", 400, "bad_search_parameter"),
    ("/fhir/Patient?birthdate=9999", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?date=9999-12", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?date=9999-12-31", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?date=le9999-12-31T23:59:59Z", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?date=0001-01-01", 400, "bad_search_parameter"),
    ("/fhir/DiagnosticReport?_format=xml", 406, "unsupported_format"),
    ("/fhir/Medication", 404, "unknown_resource_type"),
    ("/fhir/Medication/1", 404, "unknown_resource_type"),
    ("/fhir/Patient/999999999", 404, "not_found"),
    ("/fhir/Patient/abc", 404, "not_found"),
    ("/fhir/DiagnosticReport/1", 404, "not_found"),
    ("/fhir/Observation/ecg-x-1", 404, "not_found"),
    ("/fhir/", 404, "not_found"),
    ("/fhir/Patient/1/_history", 404, "not_found"),
])
def test_errors_are_operation_outcomes_never_500(api, people, record, path, status, code):
    response = api(people["village_doctor"]).get(path)
    assert response.status_code == status and response["Content-Type"].startswith("application/fhir+json")
    outcome = OperationOutcome.model_validate(response.json())
    assert outcome.issue[0].severity == "error" and outcome.issue[0].details.coding[0].code == code
    assert outcome.issue[0].diagnostics


def test_lenient_handling_ignores_unknown_parameters_and_says_so(api, people, record):
    body = search(api(people["village_doctor"]), f"/fhir/DiagnosticReport?patient={record.patient.pk}&foo=bar",
                  HTTP_PREFER="handling=lenient")
    assert body["total"] == 5
    outcome = [e["resource"] for e in body["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and "foo" in outcome[0]["issue"][0]["diagnostics"]


def test_unauthenticated_is_401_operation_outcome_but_metadata_is_public(api, record):
    response = api().get(f"/fhir/Patient/{record.patient.pk}")
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"
    metadata = api().get("/fhir/metadata")
    assert metadata.status_code == 200 and metadata["Content-Type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate(metadata.json())
    served = {r.type: r for r in statement.rest[0].resource}
    assert set(served) == {"Patient", "ServiceRequest", "DiagnosticReport", "Observation", "ImagingStudy",
                           "Appointment", "Slot", "Schedule"}
    assert {"patient", "date", "status", "category"} <= {p.name for p in served["DiagnosticReport"].searchParam}
    assert "DiagnosticReport:patient" in served["DiagnosticReport"].searchInclude
    token = statement.rest[0].security.extension[0].extension[0]
    assert token.url == "token" and token.valueUri == "http://testserver/fhir/auth/token"


@pytest.mark.parametrize("reader, sees", [
    ("village_doctor", True), ("township_doctor", True), ("expert", True), ("coordinator", True), ("admin", True),
    ("other_village_doctor", False), ("other_expert", False), ("foreign_coordinator", False),
])
def test_reach_is_the_access_table(api, people, record, reader, sees):
    client = api(people[reader])
    patient = record.patient.pk
    reports = search(client, f"/fhir/DiagnosticReport?patient={patient}")
    assert reports["total"] == (5 if sees else 0)
    assert search(client, f"/fhir/Patient?_id={patient}")["total"] == int(sees)
    read = client.get(f"/fhir/DiagnosticReport/{record.versions[0].report_id}-1")
    missing = client.get("/fhir/DiagnosticReport/999999-1")
    if sees:
        assert read.status_code == 200
    else:  # out of reach reads exactly as what does not exist
        assert read.status_code == missing.status_code == 404
        assert read.json()["issue"][0]["details"]["coding"] == missing.json()["issue"][0]["details"]["coding"]
    # an included resource out of reach is left out, never leaked
    body = search(client, f"/fhir/Appointment?patient={patient}&_include=Appointment:patient")
    assert ids(body, "include") == ([str(patient)] if sees else [])


def test_every_resource_returned_is_audited_as_a_fhir_read(api, people, record):
    before = AuditEvent.objects.count()
    client = api(people["township_doctor"])
    search(client, f"/fhir/DiagnosticReport?patient={record.patient.pk}&_count=3&_include=DiagnosticReport:patient")
    rows = AuditEvent.objects.order_by("id")[before:]
    assert [(r.object_type, r.interface, r.actor_id, r.patient_id) for r in rows] == (
        [("ReportVersion", "fhir", people["township_doctor"].pk, record.patient.pk)] * 3
        + [("Patient", "fhir", people["township_doctor"].pk, record.patient.pk)])
    assert {r.consultation_id for r in rows[:3]} == {c.pk for c in record.consultations[2:]}
    client.get(f"/fhir/Patient/{record.patient.pk}")
    assert AuditEvent.objects.filter(object_type="Patient", object_id=str(record.patient.pk), interface="fhir",
                                     actor=people["township_doctor"]).count() == 2
    api(people["other_village_doctor"]).get(f"/fhir/DiagnosticReport?patient={record.patient.pk}")
    assert not AuditEvent.objects.filter(actor=people["other_village_doctor"]).exists()


def test_the_old_api_fhir_reads_redirect_to_the_fhir_base(api, people, record):
    client = api(people["village_doctor"])
    response = client.get(f"/api/fhir/DiagnosticReport/{record.versions[0].report_id}-1?x=1")
    assert response.status_code == 301
    assert response["Location"] == f"/fhir/DiagnosticReport/{record.versions[0].report_id}-1?x=1"
    assert client.get(response["Location"].split("?")[0]).json()["resourceType"] == "DiagnosticReport"


def test_date_ranges_cover_their_precision():
    from fhirapi.params import date_range

    start, end = date_range("date", "2026-02")
    assert (start.date(), end.date()) == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    start, end = date_range("date", "2026-12")
    assert (start.date(), end.date()) == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))


def test_staff_api_tokens_work_on_the_fhir_base(people, record):
    from rest_framework.test import APIClient

    user = people["township_doctor"]
    user.set_password("pw-for-fhir-1")
    user.save()
    client = APIClient()
    key = client.post("/api/auth/token/", {"username": user.username, "password": "pw-for-fhir-1"},
                      format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert search(client, f"/fhir/DiagnosticReport?patient={record.patient.pk}")["total"] == 5


# any query string a client may send: a FHIR error or a Bundle, never a 500
_names = st.sampled_from(["patient", "subject", "date", "issued", "status", "category", "code", "based-on",
                          "_count", "_offset", "_include", "_id", "date:missing", "status:not", "category:text"])
_values = st.one_of(st.text(max_size=30), st.from_regex(r"(eq|ne|gt|lt|ge|le|sa|eb|xx)?\d{1,5}(-\d{1,3}){0,2}(T[\d:]{1,9})?",
                                                         fullmatch=True),
                    st.from_regex(r"[A-Za-z]{0,12}/?\d{0,25}", fullmatch=True))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=st.lists(st.tuples(_names, _values), max_size=4))
def test_no_query_string_makes_a_500(api, people, record, query):
    response = api(people["village_doctor"]).get("/fhir/DiagnosticReport", dict(query))
    assert response.status_code in (200, 400, 406), response.content
    body = response.json()
    assert body["resourceType"] == ("Bundle" if response.status_code == 200 else "OperationOutcome")


def test_a_nul_byte_is_refused_as_an_operation_outcome(api, people):
    response = api(people["village_doctor"]).get("/fhir/Patient", {"name": "a\x00b"})
    assert response.status_code == 400 and response["Content-Type"].startswith("application/fhir+json")
    assert OperationOutcome.model_validate(response.json()).issue[0].details.coding[0].code == "invalid"


@pytest.mark.parametrize("path", ["/fhir/Patient?_id=²", "/fhir/DiagnosticReport?_id=1-²", "/fhir/DiagnosticReport?_id=²-1"])
def test_ids_with_digits_int_cannot_read_find_nothing(api, people, record, path):
    response = api(people["village_doctor"]).get(path)
    assert response.status_code in (200, 400), response.content
    assert response.status_code == 400 or response.json()["total"] == 0
