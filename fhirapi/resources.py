"""The FHIR resource types served at the FHIR base: how each is found, searched, built and included.

One `ResourceType` per type: the model and its querysets (every read goes through
directory.access.scoped/access_get, so the access rules of the apps apply to FHIR unchanged), the
search parameters, how a logical id maps to a row, the builder (the apps' own FHIR modules:
reports/fhir.py, scheduling/fhir.py, studies/fhir.py; Patient here) and the `_include`s.
"""
from dataclasses import dataclass, field
from typing import Callable

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from consult.models import Consultation
from directory.models import Patient
from reports import fhir as report_fhir
from reports.models import Report, ReportVersion
from scheduling import fhir as scheduling_fhir
from scheduling.models import Booking, CloudClinicSession, Slot
from studies import fhir as study_fhir
from studies.models import ImagingStudy

from .params import Param, date_param, id_param, reference_param, string_param, token_param

HEALTH_RECORD_SYSTEM = "urn:teleclinic:health-record-no"
RESIDENT_ID_SYSTEM = "urn:teleclinic:resident-id-number"  # searchable, never shown (masked elsewhere)
GENDER = {"M": "male", "F": "female", "O": "other"}
NOTHING = Q(pk__in=[])


@dataclass
class Context:
    """What a builder may need of the request: absolute URLs."""

    absolute: Callable[[str], str]
    single: bool = False  # a read by id (a search leaves large parts out: the PDF's bytes)


@dataclass
class Include:
    target: str  # the included resource type
    ids: Callable[[object], list[int]]  # the target rows' primary keys an object refers to


@dataclass
class ResourceType:
    name: str
    model: type
    queryset: Callable[[], QuerySet]  # for reads by id (every version, every state)
    build: Callable[[object, Context], dict]
    lookup: Callable[[str], dict | None]  # logical id -> ORM lookup, None if no such form
    params: dict[str, Param]
    order: tuple[str, ...]
    search_filter: Q = field(default_factory=Q)  # what a search sees beyond reads (current versions)
    includes: dict[str, Include] = field(default_factory=dict)
    ids_of: Callable[[object], tuple[int | None, int | None]] | None = None  # (patient, consultation) to audit

    def search_queryset(self) -> QuerySet:
        return self.queryset().filter(self.search_filter)


def _int_id(value: str) -> dict | None:
    return {"pk": int(value)} if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _version_id(prefix: str = ""):
    def lookup(value: str) -> dict | None:
        if not value.startswith(prefix):
            return None
        report, _, number = value[len(prefix):].partition("-")
        if not (report.isascii() and number.isascii() and report.isdigit() and number.isdigit()) \
                or len(report) > 18 or len(number) > 9:
            return None
        return {"report_id": int(report), "number": int(number)}

    return lookup


def _codes(table: dict[str, tuple[str, str]], system: str, column: str):
    """A token over a table {our value: (code, display)} in one code system."""

    def codes(sys: str | None, code: str) -> Q | None:
        if sys not in (None, system):
            return None
        values = [value for value, (c, _) in table.items() if c == code]
        return Q(**{f"{column}__in": values}) if values else None

    return codes


def _plain(column: str, values: dict[str, object] | None = None, system: str | None = None):
    """A token over a column's own values (optionally mapped: FHIR code -> column value)."""

    def codes(sys: str | None, code: str) -> Q | None:
        if system is not None and sys not in (None, system):
            return None
        if values is None:
            return Q(**{column: code})
        if code not in values:
            return None
        value = values[code]
        return value if isinstance(value, Q) else Q(**{column: value})

    return codes


# ---- Patient -------------------------------------------------------------------------------------------
def patient(row: Patient, ctx: Context) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": str(row.pk),
        "identifier": [{"use": "usual", "system": HEALTH_RECORD_SYSTEM, "value": row.health_record_no}],
        "name": [{"use": "official", "text": row.name}],
        "gender": GENDER.get(row.sex, "unknown"),
        "birthDate": row.birth_date.isoformat(),
        "managingOrganization": {"reference": f"Organization/{row.home_clinic_id}", "display": row.home_clinic.name},
    }
    if row.phone:
        resource["telecom"] = [{"system": "phone", "value": row.phone}]
    return resource


def _patient_identifier(system: str | None, code: str) -> Q | None:
    if system == HEALTH_RECORD_SYSTEM:
        return Q(health_record_no=code)
    if system == RESIDENT_ID_SYSTEM:
        return Q(id_number=code.upper())
    if system is None:
        return Q(health_record_no=code) | Q(id_number=code.upper())
    return None


PATIENT = ResourceType(
    "Patient", Patient, lambda: Patient.objects.select_related("home_clinic"), patient, _int_id,
    params={
        "_id": id_param(_int_id),
        "identifier": token_param(_patient_identifier, doc=f"{HEALTH_RECORD_SYSTEM}|<no> or {RESIDENT_ID_SYSTEM}|<no>"),
        "name": string_param("name", doc="the name (starts with; :exact, :contains)"),
        "birthdate": date_param("birth_date", is_date=True),
        "gender": token_param(_plain("sex", {v: k for k, v in GENDER.items()},
                                         "http://hl7.org/fhir/administrative-gender")),
        "organization": reference_param("home_clinic_id", "Organization", doc="the home clinic"),
    },
    order=("name", "id"))


# ---- ServiceRequest (a consultation) --------------------------------------------------------------------
SR_STATUS = {"active": ~Q(state__in=list(report_fhir.SERVICE_REQUEST_STATUS)),
             "revoked": Q(state=Consultation.State.CANCELLED),
             "completed": Q(state__in=[Consultation.State.CLOSED, Consultation.State.REPORTED])}

SERVICE_REQUEST = ResourceType(
    "ServiceRequest", Consultation,
    lambda: Consultation.objects.select_related("patient", "specialty", "requested_by", "assigned_expert__user"),
    lambda row, ctx: report_fhir.service_request(row), _int_id,
    params={
        "_id": id_param(_int_id),
        "patient": reference_param("patient_id", "Patient"),
        "subject": reference_param("patient_id", "Patient"),
        "status": token_param(_plain("state", SR_STATUS, "http://hl7.org/fhir/request-status")),
        "priority": token_param(_plain("urgency", {"stat": "stat", "urgent": "urgent", "routine": "routine"})),
        "authored": date_param("created_at"),
    },
    order=("-created_at", "-id"),
    includes={"ServiceRequest:patient": Include("Patient", lambda row: [row.patient_id]),
              "ServiceRequest:subject": Include("Patient", lambda row: [row.patient_id])})


# ---- DiagnosticReport and the ECG Observation (report versions) -----------------------------------------
VERSION_RELATED = ("report__consultation__patient", "signed_by")
CURRENT = Q(number=F("report__latest_version"))  # a search finds each report's current version


def _version_ids(row) -> tuple[int | None, int | None]:
    return row.patient_id, row.report.consultation_id


def diagnostic_report(row: ReportVersion, ctx: Context) -> dict:
    url = ctx.absolute(f"/api/reports/{row.report_id}/versions/{row.number}/pdf/")
    pdf_bytes = None
    if ctx.single and row.pdf:  # a read carries the PDF inline; a search only its URL
        with row.pdf.open("rb") as handle:
            pdf_bytes = handle.read()
    return report_fhir.diagnostic_report(row, pdf_url=url, pdf_bytes=pdf_bytes)


_CATEGORY = _codes(report_fhir.CATEGORIES, "http://terminology.hl7.org/CodeSystem/v2-0074", "report__kind")
_CODE = _codes(report_fhir.REPORT_CODES, report_fhir.LOINC, "report__kind")
_STATUS = _plain("number", {"final": Q(number=1), "amended": Q(number__gt=1)},
                 "http://hl7.org/fhir/diagnostic-report-status")
_VERSION_INCLUDES = {
    "patient": Include("Patient", lambda row: [row.patient_id]),
    "subject": Include("Patient", lambda row: [row.patient_id]),
    "based-on": Include("ServiceRequest", lambda row: [row.report.consultation_id]),
}

DIAGNOSTIC_REPORT = ResourceType(
    "DiagnosticReport", ReportVersion,
    lambda: ReportVersion.objects.select_related(*VERSION_RELATED), diagnostic_report, _version_id(),
    params={
        "_id": id_param(_version_id()),
        "patient": reference_param("patient_id", "Patient"),
        "subject": reference_param("patient_id", "Patient"),
        "based-on": reference_param("report__consultation_id", "ServiceRequest"),
        "status": token_param(_STATUS),
        "category": token_param(_CATEGORY, doc="v2-0074: EC (ECG), RAD (imaging), OTH (consultation)"),
        "code": token_param(_CODE, doc="LOINC: 11524-6 ECG, 18748-4 imaging, 11488-4 consult note"),
        "date": date_param("report__consultation__created_at", doc="effective: when the consultation was asked"),
        "issued": date_param("signed_at"),
    },
    order=("-signed_at", "-id"), search_filter=CURRENT,
    includes={f"DiagnosticReport:{k}": v for k, v in _VERSION_INCLUDES.items()}, ids_of=_version_ids)

ECG_MEASURED = Q(report__kind=Report.Kind.ECG, content__has_any_keys=list(report_fhir.ECG_COMPONENTS))

OBSERVATION = ResourceType(
    "Observation", ReportVersion,
    lambda: ReportVersion.objects.select_related(*VERSION_RELATED).filter(ECG_MEASURED),
    lambda row, ctx: report_fhir.ecg_observation(row), _version_id("ecg-"),
    params={
        "_id": id_param(_version_id("ecg-")),
        "patient": reference_param("patient_id", "Patient"),
        "subject": reference_param("patient_id", "Patient"),
        "based-on": reference_param("report__consultation_id", "ServiceRequest"),
        "status": token_param(_STATUS),
        "category": token_param(_plain("report__kind", {"procedure": Report.Kind.ECG},
                                       "http://terminology.hl7.org/CodeSystem/observation-category")),
        "code": token_param(_plain("report__kind", {"34534-8": Report.Kind.ECG}, report_fhir.LOINC)),
        "date": date_param("report__consultation__created_at"),
    },
    order=("-signed_at", "-id"), search_filter=CURRENT,
    includes={f"Observation:{k}": v for k, v in _VERSION_INCLUDES.items()}, ids_of=_version_ids)


# ---- ImagingStudy ---------------------------------------------------------------------------------------
def _study_identifier(system: str | None, code: str) -> Q | None:
    if system not in (None, study_fhir.DICOM_UID):
        return None
    return Q(study_instance_uid=code.removeprefix("urn:oid:"))


IMAGING_STUDY = ResourceType(
    "ImagingStudy", ImagingStudy, lambda: ImagingStudy.objects.select_related("patient"),
    lambda row, ctx: study_fhir.imaging_study(row, wado_base=ctx.absolute("/dicomweb")), _int_id,
    params={
        "_id": id_param(_int_id),
        "patient": reference_param("patient_id", "Patient"),
        "subject": reference_param("patient_id", "Patient"),
        "basedon": reference_param("consultation_id", "ServiceRequest"),
        "identifier": token_param(_study_identifier, doc="the Study Instance UID (urn:dicom:uid|urn:oid:1.2...)"),
        "started": date_param("study_date", is_date=True),
        "modality": token_param(lambda system, code: Q(series__modality=code)
                                if system in (None, study_fhir.DCM) else None),
    },
    order=("-created_at", "-id"),
    includes={"ImagingStudy:patient": Include("Patient", lambda row: [row.patient_id] if row.patient_id else []),
              "ImagingStudy:subject": Include("Patient", lambda row: [row.patient_id] if row.patient_id else []),
              "ImagingStudy:basedon": Include("ServiceRequest",
                                              lambda row: [row.consultation_id] if row.consultation_id else [])})


# ---- Schedule, Slot, Appointment ------------------------------------------------------------------------
LIVE_BOOKING = ("booked", "arrived")
SPECIALTY = scheduling_fhir.SERVICE_SYSTEM


def _slots() -> QuerySet:
    taken = Booking.objects.filter(slot=OuterRef("pk"), status__in=LIVE_BOOKING)
    return Slot.objects.select_related("session__expert__user", "session__specialty").annotate(taken=Exists(taken))


UNAVAILABLE = Q(kind=Slot.Kind.GREEN_CHANNEL) | Q(kind=Slot.Kind.GRASSROOTS, released_at__isnull=True)
SLOT_STATUS = {"busy": Q(taken=True), "busy-unavailable": Q(taken=False) & UNAVAILABLE,
               "free": Q(taken=False) & ~UNAVAILABLE}

SCHEDULE = ResourceType(
    "Schedule", CloudClinicSession,
    lambda: CloudClinicSession.objects.select_related("expert__user", "specialty", "organisation"),
    lambda row, ctx: scheduling_fhir.schedule(row), _int_id,
    params={
        "_id": id_param(_int_id),
        "actor": reference_param("expert_id", "Practitioner"),
        "date": date_param("starts_at", doc="when the session starts"),
        "active": token_param(_plain("state", {"true": "scheduled", "false": ~Q(state="scheduled")})),
        "service-type": token_param(_plain("specialty__code", system=SPECIALTY)),
    },
    order=("starts_at", "id"))

SLOT = ResourceType(
    "Slot", Slot, _slots, lambda row, ctx: scheduling_fhir.slot(row, taken=row.taken), _int_id,
    params={
        "_id": id_param(_int_id),
        "schedule": reference_param("session_id", "Schedule"),
        "start": date_param("starts_at"),
        "status": token_param(_plain("taken", SLOT_STATUS, "http://hl7.org/fhir/slotstatus")),
        "service-type": token_param(_plain("session__specialty__code", system=SPECIALTY)),
    },
    order=("starts_at", "id"),
    includes={"Slot:schedule": Include("Schedule", lambda row: [row.session_id])})

APPOINTMENT = ResourceType(
    "Appointment", Booking,
    lambda: Booking.objects.select_related("slot__session__expert__user", "slot__session__specialty", "patient"),
    lambda row, ctx: scheduling_fhir.appointment(row), _int_id,
    params={
        "_id": id_param(_int_id),
        "patient": reference_param("patient_id", "Patient"),
        "actor": reference_param("patient_id", "Patient", doc="Patient/<id> (a practitioner: use practitioner)"),
        "practitioner": reference_param("slot__session__expert_id", "Practitioner"),
        "slot": reference_param("slot_id", "Slot"),
        "based-on": reference_param("consultation_id", "ServiceRequest"),
        "status": token_param(_plain("status", {s: s for s in scheduling_fhir.APPOINTMENT_STATUS},
                                     "http://hl7.org/fhir/appointmentstatus")),
        "date": date_param("slot__starts_at"),
        "service-type": token_param(_plain("slot__session__specialty__code", system=SPECIALTY)),
    },
    order=("slot__starts_at", "id"),
    includes={"Appointment:patient": Include("Patient", lambda row: [row.patient_id]),
              "Appointment:actor": Include("Patient", lambda row: [row.patient_id]),
              "Appointment:slot": Include("Slot", lambda row: [row.slot_id])})


TYPES: dict[str, ResourceType] = {t.name: t for t in (
    PATIENT, SERVICE_REQUEST, DIAGNOSTIC_REPORT, OBSERVATION, IMAGING_STUDY, APPOINTMENT, SLOT, SCHEDULE)}
