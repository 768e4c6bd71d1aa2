"""FHIR R4 ImagingStudy of a stored DICOM study: built from rows the selector already checked."""
from .models import ImagingStudy

DICOM_UID = "urn:dicom:uid"
DCM = "http://dicom.nema.org/resources/ontology/DCM"


def imaging_study(study: ImagingStudy, *, wado_base: str) -> dict:
    """The study with its series and instances; `wado_base` is the DICOMweb root for the endpoint."""
    series = list(study.series.prefetch_related("instances"))
    resource = {
        "resourceType": "ImagingStudy",
        "id": str(study.pk),
        "identifier": [{"system": DICOM_UID, "value": f"urn:oid:{study.study_instance_uid}"}],
        "status": "available",
        "subject": ({"reference": f"Patient/{study.patient_id}", "display": study.patient.name} if study.patient
                    else {"display": study.dicom_patient_name or "unmatched"}),  # R4: subject is 1..1
        "numberOfSeries": len(series),
        "numberOfInstances": sum(s.instances.count() for s in series),
        "contained": [{"resourceType": "Endpoint", "id": "wado", "status": "active",
                       "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                                          "code": "dicom-wado-rs"},
                       "payloadType": [{"text": "DICOM"}], "address": wado_base}],
        "endpoint": [{"reference": "#wado"}],
        "series": [_series(s) for s in series],
    }
    if study.consultation_id:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{study.consultation_id}"}]
    if study.description:
        resource["description"] = study.description
    if study.study_date:
        resource["started"] = study.study_date.isoformat()
    return resource


def _series(series) -> dict:
    body = {
        "uid": series.series_instance_uid,
        "modality": {"system": DCM, "code": series.modality or "OT"},
        "numberOfInstances": series.instances.count(),
        "instance": [{"uid": i.sop_instance_uid, "sopClass": {"system": "urn:ietf:rfc:3986",
                                                               "code": f"urn:oid:{i.sop_class_uid}"},
                      **({"number": i.instance_number} if i.instance_number is not None else {})}
                     for i in series.instances.all()],
    }
    if series.series_number is not None:
        body["number"] = series.series_number
    if series.description:
        body["description"] = series.description
    return body
