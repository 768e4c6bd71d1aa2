"""Ingest's shared terms: who sent a file (Source), what storing it gave (Stored), the limits and critical
thresholds the parsers apply, and the audit of a write refused for reach."""
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.db import IntegrityError

from audit.models import AuditEvent
from audit.services import audit_record
from consult.models import Consultation
from directory.models import Organisation, Patient, User

from ..errors import StudyOutOfReach
from ..formats.ecg.measure import CriticalThresholds
from ..formats.limits import Limits
from ..models import EcgRecord, Instance

SYSTEM = SimpleNamespace(username="system:studies-ingest", is_authenticated=False)


def limits() -> Limits:
    return Limits(max_file_bytes=settings.STUDIES_MAX_UPLOAD_BYTES)


def thresholds() -> CriticalThresholds:
    return CriticalThresholds(**settings.STUDIES_ECG_CRITICAL)


@dataclass
class Stored:
    instance: Instance
    created: bool  # False: this SOP Instance UID was already stored
    study_created: bool = False
    ecg: EcgRecord | None = None  # a DICOM ECG stored now (or its record made for another consultation)
    linked: bool = False  # stored before under another consultation of the patient: now read in this one too


@dataclass
class Source:
    """Who sent a file and to what it belongs; `organisation` bounds patient matching."""

    by: User | None
    organisation: Organisation | None
    consultation: Consultation | None = None
    patient: Patient | None = None
    interface: str = "api"


def once_more_on_race(store):
    """Run a storing transaction; if a concurrent one took a unique key first, run it again (it then finds it)."""
    try:
        return store()
    except IntegrityError:
        return store()


def patient_sex(patient: Patient | None) -> str:
    """The sex an ECG's QTc is judged by: the patient's on record, when the upload names them."""
    return patient.sex if patient is not None else ""



def refusal_audit(*, source: Source, error: Exception, request=None) -> None:
    """A write refused because it named a study out of the sender's reach: audited under that study
    (and so its patient), with who tried."""
    if isinstance(error, StudyOutOfReach):
        audit_record(actor=source_actor(source), action=AuditEvent.Action.REFUSED, obj=error.study, interface=source.interface,
                     request=request, detail={"code": error.code, "organisation": getattr(source.organisation, "pk", None)})


def source_actor(source: Source):
    """Who the audit log names for a write: the user, or the DICOM node (C-STORE) by its organisation."""
    if source.by is not None:
        return source.by
    code = getattr(source.organisation, "code", "unknown")
    return SimpleNamespace(username=f"dicom-node:{code}"[:150], is_authenticated=False)
