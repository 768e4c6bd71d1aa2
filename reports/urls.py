"""REST API routes of the reports app (mounted under /api/)."""
from django.urls import path

from . import api

V = "reports/<int:report_id>/versions/<int:number>/"
urlpatterns = [
    path("reports/templates/", api.TemplatesView.as_view(), name="api-report-templates"),
    path("reports/phrases/", api.PhrasesView.as_view(), name="api-report-phrases"),
    path("reports/phrases/<int:phrase_id>/", api.PhraseView.as_view(), name="api-report-phrase"),
    path("consultations/<int:consultation_id>/reports/", api.ConsultationReportsView.as_view(),
         name="api-consultation-reports"),
    path("reports/<int:report_id>/", api.ReportDetailView.as_view(), name="api-report"),
    path("reports/<int:report_id>/draft/", api.DraftView.as_view(), name="api-report-draft"),
    path("reports/<int:report_id>/sign/", api.SignView.as_view(), name="api-report-sign"),
    path("reports/<int:report_id>/amend/", api.AmendView.as_view(), name="api-report-amend"),
    path(V, api.VersionView.as_view(), name="api-report-version"),
    path(V + "pdf/", api.VersionPdfView.as_view(), name="api-report-version-pdf"),
    path(V + "patient-links/", api.PatientLinkView.as_view(), name="api-report-patient-links"),
    path(V + "patient-links/<int:link_id>/", api.PatientLinkRevokeView.as_view(), name="api-report-patient-link"),
    path("reports/shared/<str:token>/", api.SharedReportView.as_view(), name="api-report-shared"),
    path("reports/deliveries/", api.ReceivedReportsView.as_view(), name="api-report-deliveries"),
    path("reports/deliveries/pending/", api.PendingDeliveriesView.as_view(), name="api-report-deliveries-pending"),
    path("reports/deliveries/<int:delivery_id>/acknowledge/", api.AcknowledgeView.as_view(),
         name="api-report-acknowledge"),
    path("reports/verify/<str:code>/", api.VerifyView.as_view(), name="api-report-verify"),
    path("reports/quality/samples/", api.QualitySamplesView.as_view(), name="api-report-quality-samples"),
    path("reports/quality/samples/<int:sample_id>/", api.QualityRecordView.as_view(), name="api-report-quality-record"),
    path("reports/quality/reads/", api.QualityReadsView.as_view(), name="api-report-quality-reads"),
    path("reports/quality/figures/", api.QualityFiguresView.as_view(), name="api-report-quality-figures"),
    path("reports/turnaround/", api.TurnaroundView.as_view(), name="api-report-turnaround"),
    path("reports/turnaround/page/", api.TurnaroundPageView.as_view(), name="report-turnaround-page"),
]
