"""URL map: pages, admin, /api/ (REST + OpenAPI), /healthz."""
from django.contrib import admin
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
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("dicomweb/", include("studies.dicomweb_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("frontend.urls")),
]

handler500 = "teleclinic.errors.server_error"  # JSON, never Django's HTML page (a 503 for a busy database)
