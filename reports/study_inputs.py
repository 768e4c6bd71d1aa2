"""What the PDF shows of the study behind a report: the ECG trace and key images of a study_ref.

The loader is the setting REPORTS_STUDY_LOADER (by default the studies app's
studies.report_inputs.load_report_inputs); an ECG report whose trace it cannot load renders
without one and says so (reports/services/delivery.py).
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
