"""FHIR R4 read views, validated with fhir.resources (its R4B models; R4B is R4 plus additions unused here)."""
import base64
import hashlib

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.servicerequest import ServiceRequest

from reports.services import delivery as delivery_services


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.mark.django_db
def test_diagnostic_report_carries_the_pdf_as_presented_form(api, people, signed_report):
    # given a signed, rendered ECG report
    version = signed_report("ecg")
    delivery_services.version_render_pdf(version_id=version.pk)
    # when the village doctor reads it as FHIR
    response = api(people["village_doctor"]).get(f"/fhir/DiagnosticReport/{version.report_id}-1")
    # then it validates as a DiagnosticReport whose presentedForm is the stored PDF
    assert response.status_code == 200 and response["Content-Type"].startswith("application/fhir+json")
    resource = DiagnosticReport.model_validate(response.json())
    form = resource.presentedForm[0]
    version.refresh_from_db()
    pdf = version.pdf.read()
    raw = response.json()["presentedForm"][0]
    assert form.contentType == "application/pdf" and base64.b64decode(raw["data"]) == pdf and form.size == len(pdf)
    assert base64.b64decode(raw["hash"]) == hashlib.sha1(pdf).digest()
    assert resource.status == "final" and resource.conclusion == "急性下壁心肌梗死可能"
    assert resource.result[0].reference == f"Observation/ecg-{version.report_id}-1"
    assert resource.basedOn[0].reference == f"ServiceRequest/{version.report.consultation_id}"


@pytest.mark.django_db
def test_ecg_measurements_are_an_observation_with_loinc_components(api, people, signed_report):
    version = signed_report("ecg")
    response = api(people["expert"]).get(f"/fhir/Observation/ecg-{version.report_id}-1")
    resource = Observation.model_validate(response.json())
    values = {c.code.coding[0].code: (float(c.valueQuantity.value), c.valueQuantity.code) for c in resource.component}
    assert values["8867-4"] == (72, "/min") and values["8636-3"] == (419, "ms") and values["8625-6"] == (162, "ms")


@pytest.mark.django_db
def test_an_amended_version_reads_as_amended_with_its_reason(api, people, signed_report):
    from reports.services import drafting

    version = signed_report("imaging")
    drafting.amendment_start(report_id=version.report_id, by=people["expert"], reason="更正部位")
    drafting.report_sign(report_id=version.report_id, by=people["expert"])
    body = api(people["village_doctor"]).get(f"/fhir/DiagnosticReport/{version.report_id}-2").json()
    resource = DiagnosticReport.model_validate(body)
    assert resource.status == "amended" and resource.extension[0].valueString == "更正部位"
    assert "presentedForm" not in body  # not rendered yet


@pytest.mark.django_db
def test_the_consultation_is_a_service_request(api, people, assigned):
    consultation = assigned(urgency="stat")
    response = api(people["village_doctor"]).get(f"/fhir/ServiceRequest/{consultation.pk}")
    resource = ServiceRequest.model_validate(response.json())
    assert (resource.priority, resource.intent, resource.status) == ("stat", "order", "active")
    assert resource.performer[0].reference == f"Practitioner/{people['expert'].pk}"
    assert api(people["other_village_doctor"]).get(f"/fhir/ServiceRequest/{consultation.pk}").status_code == 404
