"""What the PDF shows of the study behind a report: the ECG trace and key images of a study_ref.

The loader is the setting REPORTS_STUDY_LOADER (by default the studies app's
studies.report_inputs.load_report_inputs; REPORTS_STUDY_OWNER likewise), reached through settings so
that reports does not import studies (which imports reports.pdf). An ECG report whose trace it cannot
load renders without one and says so (reports/services/delivery.py).
"""
from django.conf import settings
from django.utils.module_loading import import_string

from teleclinic.errors import InvalidInput

from .pdf import EcgTrace


def no_study_inputs(study_ref: str):
    return None, []


def load_study_inputs(study_ref: str | None) -> tuple[EcgTrace | None, list[bytes]]:
    if not study_ref:
        return None, []
    return import_string(settings.REPORTS_STUDY_LOADER)(study_ref)


def check_study_ref(*, study_ref: str | None, patient_id: int, consultation_id: int) -> None:
    """A report reads only a study of its own consultation's patient, never one filed under another consultation."""
    if not study_ref:
        return
    owner = import_string(settings.REPORTS_STUDY_OWNER)(study_ref)
    if owner is None:
        return  # nothing stored under that reference (yet): the PDF says the trace could not be attached
    owner_patient, owner_consultation = owner
    if owner_patient != patient_id or owner_consultation not in (None, consultation_id):
        if owner_patient == patient_id and _attached(study_ref, consultation_id):
            return  # a study of the record attached to this consultation (results recognised, issue 17)
        raise InvalidInput("This study belongs to another patient or consultation; a report reads only its own "
                           "consultation's studies.", code="study_not_in_consultation")


def _attached(study_ref: str, consultation_id: int) -> bool:
    """Whether the study was attached to the consultation from the patient's record (REPORTS_STUDY_ATTACHED:
    the records app's records.selectors.study_attached, reached by name as the loader is)."""
    check = getattr(settings, "REPORTS_STUDY_ATTACHED", "")
    return bool(check) and import_string(check)(study_ref, consultation_id)
