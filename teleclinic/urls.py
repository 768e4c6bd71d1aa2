"""URL map: pages, admin, /api/ (REST + OpenAPI), /fhir/ (FHIR R4), /healthz."""
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .health import healthz

api_patterns = [
    path("", include("directory.urls")),
    path("", include("consult.urls")),
    path("", include("audit.urls")),
    path("", include("scheduling.urls")),
    path("", include("studies.urls")),
    path("", include("live.urls")),
    path("", include("reports.urls")),
    path("", include("records.urls")),
    path("fhir/", include("fhirapi.legacy_urls")),  # the old FHIR reads: redirects to the FHIR base
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

def no_favicon(request):
    """Our pages say `<link rel="icon" href="data:,">`; pages that don't (the admin, the API docs) get
    an empty answer instead of a 404 in every console."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", no_favicon),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("dicomweb/", include("studies.dicomweb_urls")),
    path("fhir/", include("fhirapi.urls")),  # the FHIR R4 base (fhirapi/)
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("frontend.urls")),
]

handler500 = "teleclinic.errors.server_error"  # JSON, never Django's HTML page (a 503 for a busy database)
