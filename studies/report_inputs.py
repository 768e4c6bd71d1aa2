"""What a report's PDF shows of its study (the REPORTS_STUDY_LOADER of reports/study_inputs.py).

`load_report_inputs(study_ref)` -> (EcgTrace | None, [PNG bytes]) for "ecg:<id>" and "dicom:<Study
Instance UID>". No permission check here: it runs in the delivery task for a report its expert
has signed, and the PDF itself is served through the reports app's checks.
"""
from reports.pdf import EcgTrace

from .formats import render_frame
from .formats.errors import FormatError
from .models import EcgRecord, ImagingStudy, Instance
from .selectors import ecg_signal, instance_bytes

KEY_IMAGES = 4  # the PDF's image page holds four


def load_report_inputs(study_ref: str) -> tuple[EcgTrace | None, list[bytes]]:
    kind, _, key = study_ref.partition(":")
    if kind == "ecg" and key.isdigit():
        record = EcgRecord.objects.filter(pk=int(key)).first()
        if record is None:
            return None, []
        signal = ecg_signal(record)
        return EcgTrace(leads=dict(signal.leads), sampling_rate=signal.sampling_rate), []
    if kind == "dicom" and key:
        study = ImagingStudy.objects.filter(study_instance_uid=key).first()
        return None, _key_images(study) if study is not None else []
    return None, []


def study_ref_owner(study_ref: str) -> tuple[int, int | None] | None:
    """(patient id, consultation id or None) of the study a study_ref names; None if it names none."""
    kind, _, key = study_ref.partition(":")
    if kind == "ecg" and key.isdigit():
        row = EcgRecord.objects.filter(pk=int(key)).values_list("patient_id", "consultation_id").first()
    elif kind == "dicom" and key:
        row = ImagingStudy.objects.filter(study_instance_uid=key).values_list("patient_id", "consultation_id").first()
    else:
        row = None
    return tuple(row) if row is not None else None


def _key_images(study: ImagingStudy) -> list[bytes]:
    """The first frame of each series' first image (ECG waveforms have none), in the stored window."""
    images = []
    for series in study.series.order_by("series_number", "pk"):
        instance = (Instance.objects.filter(series=series, ecg__isnull=True).order_by("instance_number", "pk")
                    .first())
        if instance is None:
            continue
        try:
            images.append(render_frame(instance_bytes(instance), frame=0, image_format="png").content)
        except FormatError:
            continue  # a frame that cannot be rendered is left off the page, not the report
        if len(images) == KEY_IMAGES:
            break
    return images
