"""The FHIR base, /fhir/ (teleclinic/urls.py), and the OAuth2 token endpoint of system clients."""
from django.urls import path, re_path
from oauth2_provider.views import TokenView

from . import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path("auth/token", TokenView.as_view(), name="fhir-token"),
    re_path(r"^(?P<resource_type>[A-Z][A-Za-z]{1,40})/?$", views.SearchView.as_view(), name="fhir-search"),
    re_path(r"^(?P<resource_type>[A-Z][A-Za-z]{1,40})/(?P<resource_id>[A-Za-z0-9\-.]{1,64})/?$",
            views.ReadView.as_view(), name="fhir-read"),
    re_path(r"^(?P<rest>.*)$", views.UnknownView.as_view(), name="fhir-unknown"),
]
