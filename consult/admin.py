from django.contrib import admin

from audit.services import audit_record

from .models import Consultation


@admin.register(Consultation)
class ConsultationAdmin(admin.ModelAdmin):
    list_display = ("id", "patient", "specialty", "urgency", "mode", "state", "assigned_expert", "created_at")
    list_filter = ("state", "urgency", "mode", "specialty")
    raw_id_fields = ("patient", "requested_by", "assigned_expert")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        consultation = Consultation.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if consultation is not None and getattr(response, "status_code", 500) == 200:
            audit_record(actor=request.user, action="read", obj=consultation, interface="admin", request=request)
        return response
