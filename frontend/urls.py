from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from . import ohif, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("live/", include("live.page_urls")),  # the live room and the patient's phone page
    path("", views.home, name="home"),
    path("read/<int:consultation_id>/", views.reading, name="reading"),
    path("patients/<int:patient_id>/record/", views.record, name="record"),
    re_path(r"^ohif/(?P<path>.*)$", ohif.ohif, name="ohif"),  # the OHIF Viewer (scripts/install-ohif.sh)
]
