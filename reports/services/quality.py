"""Quality control (质控同标): sample a share of signed reports for a blind second read by another expert."""
import random

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services import audit_record
from directory.access import orgs_in_reach
from directory.models import Expert, User
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted

from ..models import QualitySample, ReportVersion


def quality_sample(*, by: User, share: float, seed: int | None = None) -> list[QualitySample]:
    """A coordinator samples `share` of the community's signed, not yet sampled versions.

    Each goes to another expert of the same specialty (the least loaded); versions whose
    specialty has no second expert are skipped.
    """
    if by.role not in (User.Role.COORDINATOR, User.Role.ADMIN):
        raise NotPermitted("Only coordinators sample reports for quality control.")
    if not 0 < share <= 1:
        raise InvalidInput("share must be in (0, 1].")
    candidates = list(_community_versions(by).filter(quality_sample__isnull=True).order_by("id")
                      .values_list("id", flat=True))
    chosen = sorted(random.Random(seed).sample(candidates, round(len(candidates) * share)))
    samples = []
    with transaction.atomic():
        for version in ReportVersion.objects.select_related("report__consultation", "signed_by").filter(pk__in=chosen):
            reader = _second_reader(version)
            if reader is not None:
                samples.append(QualitySample.objects.create(version=version, sampled_by=by, second_reader=reader))
    return samples


def quality_record(*, sample_id: int, by: User, agreement: str, comment: str = "", request=None) -> QualitySample:
    """The second reader records agreement or a discrepancy, once."""
    if agreement not in QualitySample.Agreement.values:
        raise InvalidInput(f"agreement must be one of {', '.join(QualitySample.Agreement.values)}.")
    with transaction.atomic():
        sample = QualitySample.objects.select_for_update().filter(pk=sample_id, second_reader__user=by).first()
        if sample is None:
            raise NotFound("No such quality-control read assigned to you.")
        if sample.read_at:
            raise Conflict("This second read is already recorded.", code="already_read")
        if agreement != QualitySample.Agreement.AGREE and not comment.strip():
            raise InvalidInput("Describe the discrepancy.", code="comment_required")
        sample.agreement, sample.comment, sample.read_at = agreement, comment.strip(), timezone.now()
        sample.save(update_fields=["agreement", "comment", "read_at"])
        audit_record(actor=by, action="update", obj=sample.version, interface="api", request=request,
                     consultation_id=sample.version.report.consultation_id, detail={"quality": agreement})
    return sample


def _community_versions(by: User):
    orgs = orgs_in_reach(by)
    rows = ReportVersion.objects.all()
    return rows if orgs is None else rows.filter(report__consultation__requesting_org_id__in=orgs)


def _second_reader(version: ReportVersion) -> Expert | None:
    consultation = version.report.consultation
    return (Expert.objects.filter(specialties=consultation.specialty_id, user__is_active=True)
            .exclude(user_id=version.signed_by_id)
            .annotate(open_reads=Count("quality_reads", filter=Q(quality_reads__read_at__isnull=True)))
            .order_by("open_reads", "id").first())
