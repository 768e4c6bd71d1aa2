"""Reads of the patient record: the timeline, the reader's priors, results recognised. All audited.

Who reads a record is directory.access RECORD_ACCESS (patient_q for VIEW); once a reader may read
the record, the timeline shows every consultation, study, report version, referral and follow-up
of the patient across the community, whichever clinic asked for it.
"""
import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import BooleanField, Exists, ExpressionWrapper, IntegerField, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from audit.services import audit_record, audit_record_many
from consult.models import Consultation
from directory.access import CHANGE, VIEW, access_get, record_rules_for, scoped
from directory.models import Patient, User
from reports.models import ReportVersion
from scheduling.models import FollowUpTask, Referral
from studies.models import EcgRecord, ImagingStudy, Instance, Photo, Series
from studies.selectors import ecg_get
from teleclinic.errors import InvalidInput, NotFound

from .models import AttachedStudy

NOT_FOUND = "No such patient in your reach."
# The kinds of the timeline, in their tie-break order (rank): at one instant, a later kind comes first.
KINDS = ("followup", "referral", "report", "photo", "imaging", "ecg", "consultation")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
# Which study kind a new consultation of a specialty asks for (results recognised); others: both.
SPECIALTY_STUDY_KINDS = {"cardiology": ("ecg",), "radiology": ("imaging",)}
STUDY_KINDS = ("ecg", "imaging")


def record_patient(*, user: User, patient_id, request=None, interface: str = "api", what: str = "record",
                   audit: bool = True) -> Patient:
    """The patient whose record `user` reads (RECORD_ACCESS), audited with the rows that let them in (in
    `patient.record_via`; audit=False leaves the audit row to the caller: audit_timeline_page); NotFound
    otherwise, with the same body as for a patient who does not exist. One query: each row of the table
    the reader's role has is a flag on the patient (patient_q is their union, so the same rule)."""
    rules = record_rules_for(user)
    now = timezone.now()
    flags = {}
    for i, rule in enumerate(rules):
        q = rule.patients(user, now)
        flags[f"rule_{i}"] = ExpressionWrapper(q if q != Q() else Q(pk__isnull=False), output_field=BooleanField())
    try:
        patient = Patient.objects.select_related("home_clinic").annotate(**flags).get(pk=patient_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise NotFound(NOT_FOUND)
    via = [rule.name for i, rule in enumerate(rules) if getattr(patient, f"rule_{i}")]
    if not via:
        raise NotFound(NOT_FOUND)
    patient.record_via = via  # type: ignore[attr-defined]  # the RECORD_ACCESS rows that let the reader in
    if audit:
        audit_record(actor=user, action="read", obj=patient, interface=interface, request=request,
                     detail={"record": what, "via": via})
    return patient


# --- the timeline ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cursor:
    at: dt.datetime
    rank: int
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), self.rank, self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            at, rank, pk = json.loads(raw)
            cursor = cls(dt.datetime.fromisoformat(at), int(rank), int(pk))
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput("cursor: use the next_cursor of the previous page.", code="bad_cursor")
        if cursor.at.tzinfo is None or not 0 <= cursor.rank < len(KINDS):
            raise InvalidInput("cursor: use the next_cursor of the previous page.", code="bad_cursor")
        return cursor


@dataclass
class Item:
    kind: str
    at: dt.datetime
    obj: Any  # a row of the kind's model

    @property
    def key(self) -> tuple:
        return (self.at, KINDS.index(self.kind), self.obj.pk)


def _after(cursor: Cursor | None, kind: str, field: str) -> Q:
    """The rows of `kind` that come after `cursor` in (at desc, rank desc, id desc) order."""
    if cursor is None:
        return Q()
    rank = KINDS.index(kind)
    if rank < cursor.rank:
        return Q(**{f"{field}__lte": cursor.at})
    if rank > cursor.rank:
        return Q(**{f"{field}__lt": cursor.at})
    return Q(**{f"{field}__lt": cursor.at}) | Q(**{field: cursor.at, "pk__lt": cursor.id})


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=timezone.get_default_timezone())


def _window(field: str, date_from: dt.date | None, date_to: dt.date | None) -> Q:
    q = Q()
    if date_from is not None:
        q &= Q(**{f"{field}__gte": _day_start(date_from)})
    if date_to is not None:
        q &= Q(**{f"{field}__lt": _day_start(date_to + dt.timedelta(days=1))})
    return q


def _ecg_only() -> Q:
    """Imaging studies that hold ECG waveforms and nothing else (listed as their ECGs instead)."""
    instances = Instance.objects.filter(series__study=OuterRef("pk"))
    return Q(Exists(instances.filter(ecg__isnull=False))) & ~Q(Exists(instances.filter(ecg__isnull=True)))


def _sources(patient: Patient) -> dict[str, tuple[QuerySet, str]]:
    """Per kind: the patient's rows, and the field that dates them."""
    ecg_only = _ecg_only()
    return {
        "consultation": (Consultation.objects.filter(patient=patient).select_related(
            "specialty", "requesting_org", "assigned_expert__user"), "created_at"),
        "ecg": (EcgRecord.objects.filter(patient=patient), "created_at"),
        # an imaging study holding only ECG waveforms is shown once, as its ECG (as the reading page does)
        "imaging": (ImagingStudy.objects.filter(patient=patient).exclude(ecg_only), "created_at"),
        "photo": (Photo.objects.filter(patient=patient), "created_at"),
        "report": (ReportVersion.objects.filter(patient=patient)
                   .select_related("report__consultation", "signed_by"), "signed_at"),
        "referral": (Referral.objects.filter(patient=patient).select_related("from_org", "to_org"), "created_at"),
    }


def timeline(*, patient: Patient, kinds: list[str] | None = None, date_from: dt.date | None = None,
             date_to: dt.date | None = None, cursor: Cursor | None = None,
             limit: int = DEFAULT_LIMIT) -> tuple[list[Item], Cursor | None]:
    """One page of the patient's record, newest first, and the cursor of the next page (None at the end).

    First the keys: per kind at most `limit` + 1 (date, id) pairs on the patient's index, merged here;
    then the rows of the page only, one query per kind on the page (building a few hundred model
    instances to keep fifty was most of the time).
    """
    wanted = set(kinds or KINDS)
    sources = _sources(patient)
    parts = [rows.filter(_window(field, date_from, date_to), _after(cursor, kind, field))
             .annotate(rank=Value(KINDS.index(kind), output_field=IntegerField()))
             .order_by(f"-{field}", "-pk").values_list(field, "rank", "pk")[:limit + 1]
             for kind, (rows, field) in sources.items() if kind in wanted]
    if len(parts) > 1 and connections[parts[0].db].features.supports_slicing_ordering_in_compound:
        found = list(parts[0].union(*parts[1:], all=True))  # PostgreSQL: one round trip for every kind
    else:
        found = [row for part in parts for row in part]  # SQLite: a query per kind
    keys: list[tuple[dt.datetime, int, int]] = [(at, rank, pk) for at, rank, pk in found]
    rows_of: dict[str, dict[int, Any]] = {}
    if "followup" in wanted:
        # dated by the day they are due: few per patient, so read whole and filtered here rather than in SQL
        rank = KINDS.index("followup")
        rows_of["followup"] = {task.pk: task for task in FollowUpTask.objects.filter(patient=patient)}
        for pk, task in rows_of["followup"].items():
            if date_from is not None and task.due_on < date_from or date_to is not None and task.due_on > date_to:
                continue
            key = (_day_start(task.due_on), rank, pk)
            if cursor is None or key < (cursor.at, cursor.rank, cursor.id):
                keys.append(key)
    keys.sort(reverse=True)
    chosen = keys[:limit]
    following = Cursor(*chosen[-1]) if len(keys) > limit else None
    for rank in {rank for _, rank, _ in chosen} - {KINDS.index("followup")}:
        kind = KINDS[rank]
        ids = [pk for _, r, pk in chosen if r == rank]
        # by primary key: the kind's filters chose the keys already (an imaging study's EXISTS tests need not run again)
        rows = ImagingStudy.objects.all() if kind == "imaging" else sources[kind][0]
        rows_of[kind] = {row.pk: row for row in rows.filter(pk__in=ids)}
    page = [Item(KINDS[rank], at, rows_of[KINDS[rank]][pk]) for at, rank, pk in chosen]
    _enrich(page)
    return page, following


def _enrich(page: list[Item]) -> None:
    """What a row shows that its own table does not hold: an imaging study's modalities."""
    studies = {item.obj.pk: item.obj for item in page if item.kind == "imaging"}
    for study in studies.values():
        study.modalities = []
    for study_id, modality in (Series.objects.filter(study_id__in=studies).order_by("series_number", "pk")
                               .values_list("study_id", "modality")):
        if modality and modality not in studies[study_id].modalities:
            studies[study_id].modalities.append(modality)


def audit_timeline_page(*, user: User, patient: Patient, page: list[Item], request) -> None:
    """The record's read (with the RECORD_ACCESS rows that let the reader in) and one row per item shown, in
    one INSERT (record_patient(audit=False) left the first to this)."""
    read = {"record": "record", "via": patient.record_via}  # type: ignore[attr-defined]
    audit_record_many(actor=user, action="read", objs=[patient, *(item.obj for item in page)], interface="api",
                      request=request, detail_of=lambda obj: read if obj is patient else None)


# --- priors and results recognised ---------------------------------------------------------------

def _consultation(user: User, consultation_id, action: str = VIEW) -> Consultation:
    return access_get(user, Consultation.objects.select_related("patient", "specialty"), action, pk=consultation_id,
                      not_found="No such consultation in your reach.")


def _own_kinds(consultation: Consultation) -> list[str]:
    kinds = []
    if EcgRecord.objects.filter(consultation=consultation).exists() or consultation.attached_studies.filter(
            ecg__isnull=False).exists():
        kinds.append("ecg")
    if ImagingStudy.objects.filter(consultation=consultation).exists() or consultation.attached_studies.filter(
            imaging_study__isnull=False).exists():
        kinds.append("imaging")
    return kinds


def _study_rows(user: User, patient: Patient, kinds, *, exclude_consultation: Consultation,
                since: dt.datetime | None = None) -> list:
    rows: list = []
    attached = AttachedStudy.objects.filter(consultation=exclude_consultation)
    if "ecg" in kinds:
        ecgs = (EcgRecord.objects.filter(patient=patient).exclude(consultation=exclude_consultation)
                .exclude(pk__in=attached.filter(ecg__isnull=False).values("ecg_id")))
        if since is not None:
            ecgs = ecgs.filter(created_at__gte=since)
        rows += list(scoped(user, ecgs, VIEW).order_by("-created_at", "-pk"))
    if "imaging" in kinds:
        ecg_only = _ecg_only()
        studies = (ImagingStudy.objects.filter(patient=patient).exclude(ecg_only)
                   .exclude(consultation=exclude_consultation)
                   .exclude(pk__in=attached.filter(imaging_study__isnull=False).values("imaging_study_id")))
        if since is not None:
            studies = studies.filter(created_at__gte=since)
        rows += list(scoped(user, studies, VIEW).order_by("-created_at", "-pk"))
    rows.sort(key=lambda row: row.created_at, reverse=True)
    return rows


def priors(*, user: User, consultation_id, request=None) -> tuple[Consultation, list, list[AttachedStudy]]:
    """For the reading page: the studies attached to the consultation from the record, and the patient's
    other studies of the kinds it holds (ECG priors for an ECG, imaging for imaging), newest first."""
    consultation = _consultation(user, consultation_id)
    attached = list(AttachedStudy.objects.filter(consultation=consultation).select_related("ecg", "imaging_study"))
    kinds = _own_kinds(consultation) or list(STUDY_KINDS)
    rows = _study_rows(user, consultation.patient, kinds, exclude_consultation=consultation)
    audit_record_many(actor=user, action="read", objs=[*rows, *attached], interface="api", request=request)
    return consultation, rows, attached


def previous_ecg(*, user: User, ecg_id, request=None) -> tuple[EcgRecord, EcgRecord | None]:
    """For the serial comparison: the ECG `ecg_id` (404 unless the caller may see it) and the patient's most
    recent earlier ECG that the caller may see (directory.access, as the priors above), or None. An
    earlier ECG out of the caller's reach (an expert offered the case reads its own ECG, not the record)
    looks the same as none. Both reads are audited."""
    current = ecg_get(user=user, ecg_id=ecg_id, request=request)
    earlier = Q(created_at__lt=current.created_at) | Q(created_at=current.created_at, pk__lt=current.pk)
    prior = (scoped(user, EcgRecord.objects.filter(earlier, patient_id=current.patient_id), VIEW)
             .order_by("-created_at", "-pk").first())
    if prior is not None:
        audit_record(actor=user, action="read", obj=prior, interface="api", request=request,
                     detail={"serial_comparison_with": current.pk})
    return current, prior


def recognised(*, user: User, consultation_id, kinds: list[str] | None = None, request=None):
    """Results recognised (检查结果互认): the record's studies of the kind the consultation asks for from the
    last RECORD_RECOGNISE_DAYS, that it could attach instead of repeating them."""
    consultation = _consultation(user, consultation_id)
    kinds = kinds or list(SPECIALTY_STUDY_KINDS.get(consultation.specialty.code, STUDY_KINDS))
    since = timezone.now() - dt.timedelta(days=settings.RECORD_RECOGNISE_DAYS)
    rows = _study_rows(user, consultation.patient, kinds, exclude_consultation=consultation, since=since)
    audit_record_many(actor=user, action="read", objs=rows, interface="api", request=request)
    return consultation, rows


def consultation_for_change(*, user: User, consultation_id) -> Consultation:
    return _consultation(user, consultation_id, CHANGE)


def audit_grants_listed(*, user: User, grants, request) -> None:
    audit_record_many(actor=user, action="read", objs=grants, interface="api", request=request)


def study_attached(study_ref: str, consultation_id: int) -> bool:
    """REPORTS_STUDY_ATTACHED: whether "ecg:<id>" or "dicom:<StudyInstanceUID>" is attached to the consultation."""
    kind, _, key = (study_ref or "").partition(":")
    rows = AttachedStudy.objects.filter(consultation_id=consultation_id)
    if kind == "ecg" and key.isascii() and key.isdigit():
        return rows.filter(ecg_id=int(key)).exists()
    if kind == "dicom" and key:
        return rows.filter(imaging_study__study_instance_uid=key).exists()
    return False
