"""REST API routes of the studies app (mounted under /api/)."""
from django.urls import path

from . import api, api_uploads

urlpatterns = [
    path("uploads/", api_uploads.UploadCreateView.as_view(), name="upload-create"),
    path("uploads/<str:upload_id>/", api_uploads.UploadView.as_view(), name="upload"),
    path("consultations/<int:consultation_id>/studies/", api.ConsultationStudiesView.as_view(),
         name="consultation-studies"),
    path("ecgs/<int:ecg_id>/", api.EcgView.as_view(), name="ecg"),
    path("ecgs/<int:ecg_id>/samples/", api.EcgSamplesView.as_view(), name="ecg-samples"),
    path("imaging-studies/<int:study_id>/", api.ImagingStudyView.as_view(), name="imaging-study"),
    path("imaging-studies/unmatched/", api.UnmatchedStudiesView.as_view(), name="imaging-studies-unmatched"),
    path("imaging-studies/<int:study_id>/match/", api.StudyMatchView.as_view(), name="imaging-study-match"),
    path("instances/<int:instance_id>/frames/<int:frame>/rendered/", api.FrameRenderedView.as_view(),
         name="instance-frame-rendered"),
    path("reports/<int:report_id>/key-images/", api.ReportKeyImagesView.as_view(), name="report-key-images"),
    path("photos/<int:photo_id>/", api.PhotoView.as_view(), name="photo"),
]
