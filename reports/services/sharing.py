"""Sharing one signed version with its patient: an expiring, single-version link, audited."""
import datetime as dt
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from directory.access import CHANGE, scoped
from directory.models import User
from teleclinic.errors import InvalidInput, NotFound, NotPermitted

from ..models import PatientLink, ReportVersion


def patient_link_create(*, report_id: int, number: int, by: User, hours: int, request=None) -> PatientLink:
    """The requesting clinic's doctor chooses to give the patient a link to this version."""
    if by.role not in (User.Role.VILLAGE_DOCTOR, User.Role.TOWNSHIP_DOCTOR):
        raise NotPermitted("Only the patient's clinic shares a report with the patient.")
    if not 1 <= hours <= settings.REPORTS_PATIENT_LINK_MAX_HOURS:
        raise InvalidInput(f"hours must be between 1 and {settings.REPORTS_PATIENT_LINK_MAX_HOURS}.")
    version = scoped(by, ReportVersion.objects.all(), CHANGE).filter(report_id=report_id, number=number).first()
    if version is None:
        raise NotFound("No such report version in your reach.")
    with transaction.atomic():
        link = PatientLink.objects.create(version=version, token=secrets.token_urlsafe(32), created_by=by,
                                          expires_at=timezone.now() + dt.timedelta(hours=hours))
        audit_record(actor=by, action="create", obj=version, interface="api", request=request,
                     consultation_id=version.report.consultation_id, detail={"patient_link": link.pk})
    return link


def patient_link_revoke(*, report_id: int, number: int, link_id: int, by: User, request=None) -> PatientLink:
    """The clinic takes a shared link back: it answers 410 from now on (idempotent)."""
    version = scoped(by, ReportVersion.objects.all(), CHANGE).filter(report_id=report_id, number=number).first()
    link = PatientLink.objects.filter(pk=link_id, version=version).first() if version is not None else None
    if link is None:
        raise NotFound("No such patient link in your reach.")
    with transaction.atomic():
        if PatientLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            audit_record(actor=by, action="update", obj=version, interface="api", request=request,
                         consultation_id=version.report.consultation_id, detail={"patient_link_revoked": link.pk})
    link.refresh_from_db()
    return link
