"""The key images an expert picks for an imaging report: frames of the report's own study, drawn on its PDF."""
from dataclasses import dataclass

from django.db import transaction

from audit.services import audit_record
from directory.models import User
from reports.models import Report
from reports.services.drafting import report_lock_for_editing
from teleclinic.errors import InvalidInput

from ..models import Instance, ReportKeyImage, ReportStudy

KEY_IMAGES_MAX = 4  # the PDF's key-image page holds four (reports/pdf/render.py)


@dataclass(frozen=True)
class KeyImagePick:
    instance_id: int
    frame: int = 1  # 1-based, as in DICOMweb
    window_center: float | None = None
    window_width: float | None = None


def key_images_set(*, report_id: int, by: User, picks: list[KeyImagePick], request=None) -> list[ReportKeyImage]:
    """Replace the report's key images with `picks`, in order, all or none.

    Only the assigned expert, while the report is a draft or an amendment (409 `signed` after signing). Each
    pick must be a frame of an image of the study the report reads (400 `instance_not_in_study`, the same for
    an instance that does not exist, so ids of other patients' images are not revealed), at most four.
    """
    _check_shape(picks)
    with transaction.atomic():
        report = report_lock_for_editing(report_id=report_id, by=by)
        study_id = _imaging_study_of(report)
        instances = {i.pk: i for i in Instance.objects.filter(pk__in=[p.instance_id for p in picks],
                                                              series__study_id=study_id, ecg__isnull=True)}
        for pick in picks:
            _check_pick(pick, instances.get(pick.instance_id))
        ReportKeyImage.objects.filter(report=report).delete()
        rows = ReportKeyImage.objects.bulk_create([
            ReportKeyImage(report=report, instance=instances[p.instance_id], frame=p.frame, position=n,
                           window_center=p.window_center, window_width=p.window_width)
            for n, p in enumerate(picks)])
        audit_record(actor=by, action="update", obj=report, interface="api", request=request,
                     consultation_id=report.consultation_id,
                     detail={"key_images": [[p.instance_id, p.frame] for p in picks]})
    return rows


def _check_shape(picks: list[KeyImagePick]) -> None:
    if len(picks) > KEY_IMAGES_MAX:
        raise InvalidInput(f"A report carries at most {KEY_IMAGES_MAX} key images; unmark one first.",
                           code="too_many_key_images")
    frames = [(p.instance_id, p.frame) for p in picks]
    if len(set(frames)) != len(frames):
        raise InvalidInput("The same frame is marked twice.", code="duplicate_key_image")
    for p in picks:
        if (p.window_center is None) != (p.window_width is None) or (p.window_width is not None and p.window_width <= 0):
            raise InvalidInput("Give both window centre and a positive width, or neither.", code="bad_window")


def _imaging_study_of(report: Report) -> int:
    link = ReportStudy.objects.filter(report=report).select_related("imaging_study").first()
    if report.kind != Report.Kind.IMAGING or link is None or link.imaging_study is None:
        raise InvalidInput("Key images belong to an imaging report that names its study.", code="no_imaging_study")
    return link.imaging_study_id


def _check_pick(pick: KeyImagePick, instance: Instance | None) -> None:
    if instance is None:
        raise InvalidInput(f"Image {pick.instance_id} is not an image of the study this report reads.",
                           code="instance_not_in_study")
    if not 1 <= pick.frame <= max(instance.number_of_frames, 1):
        raise InvalidInput(f"Frame {pick.frame} is outside 1-{max(instance.number_of_frames, 1)}.", code="bad_frame")
