from django.urls import path

from . import api, audit_api

urlpatterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("patients/", api.PatientListView.as_view(), name="api-patients"),
    path("patients/<int:patient_id>/", api.PatientDetailView.as_view(), name="api-patient"),
    path("organisations/", api.OrganisationListView.as_view(), name="api-organisations"),
    path("specialties/", api.SpecialtyListView.as_view(), name="api-specialties"),
    path("audit/", audit_api.AuditSearchView.as_view(), name="api-audit"),  # audit's search, with patients named
]
