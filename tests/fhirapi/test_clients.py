"""FHIR clients nobody here wrote (fhirpy, SMART's fhirclient) against a live server, logged in with
OAuth2 client credentials of a client registered by `manage.py fhir_client`: they search a patient's
reports, follow the paging links and `_include`; the client reaches its organisation's subtree only
and every read is audited as that client."""
import pytest
import requests
from django.core.management import CommandError, call_command
from fhir.resources.R4B.bundle import Bundle
from fhirclient.models.diagnosticreport import DiagnosticReport as ClientDiagnosticReport
from fhirclient.server import FHIRServer
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from audit.models import AuditEvent

from .conftest import register_client

# One live server (a thread) on a transactional database: what the test writes, the server reads.
pytestmark = pytest.mark.django_db(transaction=True)


def token_for(base: str, client_id: str, secret: str, **extra) -> requests.Response:
    return requests.post(f"{base}/fhir/auth/token", data={"grant_type": "client_credentials", **extra},
                         auth=(client_id, secret), timeout=60)


@pytest.fixture
def hospital(live_server, make_record, community):
    """The county hospital's HIS registered on township A (the patient's clinic is below it)."""
    record = make_record(5)
    client_id, secret = register_client("town-a", "县医院 HIS")
    response = token_for(live_server.url, client_id, secret, scope="system/*.read")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "system/*.read" and body["expires_in"] > 0
    return record, client_id, body["access_token"]


def test_fhirpy_searches_a_patients_reports_follows_paging_and_include(live_server, hospital, community):
    record, client_id, token = hospital
    client = SyncFHIRClient(f"{live_server.url}/fhir", authorization=f"Bearer {token}")
    # every report of the patient, two per page: fhirpy follows the next links
    reports = client.resources("DiagnosticReport").search(patient=f"Patient/{record.patient.pk}").limit(2).fetch_all()
    assert sorted(r.id for r in reports) == sorted(f"{v.report_id}-1" for v in record.versions)
    assert all(r.subject.reference == f"Patient/{record.patient.pk}" for r in reports)
    # one page with the patient and the orders included
    raw = (client.resources("DiagnosticReport").search(patient=record.patient.pk, category="EC")
           .include("DiagnosticReport", "patient").include("DiagnosticReport", "based-on").limit(10).fetch_raw())
    bundle = Bundle.model_validate(raw.serialize() if hasattr(raw, "serialize") else raw)
    modes = [(e.search.mode, e.resource.get_resource_type()) for e in bundle.entry]
    assert modes.count(("match", "DiagnosticReport")) == 3 and modes.count(("include", "Patient")) == 1
    assert modes.count(("include", "ServiceRequest")) == 3
    # a read by id, and the patient found by identifier
    assert client.reference("DiagnosticReport", f"{record.versions[0].report_id}-1").to_resource().status == "final"
    found = client.resources("Patient").search(identifier=record.patient.health_record_no).fetch()
    assert [p.id for p in found] == [str(record.patient.pk)]
    # audited as the client of township A
    rows = AuditEvent.objects.filter(interface="fhir", actor_username__startswith="fhir-client-")
    assert rows.filter(object_type="ReportVersion").count() >= 5
    assert {(r.detail["client"], r.detail["organisation_id"]) for r in rows} == {(client_id, community.township_a.pk)}
    assert set(rows.values_list("patient_id", flat=True)) == {record.patient.pk}


def test_fhirclient_searches_with_paging_and_include(live_server, hospital):
    record, client_id, token = hospital
    server = FHIRServer(None, base_uri=f"{live_server.url}/fhir/")
    server.session.headers["Authorization"] = f"Bearer {token}"
    search = ClientDiagnosticReport.where(struct={"patient": str(record.patient.pk), "_count": "2"}).include("subject")
    pages = list(search.perform_iter(server))
    assert len(pages) == 3 and all(page.total == 5 for page in pages)
    matches = [e.resource for page in pages for e in page.entry if e.search.mode == "match"]
    included = [e.resource for page in pages for e in page.entry if e.search.mode == "include"]
    assert sorted(r.id for r in matches) == sorted(f"{v.report_id}-1" for v in record.versions)
    assert {(r.resource_type, r.id) for r in included} == {("Patient", str(record.patient.pk))}
    assert matches[0].code.coding[0].system == "http://loinc.org"


def test_a_client_reaches_its_organisation_subtree_only(live_server, hospital, community):
    record, _, _ = hospital
    other_id, other_secret = register_client("town-b", "青山镇 HIS")
    token = token_for(live_server.url, other_id, other_secret).json()["access_token"]
    client = SyncFHIRClient(f"{live_server.url}/fhir", authorization=f"Bearer {token}")
    assert client.resources("DiagnosticReport").search(patient=record.patient.pk).fetch_all() == []
    with pytest.raises(ResourceNotFound):
        client.reference("Patient", record.patient.pk).to_resource()
    assert not AuditEvent.objects.filter(detail__client=other_id).exists()


def test_tokens_are_read_only_and_for_fhir_only(live_server, hospital):
    record, client_id, token = hospital
    bearer = {"Authorization": f"Bearer {token}"}
    # the REST API does not take a FHIR client's token
    assert requests.get(f"{live_server.url}/api/patients/", headers=bearer, timeout=60).status_code in (401, 403)
    # no write scope to ask for, no wrong secret, no made-up token
    assert token_for(live_server.url, client_id, "wrong").status_code == 401
    write_id, write_secret = register_client("town-a", "wants to write")
    refused = token_for(live_server.url, write_id, write_secret, scope="system/*.write")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    assert token_for(live_server.url, write_id, write_secret, scope="system/*.read").status_code == 200
    response = requests.get(f"{live_server.url}/fhir/Patient", headers={"Authorization": "Bearer nonsense"}, timeout=60)
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"
    # the FHIR base answers reads only
    response = requests.post(f"{live_server.url}/fhir/Patient", json={"resourceType": "Patient"}, headers=bearer,
                             timeout=60)
    assert response.status_code in (404, 405) and response.json()["resourceType"] == "OperationOutcome"


def test_the_command_refuses_an_unknown_organisation(db):
    with pytest.raises(CommandError, match="No organisation"):
        call_command("fhir_client", "nowhere", "HIS")
