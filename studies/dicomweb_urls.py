"""DICOMweb routes (mounted under /dicomweb/): STOW-RS, QIDO-RS, WADO-RS."""
from django.urls import re_path

from .dicomweb import views

UID = r"[0-9][0-9.]{0,63}"
S, SE, I = rf"studies/(?P<study>{UID})", rf"series/(?P<series>{UID})", rf"instances/(?P<instance>{UID})"  # noqa: E741 - I for instances, as S and SE

urlpatterns = [
    re_path(r"^studies/?$", views.StudiesView.as_view(), name="dicomweb-studies"),
    re_path(r"^series/?$", views.SeriesSearchView.as_view(), name="dicomweb-series"),
    re_path(r"^instances/?$", views.InstancesSearchView.as_view(), name="dicomweb-instances"),
    re_path(rf"^{S}/?$", views.StudyView.as_view(), name="dicomweb-study"),
    re_path(rf"^{S}/thumbnail/?$", views.ThumbnailView.as_view()),
    re_path(rf"^{S}/{SE}/thumbnail/?$", views.ThumbnailView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/thumbnail/?$", views.ThumbnailView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/frames/(?P<frames>[0-9,]+)/thumbnail/?$", views.ThumbnailView.as_view()),
    re_path(rf"^{S}/metadata/?$", views.MetadataView.as_view()),
    re_path(rf"^{S}/series/?$", views.SeriesSearchView.as_view()),
    re_path(rf"^{S}/instances/?$", views.InstancesSearchView.as_view()),
    re_path(rf"^{S}/{SE}/?$", views.RetrieveView.as_view()),
    re_path(rf"^{S}/{SE}/metadata/?$", views.MetadataView.as_view()),
    re_path(rf"^{S}/{SE}/instances/?$", views.InstancesSearchView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/?$", views.RetrieveView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/metadata/?$", views.MetadataView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/rendered/?$", views.RenderedView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/frames/(?P<frames>[0-9,]+)/?$", views.FramesView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/frames/(?P<frames>[0-9,]+)/rendered/?$", views.RenderedView.as_view()),
    re_path(rf"^{S}/{SE}/{I}/bulkdata/(?P<tag>[0-9A-Fa-f]{{8}})/?$", views.BulkdataView.as_view()),
]
