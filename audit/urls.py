from django.urls import path

from . import api

urlpatterns = [path("audit/", api.AuditSearchView.as_view(), name="api-audit")]
