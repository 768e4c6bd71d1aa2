"""The patient's record across the community (issue 17): break-glass grants and studies attached to a later case.

The record itself is no table: it is read from the apps below (consult, studies, reports, scheduling).
"""
from django.conf import settings
from django.db import models


class BreakGlassGrant(models.Model):
    """An emergency read of a record out of the reader's ordinary reach: until `expires_at` the reader is in
    directory.access RECORD_ACCESS ("break_glass"); audited and flagged to the community's coordinators."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="break_glass_grants")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "patient", "expires_at"]), models.Index(fields=["created_at"])]

    def __str__(self):
        return f"break-glass of {self.user_id} on patient {self.patient_id}"


class AttachedStudy(models.Model):
    """检查结果互认: a study already in the record, attached to a later consultation instead of repeating it.

    The study keeps the consultation it was taken for (studies' foreign key, which its reading, report and
    access rules hang on); this row only adds it to another consultation of the same patient, so that the
    reading page shows it and a report may read it. Inserted once; never edited.
    """

    consultation = models.ForeignKey("consult.Consultation", on_delete=models.PROTECT, related_name="attached_studies")
    ecg = models.ForeignKey("studies.EcgRecord", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    imaging_study = models.ForeignKey("studies.ImagingStudy", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    attached_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    attached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attached_at", "id"]
        verbose_name_plural = "attached studies"
        constraints = [
            models.CheckConstraint(condition=models.Q(ecg__isnull=False, imaging_study__isnull=True)
                                   | models.Q(ecg__isnull=True, imaging_study__isnull=False), name="attached_one_study"),
            models.UniqueConstraint(fields=["consultation", "ecg"], name="attached_ecg_once"),
            models.UniqueConstraint(fields=["consultation", "imaging_study"], name="attached_imaging_once"),
        ]

    @property
    def patient_id(self) -> int:  # for the audit log's patient column
        return self.consultation.patient_id

    @property
    def study_ref(self) -> str:
        return f"ecg:{self.ecg_id}" if self.ecg_id else f"imaging:{self.imaging_study_id}"
