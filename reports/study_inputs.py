"""What the PDF shows of the study behind a report: the ECG trace and key images of a study_ref.

The studies app is built in parallel; until the merge wires its loader in (setting
REPORTS_STUDY_LOADER), reports render without a trace and say so.
"""
from django.conf import settings
from django.utils.module_loading import import_string

from .pdf import EcgTrace


def no_study_inputs(study_ref: str):
    return None, []


def load_study_inputs(study_ref: str | None) -> tuple[EcgTrace | None, list[bytes]]:
    if not study_ref:
        return None, []
    return import_string(settings.REPORTS_STUDY_LOADER)(study_ref)
