"""What the clinic's socket hears about reports: who counts as the clinic, and the event payloads."""
from django.urls import reverse

from directory.models import User

from .models import Delivery, ReportVersion

CLINIC_ROLES = (User.Role.VILLAGE_DOCTOR, User.Role.TOWNSHIP_DOCTOR)


def report_event(delivery: Delivery, version: ReportVersion, kind: str) -> dict:
    """The socket payload: ids and flags only, no patient data (the client fetches the report)."""
    report_id = version.report_id
    return {"type": kind, "delivery": delivery.pk, "report": report_id, "version": version.number,
            "consultation": version.report.consultation_id, "kind": version.report.kind, "critical": version.critical,
            "amended": version.number > 1, "amendment_reason": version.amendment_reason,
            "pdf": reverse("api-report-version-pdf", args=[report_id, version.number]) if version.pdf else None,
            "signed_at": version.signed_at.isoformat()}
