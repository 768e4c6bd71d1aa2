"""What a report's PDF shows of its study (the REPORTS_STUDY_LOADER of reports/study_inputs.py).

`load_report_inputs(study_ref, report_id=, version_id=)` -> (EcgTrace | None, [PNG bytes]) for "ecg:<id>" and
"dicom:<Study Instance UID>": the key images in force when the version was signed (SignedKeyImage, copied from
the expert's ReportKeyImage rows by `freeze_report_inputs` in the signing transaction), else each series' first
frame. Without a version (a preview), the report's current choice.
No permission check here: it runs in the delivery task for a report its expert
has signed, and the PDF itself is served through the reports app's checks.
"""
from django.conf import settings
from django.utils.module_loading import import_string

from reports.pdf import EcgTrace
from teleclinic.errors import InvalidInput

from .formats import render_frame
from .formats.errors import FormatError
from .models import EcgRecord, ImagingStudy, Instance, ReportKeyImage, ReportStudy, SignedKeyImage
from .selectors import ecg_signal, instance_bytes

KEY_IMAGES = 4  # the PDF's image page holds four


def load_report_inputs(study_ref: str, *, report_id: int | None = None,
                       version_id: int | None = None) -> tuple[EcgTrace | None, list[bytes]]:
    kind, _, key = study_ref.partition(":")
    if kind == "ecg" and key.isascii() and key.isdigit():
        record = EcgRecord.objects.filter(pk=int(key)).first()
        if record is None:
            return None, []
        signal = ecg_signal(record)
        return EcgTrace(leads=dict(signal.leads), sampling_rate=signal.sampling_rate), []
    if kind == "dicom" and key:
        study = ImagingStudy.objects.filter(study_instance_uid=key).first()
        if study is None:
            return None, []
        if version_id is not None:
            picked = _picked_images(SignedKeyImage.objects.filter(version_id=version_id), study)
        elif report_id is not None:
            picked = _picked_images(ReportKeyImage.objects.filter(report_id=report_id), study)
        else:
            picked = None
        return None, picked if picked is not None else _key_images(study)
    return None, []


def link_report_study(*, report, study_ref: str) -> ReportStudy:
    """REPORTS_STUDY_LINK: link a new report to the study its study_ref names, by foreign key.

    Call inside the transaction that creates the report. Refuses (400) a study_ref that names no stored
    study of the consultation's patient (`study_not_found`: a study of another patient gets the very same
    answer, so that a reader cannot learn which ids exist), or one of the patient's studies filed under
    another consultation and neither linked nor attached to this one (`study_not_in_consultation`).
    """
    consultation = report.consultation
    kind, _, key = study_ref.partition(":")
    ecg = study = None
    if kind == "ecg" and key.isascii() and key.isdigit():
        ecg = EcgRecord.objects.filter(pk=int(key), patient_id=consultation.patient_id).first()
        found, owner_ok = ecg, ecg is not None and ecg.consultation_id in (None, consultation.pk)
    elif kind == "dicom" and key:
        study = ImagingStudy.objects.filter(study_instance_uid=key, patient_id=consultation.patient_id).first()
        found, owner_ok = study, study is not None and (
            study.consultation_id in (None, consultation.pk) or study.links.filter(consultation=consultation).exists())
    else:
        found, owner_ok = None, False
    if found is None:
        raise InvalidInput(f"No stored study of this patient is named {study_ref}: name an ECG or imaging study "
                           "uploaded for this consultation.", code="study_not_found")
    if not owner_ok and _attached(study_ref, consultation.pk):
        owner_ok = True  # a study of the record attached to this consultation (results recognised, issue 17)
    if not owner_ok:
        raise InvalidInput("This study belongs to another consultation; a report reads only its own "
                           "consultation's studies.", code="study_not_in_consultation")
    return ReportStudy.objects.create(report=report, ecg=ecg, imaging_study=study)


def _attached(study_ref: str, consultation_id: int) -> bool:
    """Whether the study was attached to the consultation from the patient's record (REPORTS_STUDY_ATTACHED:
    the records app's records.selectors.study_attached, reached by name: records sits above studies)."""
    check = getattr(settings, "REPORTS_STUDY_ATTACHED", "")
    return bool(check) and import_string(check)(study_ref, consultation_id)


def freeze_report_inputs(*, version) -> None:
    """REPORTS_STUDY_FREEZE: fix the key images in force for a version being signed (a copy of its report's
    ReportKeyImage rows as SignedKeyImage rows of the version). Call inside the signing transaction, which
    holds the report's lock, so no concurrent key_images_set slips between the choice and the signature."""
    SignedKeyImage.objects.bulk_create([
        SignedKeyImage(version=version, instance_id=row.instance_id, frame=row.frame, position=row.position,
                       window_center=row.window_center, window_width=row.window_width)
        for row in ReportKeyImage.objects.filter(report_id=version.report_id).order_by("position")])


def _picked_images(rows_of, study: ImagingStudy) -> list[bytes] | None:
    """The frames marked as key images (rows of ReportKeyImage or SignedKeyImage), in their window and order;
    None if none were marked."""
    rows = list(rows_of.filter(instance__series__study=study).order_by("position")
                .select_related("instance")[:KEY_IMAGES])
    if not rows:
        return None
    images = []
    for row in rows:
        try:
            images.append(render_frame(instance_bytes(row.instance), frame=row.frame - 1, image_format="png",
                                       window_center=row.window_center, window_width=row.window_width).content)
        except FormatError:
            continue  # as below: a frame that cannot be rendered is left off the page, not the report
    return images


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
