"""Row locks of the reports app (take them inside the caller's transaction.atomic)."""
from ..models import Delivery, Report, ReportVersion


def lock_report(report_id: int) -> Report:
    return Report.objects.select_for_update().select_related("consultation").get(pk=report_id)


def lock_version(version_id: int) -> ReportVersion:
    return ReportVersion.objects.select_for_update().get(pk=version_id)


def lock_delivery_or_skip(delivery_id: int) -> Delivery | None:
    """The delivery row, or None while another worker holds it (that worker finishes the job)."""
    return Delivery.objects.select_for_update(skip_locked=True).filter(pk=delivery_id).first()
