"""What the studies API returns (and the query strings it accepts), as DRF serializers: the views
render through them and drf-spectacular documents them, so the schema is the response."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .models import Upload

class CriticalFindingOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class DeviceMeasurementsOut(serializers.Serializer):
    source = serializers.ChoiceField(choices=["device"])
    values = serializers.DictField(child=serializers.FloatField(allow_null=True))
    statements = serializers.ListField(child=serializers.CharField())


class ComputedStatementOut(serializers.Serializer):
    code = serializers.CharField(help_text="e.g. sinus_rhythm, atrial_fibrillation, pvc, first_degree_av_block")
    zh = serializers.CharField()
    en = serializers.CharField()
    values = serializers.DictField(help_text="the numbers in the text, e.g. {\"n\": 3} for PVC x3")
    source = serializers.ChoiceField(choices=["computed"])


class ComputedMeasurementsOut(serializers.Serializer):
    source = serializers.ChoiceField(choices=["computed"])
    values = serializers.DictField(help_text="lead, beats, heart_rate_bpm, rr_*, pr_ms, qrs_ms, qt_ms, qtc_ms, "
                                             "qrs_axis_deg, rhythm, beat_counts, atrial_rate_bpm, p_waves, "
                                             "longest_rr_ms, withheld {measurement: why}; empty when the ECG "
                                             "could not be measured")
    error = serializers.CharField(allow_null=True)
    statements = ComputedStatementOut(many=True, help_text="preliminary statements, to be confirmed by the expert")


class EcgOut(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField()
    consultation = serializers.IntegerField(allow_null=True)
    source_format = serializers.CharField()
    sampling_rate = serializers.FloatField()
    leads = serializers.ListField(child=serializers.CharField())
    derived_leads = serializers.ListField(child=serializers.CharField())
    duration_s = serializers.FloatField()
    device_measurements = DeviceMeasurementsOut()
    computed_measurements = ComputedMeasurementsOut()
    critical_findings = CriticalFindingOut(many=True)
    created_at = serializers.DateTimeField()
    samples_url = serializers.CharField()


def ecg_out(ecg) -> dict:
    return EcgOut({
        "id": ecg.pk, "patient": ecg.patient_id, "consultation": ecg.consultation_id,
        "source_format": ecg.source_format, "sampling_rate": ecg.sampling_rate, "leads": ecg.lead_names,
        "derived_leads": ecg.derived_leads, "duration_s": round(ecg.duration_s, 3),
        "device_measurements": {"source": "device", "values": ecg.device_measurements,
                                "statements": ecg.device_statements},
        "computed_measurements": {"source": "computed", "values": ecg.computed_measurements,
                                  "error": ecg.measurement_error or None, "statements": ecg.computed_statements},
        "critical_findings": ecg.critical_findings, "created_at": ecg.created_at,
        "samples_url": f"/api/ecgs/{ecg.pk}/samples/?overview=1"}).data


class EcgSamplesQuery(serializers.Serializer):
    overview = serializers.BooleanField(default=False)
    leads = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                  help_text="comma-separated lead names; all leads when absent")
    start = serializers.FloatField(default=0.0, min_value=0.0, help_text="seconds")
    end = serializers.FloatField(required=False, min_value=0.0, help_text="seconds")
    encoding = serializers.ChoiceField(choices=["int-list", "int16-le-base64"], default="int16-le-base64")


class EcgSamplesOut(serializers.Serializer):
    sampling_rate = serializers.FloatField()
    source_sampling_rate = serializers.FloatField()
    start_s = serializers.FloatField()
    n_samples = serializers.IntegerField()
    units = serializers.ChoiceField(choices=["uV"])
    encoding = serializers.ChoiceField(choices=["int-list", "int16-le-base64"])
    overview = serializers.BooleanField()
    leads = serializers.DictField(child=serializers.JSONField(),
                                  help_text="lead name -> a list of ints (int-list) or a base64 string")


class InstanceSummaryOut(serializers.Serializer):
    id = serializers.IntegerField()
    sop_instance_uid = serializers.CharField()
    frames = serializers.IntegerField()
    rows = serializers.IntegerField(allow_null=True)
    columns = serializers.IntegerField(allow_null=True)
    rendered_url = serializers.CharField()


class SeriesSummaryOut(serializers.Serializer):
    series_instance_uid = serializers.CharField()
    modality = serializers.CharField()
    number = serializers.IntegerField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    instances = InstanceSummaryOut(many=True)


class ImagingStudyOut(serializers.Serializer):
    id = serializers.IntegerField()
    study_instance_uid = serializers.CharField()
    patient = serializers.IntegerField(allow_null=True, help_text="empty while unmatched")
    consultation = serializers.IntegerField(allow_null=True)
    study_date = serializers.DateField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    series = SeriesSummaryOut(many=True)


def imaging_study_out(study) -> dict:
    series = study.series.prefetch_related("instances")
    return ImagingStudyOut({
        "id": study.pk, "study_instance_uid": study.study_instance_uid, "patient": study.patient_id,
        "consultation": study.consultation_id, "study_date": study.study_date, "description": study.description,
        "series": [{"series_instance_uid": s.series_instance_uid, "modality": s.modality,
                    "number": s.series_number, "description": s.description,
                    "instances": [{"id": i.pk, "sop_instance_uid": i.sop_instance_uid, "frames": i.number_of_frames,
                                   "rows": i.rows, "columns": i.columns,
                                   "rendered_url": f"/api/instances/{i.pk}/frames/1/rendered/"}
                                  for i in s.instances.all()]} for s in series]}).data


class RenderQuery(serializers.Serializer):
    window_center = serializers.FloatField(required=False)
    window_width = serializers.FloatField(required=False)
    image_format = serializers.ChoiceField(choices=["png", "jpeg"], default="png")  # not "format": DRF owns it


def images(*media_types: str, description: str) -> dict:
    """An image response (binary) in each of `media_types`, for extend_schema(responses=...)."""
    return {(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description)
            for media_type in media_types}


class UploadErrorOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class UploadOut(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=Upload.Kind.values)
    state = serializers.ChoiceField(choices=Upload.State.values)
    offset = serializers.IntegerField()
    length = serializers.IntegerField()
    sha256 = serializers.CharField(allow_blank=True)
    consultation = serializers.IntegerField(allow_null=True)
    patient = serializers.IntegerField(allow_null=True)
    error = UploadErrorOut(allow_null=True)
    result = serializers.DictField(allow_null=True, help_text="what the ingest made: {type, id, ...}")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class UploadListOut(serializers.Serializer):
    results = UploadOut(many=True, help_text="the caller's 100 most recent uploads, newest first")


def upload_out(upload) -> dict:
    return UploadOut({
        "id": upload.pk, "filename": upload.filename, "kind": upload.kind, "state": upload.state,
        "offset": upload.offset, "length": upload.length, "sha256": upload.sha256,
        "consultation": upload.consultation_id, "patient": upload.patient_id,
        "error": {"code": upload.error_code, "detail": upload.error_message} if upload.error_code else None,
        "result": upload.result or None, "created_at": upload.created_at,
        "expires_at": upload.expires_at}).data


UPLOAD_STATE_PARAMETER = OpenApiParameter("state", str, enum=Upload.State.values, description="only uploads in this state")


class UnmatchedStudyOut(serializers.Serializer):
    """An unmatched study and what its files say about the patient, for staff to recognise them."""

    id = serializers.IntegerField()
    study_instance_uid = serializers.CharField()
    organisation = serializers.CharField(help_text="the sender")
    dicom_patient_id = serializers.CharField(allow_blank=True)
    dicom_patient_name = serializers.CharField(allow_blank=True)
    dicom_patient_birth_date = serializers.DateField(allow_null=True)
    dicom_patient_sex = serializers.CharField(allow_blank=True)
    accession_number = serializers.CharField(allow_blank=True)
    study_date = serializers.DateField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    modalities = serializers.ListField(child=serializers.CharField())
    instances = serializers.IntegerField()
    received_at = serializers.DateTimeField()


def unmatched_study_out(study) -> dict:
    return UnmatchedStudyOut({
        "id": study.pk, "study_instance_uid": study.study_instance_uid,
        "organisation": study.organisation.name if study.organisation else "",
        "dicom_patient_id": study.dicom_patient_id, "dicom_patient_name": study.dicom_patient_name.replace("^", " "),
        "dicom_patient_birth_date": study.dicom_patient_birth_date, "dicom_patient_sex": study.dicom_patient_sex,
        "accession_number": study.accession_number, "study_date": study.study_date,
        "description": study.description,
        "modalities": sorted({s.modality for s in study.series.all() if s.modality}),
        "instances": study.n_instances, "received_at": study.created_at}).data


class StudyMatchIn(serializers.Serializer):
    patient = serializers.IntegerField(help_text="the patient to file it under (register one first if new)")
    consultation = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="one of that patient's consultations: the study is read there")


class KeyImageIn(serializers.Serializer):
    instance = serializers.IntegerField(help_text="an image of the study the report reads (imaging-study's instance id)")
    frame = serializers.IntegerField(default=1, help_text="1-based, as in DICOMweb")
    window_center = serializers.FloatField(required=False, allow_null=True, default=None)
    window_width = serializers.FloatField(required=False, allow_null=True, default=None)


class KeyImagesIn(serializers.Serializer):
    key_images = KeyImageIn(many=True, help_text="the whole choice, in the PDF's order (at most four); [] clears it")


class KeyImageOut(serializers.Serializer):
    id = serializers.IntegerField()
    instance = serializers.IntegerField()
    sop_instance_uid = serializers.CharField()
    series_instance_uid = serializers.CharField()
    frame = serializers.IntegerField()
    window_center = serializers.FloatField(allow_null=True)
    window_width = serializers.FloatField(allow_null=True)
    rendered_url = serializers.CharField()


def key_image_out(row) -> dict:
    query = (f"?window_center={row.window_center}&window_width={row.window_width}"
             if row.window_width is not None else "")
    return KeyImageOut({
        "id": row.pk, "instance": row.instance_id, "sop_instance_uid": row.instance.sop_instance_uid,
        "series_instance_uid": row.instance.series.series_instance_uid, "frame": row.frame,
        "window_center": row.window_center, "window_width": row.window_width,
        "rendered_url": f"/api/instances/{row.instance_id}/frames/{row.frame}/rendered/{query}"}).data
