"""Reports: the expert's reading of a consultation, its signed versions, and their delivery.

A Report holds the working draft; signing freezes the draft into a ReportVersion (never
edited or deleted afterwards, except for attaching its rendered PDF once). An amendment
is the next version with a reason. Each signed version gets one Delivery row, written in
the same transaction as the signature: the transactional outbox that carries the report
back to the requesting clinic and records its acknowledgement.
"""
from django.conf import settings
from django.db import models


class ImmutableVersion(Exception):
    pass


class Report(models.Model):
    class Kind(models.TextChoices):
        ECG = "ecg", "心电图 ECG"
        IMAGING = "imaging", "影像 imaging"
        CONSULTATION = "consultation", "会诊 consultation"

    class State(models.TextChoices):
        DRAFT = "draft", "草稿 draft"
        SIGNED = "signed", "已签发 signed"
        AMENDING = "amending", "更正中 amending"

    consultation = models.ForeignKey("consult.Consultation", on_delete=models.PROTECT, related_name="reports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The study read: "ecg:<id>" or "dicom:<StudyInstanceUID>", loaded through settings.REPORTS_STUDY_LOADER
    # (studies/report_inputs.py). Its foreign key is studies.ReportStudy (report.study_link), made with the
    # report through settings.REPORTS_STUDY_LINK: reports sits below studies in the layers.
    study_ref = models.CharField(max_length=100, null=True, blank=True)
    measurements = models.JSONField(default=dict, blank=True, help_text="ECG measurements the draft was prefilled from")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    draft = models.JSONField(default=dict, blank=True)
    draft_reason = models.TextField(blank=True, help_text="why the amendment being drafted is needed")
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    latest_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["consultation", "kind"], name="one_report_per_kind")]

    def __str__(self):
        return f"report #{self.pk} ({self.kind}) of consultation #{self.consultation_id}"

    @property
    def patient_id(self) -> int:  # for the audit log's patient column
        return self.consultation.patient_id


class ReportVersion(models.Model):
    """One signed version. Insert-only; the PDF fields are set once by the render task."""

    PDF_FIELDS = frozenset({"pdf", "pdf_sha256", "pdf_rendered_at"})

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="versions")
    # the report's consultation's patient, copied once (a version never changes): the patient's record and FHIR
    # find a patient's reports on one index, newest first, instead of joining reports and consultations
    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="+",
                                db_index=False)  # version_patient_signed below leads with it
    number = models.PositiveIntegerField()
    content = models.JSONField()
    critical = models.BooleanField(default=False, help_text="危急值: escalated when not acknowledged in time")
    amendment_reason = models.TextField(blank=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    verification_code = models.CharField(max_length=16, unique=True)
    pdf = models.FileField(upload_to="reports/%Y/%m/", null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["report_id", "number"]
        constraints = [models.UniqueConstraint(fields=["report", "number"], name="one_version_number")]
        indexes = [models.Index(fields=["patient", "-signed_at", "-id"], name="version_patient_signed")]

    def __str__(self):
        return f"report #{self.report_id} v{self.number}"

    @property
    def consultation_id(self) -> int:  # for the audit log's consultation column
        return self.report.consultation_id

    def save(self, *args, update_fields=None, **kwargs):
        if self.pk is not None and (update_fields is None or not set(update_fields) <= self.PDF_FIELDS):
            raise ImmutableVersion("A signed report version is never edited; amend it instead.")
        if self.pk is None and self.patient_id is None:
            self.patient_id = self.report.consultation.patient_id
        super().save(*args, update_fields=update_fields, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableVersion("A signed report version is never deleted.")


class Delivery(models.Model):
    """The outbox row of one signed version to its requesting clinic, and its acknowledgement."""

    class State(models.TextChoices):
        PENDING = "pending", "待送达 pending"
        DELIVERED = "delivered", "已送达 delivered"
        ACKNOWLEDGED = "acknowledged", "已确认 acknowledged"

    version = models.OneToOneField(ReportVersion, on_delete=models.PROTECT, related_name="delivery")
    organisation = models.ForeignKey("directory.Organisation", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    critical = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["organisation", "state"]), models.Index(fields=["state", "created_at"]),
                   models.Index(fields=["state", "delivered_at"])]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"delivery of {self.version} to {self.organisation_id} ({self.state})"


class PatientLink(models.Model):
    """An expiring link that shows one patient one report version, if the doctor chooses to share it."""

    version = models.ForeignKey(ReportVersion, on_delete=models.PROTECT, related_name="patient_links")
    token = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)


class QualitySample(models.Model):
    """Quality control (质控同标): a signed version sampled for a second read by another expert."""

    class Agreement(models.TextChoices):
        AGREE = "agree", "一致 agree"
        MINOR = "minor", "轻微差异 minor discrepancy"
        MAJOR = "major", "重大差异 major discrepancy"

    version = models.OneToOneField(ReportVersion, on_delete=models.PROTECT, related_name="quality_sample")
    sampled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sampled_at = models.DateTimeField(auto_now_add=True)
    second_reader = models.ForeignKey("directory.Expert", on_delete=models.PROTECT, related_name="quality_reads")
    agreement = models.CharField(max_length=10, choices=Agreement.choices, blank=True)
    comment = models.TextField(blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sampled_at", "id"]
        indexes = [models.Index(fields=["second_reader", "read_at"])]


class Phrase(models.Model):
    """常用语/模板短语: a phrase an expert inserts into a text field of a report (findings, conclusion, ...)
    with a click or by typing "/" and its code. Either an expert's own (owner set: only they see and change
    it) or a specialty's, shared by its experts (owner empty: kept by administrators in the admin)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="phrases")
    specialty = models.ForeignKey("directory.Specialty", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+", help_text="a shared phrase's specialty")
    kind = models.CharField(max_length=20, choices=Report.Kind.choices)
    field = models.CharField(max_length=40, help_text="the report field it goes into: findings, conclusion, ...")
    code = models.SlugField(max_length=20, help_text='typed after "/" in the field, e.g. sr')
    label = models.CharField(max_length=60)
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "field", "code", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(owner__isnull=False) | models.Q(specialty__isnull=False),
                                   name="phrase_owner_or_specialty"),
            models.UniqueConstraint(fields=["owner", "kind", "field", "code"], condition=models.Q(owner__isnull=False),
                                    name="phrase_code_unique_per_owner"),
            models.UniqueConstraint(fields=["specialty", "kind", "field", "code"], condition=models.Q(owner__isnull=True),
                                    name="phrase_code_unique_per_specialty"),
        ]

    def __str__(self):
        return f"/{self.code} {self.label}"
