"""Admin pages for the directory. Reads of patients through the admin are audited too."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from audit.services import audit_record, audit_record_many

from .models import Expert, Organisation, Patient, Specialty, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "parent", "dicom_ae_title")
    list_filter = ("kind",)
    search_fields = ("name", "code")
    exclude = ("community",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role", "organisation", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = BaseUserAdmin.fieldsets + (("Teleclinic", {"fields": ("role", "organisation", "display_name", "phone")}),)


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en")


@admin.register(Expert)
class ExpertAdmin(admin.ModelAdmin):
    list_display = ("user", "title", "on_call", "max_open_assignments")
    filter_horizontal = ("specialties",)


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("name", "sex", "birth_date", "masked_id", "home_clinic", "health_record_no")
    search_fields = ("name", "health_record_no")
    list_filter = ("home_clinic__kind",)

    @admin.display(description="ID number")
    def masked_id(self, obj):
        return obj.id_number_masked

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            audit_record_many(actor=request.user, action="read", objs=changelist.result_list, interface="admin",
                              request=request)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        patient = Patient.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if patient is not None and getattr(response, "status_code", 500) == 200:
            audit_record(actor=request.user, action="read", obj=patient, interface="admin", request=request)
        return response

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, action="update" if change else "create", obj=obj, interface="admin",
                     request=request, detail={"fields": list(form.changed_data)})
