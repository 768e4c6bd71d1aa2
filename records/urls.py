"""REST API routes of the patient record (mounted under /api/)."""
from django.urls import path

from . import api

urlpatterns = [
    path("records/patients/<int:patient_id>/timeline/", api.TimelineView.as_view(), name="record-timeline"),
    path("records/patients/<int:patient_id>/break-glass/", api.BreakGlassView.as_view(), name="record-break-glass"),
    path("records/break-glass/", api.BreakGlassListView.as_view(), name="record-break-glass-list"),
    path("records/consultations/<int:consultation_id>/priors/", api.PriorsView.as_view(), name="record-priors"),
    path("records/ecgs/<int:ecg_id>/comparison/", api.SerialComparisonView.as_view(), name="record-ecg-comparison"),
    path("records/consultations/<int:consultation_id>/recognised/", api.RecognisedView.as_view(),
         name="record-recognised"),
]
