"""Pages of live rooms, mounted at /live/ (frontend/urls.py: path("live/", include("live.page_urls")))."""
from django.urls import path

from . import views

urlpatterns = [
    path("rooms/<int:room_id>/", views.room_page, name="live-room"),
    path("rooms/<int:room_id>/join/", views.patient_page, name="live-patient"),
]
