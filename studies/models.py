"""Studies: what was uploaded for reading (DICOM study/series/instance, ECG, photo) and the uploads themselves."""
import uuid

from django.conf import settings
from django.db import models


class Upload(models.Model):
    """One tus upload: its bytes arrive in PATCHes, then a Celery task ingests the file.

    The id is a random UUID so that upload URLs cannot be guessed. The partial file lives
    at `partial_path()` (never under the client's name) until ingest stores the original.
    """

    class Kind(models.TextChoices):
        AUTO = "auto", "auto"
        DICOM = "dicom", "DICOM"
        ECG = "ecg", "ECG"
        PHOTO = "photo", "photo"

    class State(models.TextChoices):
        RECEIVING = "receiving", "receiving"
        RECEIVED = "received", "received, waiting for ingest"
        INGESTED = "ingested", "ingested"
        FAILED = "failed", "failed"
        TERMINATED = "terminated", "terminated"
        EXPIRED = "expired", "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploads")
    organisation = models.ForeignKey("directory.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    consultation = models.ForeignKey("consult.Consultation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="uploads")
    patient = models.ForeignKey("directory.Patient", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="uploads")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.AUTO)
    filename = models.CharField(max_length=255, blank=True, help_text="the client's name, sanitised, display only")
    metadata = models.JSONField(default=dict, blank=True, help_text="other Upload-Metadata pairs")
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    expected_sha256 = models.CharField(max_length=64, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVING)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="what the ingest made: {type, id, ...}")
    progress_percent = models.PositiveSmallIntegerField(default=0)
    progress_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "state"]), models.Index(fields=["state", "expires_at"])]

    def __str__(self):
        return f"upload {self.pk} ({self.state})"


class ImagingStudy(models.Model):
    """A DICOM study (Study Instance UID), filed under one patient.

    A study whose Patient ID names no patient of the sender (a modality knows only its own IDs)
    is stored without a patient: it waits in the sending organisation's unmatched list, with what
    the file says about the patient (dicom_patient_*), until its staff match it (services.reconcile).
    """

    study_instance_uid = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey("directory.Patient", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="imaging_studies", help_text="empty while unmatched")
    consultation = models.ForeignKey("consult.Consultation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="imaging_studies")
    organisation = models.ForeignKey("directory.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", help_text="where it came from")
    dicom_patient_id = models.CharField(max_length=64, blank=True)
    dicom_patient_name = models.CharField(max_length=128, blank=True)
    dicom_patient_birth_date = models.DateField(null=True, blank=True)
    dicom_patient_sex = models.CharField(max_length=16, blank=True)
    accession_number = models.CharField(max_length=16, blank=True)
    study_date = models.DateField(null=True, blank=True)
    study_time = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    matched_at = models.DateTimeField(null=True, blank=True, help_text="when staff filed it under a patient")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "imaging studies"
        indexes = [models.Index(fields=["organisation", "created_at"], condition=models.Q(patient__isnull=True),
                                name="imagingstudy_unmatched")]

    def __str__(self):
        return f"study {self.study_instance_uid}"


class Series(models.Model):
    series_instance_uid = models.CharField(max_length=64, unique=True)
    study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="series")
    modality = models.CharField(max_length=16, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series_number", "id"]
        verbose_name_plural = "series"

    def __str__(self):
        return f"series {self.series_instance_uid}"


class Instance(models.Model):
    """One stored DICOM object; de-duplicated by SOP Instance UID (the unique constraint)."""

    sop_instance_uid = models.CharField(max_length=64, unique=True)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_class_uid = models.CharField(max_length=64, blank=True)
    instance_number = models.IntegerField(null=True, blank=True)
    number_of_frames = models.IntegerField(default=0)
    rows = models.IntegerField(null=True, blank=True)
    columns = models.IntegerField(null=True, blank=True)
    transfer_syntax_uid = models.CharField(max_length=64, blank=True)
    file = models.CharField(max_length=200, help_text="generated name under MEDIA_ROOT, preamble zeroed")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instance_number", "id"]

    def __str__(self):
        return f"instance {self.sop_instance_uid}"


class EcgRecord(models.Model):
    """A resting ECG normalised to leads x int32 microvolts (stored as a compressed .npz)."""

    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="ecgs")
    consultation = models.ForeignKey("consult.Consultation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="ecgs")
    upload = models.OneToOneField(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="ecg")
    instance = models.OneToOneField(Instance, null=True, blank=True, on_delete=models.SET_NULL, related_name="ecg")
    source_format = models.CharField(max_length=10)
    sampling_rate = models.FloatField()
    lead_names = models.JSONField(default=list)
    derived_leads = models.JSONField(default=list, blank=True)
    n_samples = models.IntegerField()
    samples_file = models.CharField(max_length=200, help_text="npz of int32 microvolts per lead")
    original_file = models.CharField(max_length=200, blank=True)
    device_measurements = models.JSONField(default=dict, blank=True)
    device_statements = models.JSONField(default=list, blank=True)
    computed_measurements = models.JSONField(default=dict, blank=True)
    computed_statements = models.JSONField(default=list, blank=True,
                                           help_text="preliminary statements: [{code, zh, en, values, source: computed}]")
    measurement_error = models.CharField(max_length=255, blank=True)
    critical_findings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"ECG {self.pk} ({self.source_format})"

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sampling_rate if self.sampling_rate else 0.0


class Photo(models.Model):
    """A phone photo (paper ECG, wound), re-encoded without metadata."""

    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="photos")
    consultation = models.ForeignKey("consult.Consultation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="photos")
    upload = models.OneToOneField(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="photo")
    file = models.CharField(max_length=200)
    media_type = models.CharField(max_length=20)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"photo {self.pk}"


class StudyLink(models.Model):
    """An imaging study read in another consultation of its patient than the one it was first filed under.

    The same images sent again within a second consultation are stored once (SOP Instance UID is the
    key) and linked here, so that the second consultation lists them, its expert may read them and its
    report may name them.
    """

    study = models.ForeignKey(ImagingStudy, on_delete=models.PROTECT, related_name="links")
    consultation = models.ForeignKey("consult.Consultation", on_delete=models.PROTECT, related_name="linked_studies")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["study", "consultation"], name="one_link_per_consultation")]

    def __str__(self):
        return f"{self.study} also in consultation #{self.consultation_id}"


class ReportStudy(models.Model):
    """What a report reads, by foreign key: its ECG record or its imaging study (the report's study_ref).

    Kept here, not in reports, because reports sits below studies in the layers: reports reaches it
    through settings.REPORTS_STUDY_LINK (studies.report_inputs.link_report_study), which refuses a
    study_ref that names nothing or a study of another patient or consultation.
    """

    report = models.OneToOneField("reports.Report", on_delete=models.PROTECT, related_name="study_link")
    ecg = models.ForeignKey(EcgRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    imaging_study = models.ForeignKey(ImagingStudy, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="reports")

    class Meta:
        constraints = [models.CheckConstraint(
            condition=models.Q(ecg__isnull=False, imaging_study__isnull=True)
            | models.Q(ecg__isnull=True, imaging_study__isnull=False), name="reads_one_study")]

    def __str__(self):
        return f"{self.report} reads {self.ecg or self.imaging_study}"


class ReportKeyImage(models.Model):
    """A key image the expert picked for an imaging report: one frame of an instance of the study the report
    reads (its ReportStudy), in the window the expert saw it, drawn on the signed PDF in `position` order.

    Written by studies.services.key_images.key_images_set, which checks the instance against the report's own
    study and replaces the whole choice at once; with none chosen the PDF shows each series' first frame.
    """

    report = models.ForeignKey("reports.Report", on_delete=models.PROTECT, related_name="key_images")
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="key_images")
    frame = models.PositiveIntegerField(default=1, help_text="1-based, as in DICOMweb")
    position = models.PositiveSmallIntegerField()
    window_center = models.FloatField(null=True, blank=True, help_text="empty: the file's own window")
    window_width = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["report", "position"], name="one_key_image_per_position"),
            models.UniqueConstraint(fields=["report", "instance", "frame"], name="one_key_image_per_frame"),
            models.CheckConstraint(condition=models.Q(frame__gte=1), name="key_image_frame_from_one"),
            models.CheckConstraint(condition=models.Q(window_center__isnull=True, window_width__isnull=True)
                                   | models.Q(window_center__isnull=False, window_width__gt=0),
                                   name="key_image_window_whole"),
        ]

    def __str__(self):
        return f"key image {self.position + 1} of {self.report}: {self.instance} frame {self.frame}"


class SignedKeyImage(models.Model):
    """The key images in force when a version of a report was signed: a copy of the report's ReportKeyImage
    rows taken in the signing transaction (studies.report_inputs.freeze_report_inputs, the
    REPORTS_STUDY_FREEZE of reports/services/drafting.py), never changed afterwards.

    The version's PDF is rendered after the commit by a task; it draws these rows, not the report's current
    choice, so an amendment that picks other frames before a backlogged render runs does not change what
    the signed version shows. No rows: none were picked, and the PDF shows each series' first frame.
    """

    version = models.ForeignKey("reports.ReportVersion", on_delete=models.PROTECT, related_name="key_images")
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="signed_key_images")
    frame = models.PositiveIntegerField(default=1, help_text="1-based, as in DICOMweb")
    position = models.PositiveSmallIntegerField()
    window_center = models.FloatField(null=True, blank=True, help_text="empty: the file's own window")
    window_width = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["version_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="one_signed_key_image_per_position"),
            models.CheckConstraint(condition=models.Q(frame__gte=1), name="signed_key_image_frame_from_one"),
        ]

    def __str__(self):
        return f"key image {self.position + 1} of {self.version}: {self.instance} frame {self.frame}"
