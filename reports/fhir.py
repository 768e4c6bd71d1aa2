"""FHIR R4 read views of reports: DiagnosticReport (PDF as presentedForm), ECG Observation, ServiceRequest.

Resources are plain dicts built from rows the selectors already checked; tests validate them
with fhir.resources (its R4B models: R4B only adds to R4 in areas not used here).
ImagingStudy is served by the studies app (studies/fhir.py).
"""
import base64
import hashlib

from consult.models import Consultation

from .models import ReportVersion

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
REPORT_CODES = {"ecg": ("11524-6", "EKG study"), "imaging": ("18748-4", "Diagnostic imaging study"),
                "consultation": ("11488-4", "Consult note")}
CATEGORIES = {"ecg": ("EC", "Electrocardiac (e.g., EKG, EEC, Holter)"), "imaging": ("RAD", "Radiology"),
              "consultation": ("OTH", "Other")}
CONCLUSION_FIELD = {"ecg": "conclusion", "imaging": "impression", "consultation": "assessment"}
ECG_COMPONENTS = {  # field: (LOINC code, display, UCUM unit)
    "rate_bpm": ("8867-4", "Heart rate", "/min"),
    "pr_ms": ("8625-6", "P-R Interval", "ms"),
    "qrs_ms": ("8633-0", "QRS duration", "ms"),
    "qt_ms": ("8634-8", "Q-T Interval", "ms"),
    "qtc_ms": ("8636-3", "Q-T Interval corrected", "ms"),
    "axis_deg": ("8632-2", "QRS axis", "deg"),
}
SERVICE_REQUEST_STATUS = {Consultation.State.CANCELLED: "revoked", Consultation.State.CLOSED: "completed",
                          Consultation.State.REPORTED: "completed"}
AMENDMENT_REASON_URL = "https://teleclinic.example.cn/fhir/StructureDefinition/amendment-reason"


def version_status(version: ReportVersion) -> str:
    return "amended" if version.number > 1 else "final"


def diagnostic_report(version: ReportVersion, *, pdf_url: str, pdf_bytes: bytes | None) -> dict:
    report, consultation = version.report, version.report.consultation
    code, display = REPORT_CODES[report.kind]
    category, category_display = CATEGORIES[report.kind]
    resource = {
        "resourceType": "DiagnosticReport",
        "id": f"{report.pk}-{version.number}",
        "identifier": [{"system": "urn:teleclinic:report-verification-code", "value": version.verification_code}],
        "basedOn": [{"reference": f"ServiceRequest/{consultation.pk}"}],
        "status": version_status(version),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": category,
                                  "display": category_display}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{consultation.patient_id}", "display": consultation.patient.name},
        "effectiveDateTime": consultation.created_at.isoformat(),
        "issued": version.signed_at.isoformat(),
        "performer": [_practitioner(version.signed_by)],
        "resultsInterpreter": [_practitioner(version.signed_by)],
        "conclusion": version.content.get(CONCLUSION_FIELD[report.kind]) or "",
    }
    if report.kind == "ecg" and _measured(version):
        resource["result"] = [{"reference": f"Observation/{ecg_observation_id(version)}"}]
    if version.amendment_reason:
        resource["extension"] = [{"url": AMENDMENT_REASON_URL, "valueString": version.amendment_reason}]
    if version.pdf:
        attachment = {"contentType": "application/pdf", "language": "zh-CN", "url": pdf_url,
                      "title": f"report-{report.pk}-v{version.number}.pdf",
                      "creation": version.pdf_rendered_at.isoformat()}
        if pdf_bytes is not None:
            attachment.update(data=base64.b64encode(pdf_bytes).decode(), size=len(pdf_bytes),
                              hash=base64.b64encode(hashlib.sha1(pdf_bytes).digest()).decode())  # FHIR: SHA-1
        resource["presentedForm"] = [attachment]
    return resource


def ecg_observation_id(version: ReportVersion) -> str:
    return f"ecg-{version.report_id}-{version.number}"


def ecg_observation(version: ReportVersion) -> dict:
    consultation = version.report.consultation
    return {
        "resourceType": "Observation",
        "id": ecg_observation_id(version),
        "status": version_status(version),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "procedure", "display": "Procedure"}]}],
        "code": {"coding": [{"system": LOINC, "code": "34534-8", "display": "12 lead EKG panel"}]},
        "subject": {"reference": f"Patient/{consultation.patient_id}"},
        "basedOn": [{"reference": f"ServiceRequest/{consultation.pk}"}],
        "effectiveDateTime": consultation.created_at.isoformat(),
        "issued": version.signed_at.isoformat(),
        "performer": [_practitioner(version.signed_by)],
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
             "valueQuantity": {"value": version.content[field], "unit": unit, "system": UCUM, "code": unit}}
            for field, (code, display, unit) in ECG_COMPONENTS.items() if version.content.get(field) is not None
        ],
    }


def service_request(consultation: Consultation) -> dict:
    resource = {
        "resourceType": "ServiceRequest",
        "id": str(consultation.pk),
        "status": SERVICE_REQUEST_STATUS.get(consultation.state, "active"),
        "intent": "order",
        "priority": consultation.urgency,  # stat | urgent | routine are FHIR request priorities too
        "code": {"text": f"远程会诊 {consultation.specialty.name} remote consultation"},
        "subject": {"reference": f"Patient/{consultation.patient_id}", "display": consultation.patient.name},
        "authoredOn": consultation.created_at.isoformat(),
        "requester": _practitioner(consultation.requested_by),
        "reasonCode": [{"text": consultation.reason}],
    }
    if consultation.assigned_expert_id:
        resource["performer"] = [_practitioner(consultation.assigned_expert.user)]
    return resource


def _measured(version: ReportVersion) -> bool:
    return any(version.content.get(field) is not None for field in ECG_COMPONENTS)


def _practitioner(user) -> dict:
    return {"reference": f"Practitioner/{user.pk}", "display": str(user)}

