"""What the PDF shows of the study behind a report: the ECG trace and key images of a study_ref.

The loader is the setting REPORTS_STUDY_LOADER (by default the studies app's
studies.report_inputs.load_report_inputs; REPORTS_STUDY_LINK likewise), reached through settings so
that reports does not import studies (which imports reports.pdf). An ECG report whose trace it cannot
load renders without one and says so (reports/services/delivery.py).
"""
from django.conf import settings
from django.utils.module_loading import import_string

from .pdf import EcgTrace


def no_study_inputs(study_ref: str, *, report_id: int | None = None, version_id: int | None = None):
    return None, []


def load_study_inputs(study_ref: str | None, *, report_id: int | None = None,
                      version_id: int | None = None) -> tuple[EcgTrace | None, list[bytes]]:
    """The loader gets the report's and the signed version's ids too: an imaging version's PDF draws the key
    images in force when that version was signed (see freeze_study_inputs), not the report's current choice."""
    if not study_ref:
        return None, []
    return import_string(settings.REPORTS_STUDY_LOADER)(study_ref, report_id=report_id, version_id=version_id)


def freeze_study_inputs(*, version) -> None:
    """Fix what the version's PDF will show of its study (its key images) as it is now
    (settings.REPORTS_STUDY_FREEZE). Call inside the signing transaction: the PDF is rendered after the
    commit by a task, perhaps after an amendment has changed the report's choice."""
    if version.report.study_ref and getattr(settings, "REPORTS_STUDY_FREEZE", ""):
        import_string(settings.REPORTS_STUDY_FREEZE)(version=version)


def link_study_ref(*, report) -> None:
    """Link a new report to the study its study_ref names by foreign key (settings.REPORTS_STUDY_LINK):
    a 400 `study_not_found` if it names no stored study of the patient (another patient's study answers the
    same), `study_not_in_consultation` if it names one of another consultation. Call inside the transaction
    that creates the report."""
    if report.study_ref:
        import_string(settings.REPORTS_STUDY_LINK)(report=report, study_ref=report.study_ref)
