from django.urls import path

from . import api

urlpatterns = [
    path("consultations/", api.ConsultationListView.as_view(), name="api-consultations"),
    path("consultations/<int:consultation_id>/", api.ConsultationDetailView.as_view(), name="api-consultation"),
]
