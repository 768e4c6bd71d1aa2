"""Admin for studies: lists for finding things, every opened record audited (interface "admin")."""
from django.contrib import admin

from audit.services import audit_record

from .models import EcgRecord, ImagingStudy, Instance, Photo, Series, Upload


class AuditedReadAdmin(admin.ModelAdmin):
    """Opening a record's page is a read of patient data: write it to the audit log."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_object(request, object_id)
        if obj is not None and getattr(response, "status_code", 500) == 200:
            audit_record(actor=request.user, action="read", obj=obj, interface="admin", request=request)
        return response


@admin.register(Upload)
class UploadAdmin(AuditedReadAdmin):
    list_display = ("id", "owner", "kind", "filename", "state", "offset", "length", "error_code", "created_at")
    list_filter = ("state", "kind", "error_code")
    search_fields = ("=id", "owner__username", "filename")
    raw_id_fields = ("owner", "organisation", "consultation", "patient")
    readonly_fields = ("sha256", "expected_sha256", "result", "error_message")


@admin.register(ImagingStudy)
class ImagingStudyAdmin(AuditedReadAdmin):
    list_display = ("id", "study_instance_uid", "patient", "consultation", "study_date", "organisation", "created_at")
    search_fields = ("=study_instance_uid", "=dicom_patient_id", "=accession_number")
    raw_id_fields = ("patient", "consultation", "organisation")


@admin.register(Series)
class SeriesAdmin(AuditedReadAdmin):
    list_display = ("id", "series_instance_uid", "study", "modality", "series_number")
    search_fields = ("=series_instance_uid",)
    raw_id_fields = ("study",)


@admin.register(Instance)
class InstanceAdmin(AuditedReadAdmin):
    list_display = ("id", "sop_instance_uid", "series", "number_of_frames", "transfer_syntax_uid", "size")
    search_fields = ("=sop_instance_uid",)
    raw_id_fields = ("series",)
    readonly_fields = ("file", "sha256", "size")


@admin.register(EcgRecord)
class EcgRecordAdmin(AuditedReadAdmin):
    list_display = ("id", "patient", "consultation", "source_format", "sampling_rate", "n_samples", "created_at")
    list_filter = ("source_format",)
    raw_id_fields = ("patient", "consultation", "upload", "instance")
    readonly_fields = ("samples_file", "original_file", "computed_measurements", "critical_findings")


@admin.register(Photo)
class PhotoAdmin(AuditedReadAdmin):
    list_display = ("id", "patient", "consultation", "media_type", "size", "created_at")
    raw_id_fields = ("patient", "consultation", "upload")
