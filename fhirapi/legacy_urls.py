"""The FHIR reads that lived under /api/fhir/ before the FHIR base: permanent redirects to /fhir/."""
from django.http import HttpResponsePermanentRedirect
from django.urls import path


def _to(template: str):
    def view(request, **ids):
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"/fhir/{template.format(**ids)}" + (f"?{query}" if query else ""))

    return view


urlpatterns = [
    path("DiagnosticReport/<int:report_id>-<int:number>", _to("DiagnosticReport/{report_id}-{number}")),
    path("Observation/ecg-<int:report_id>-<int:number>", _to("Observation/ecg-{report_id}-{number}")),
    path("ServiceRequest/<int:pk>", _to("ServiceRequest/{pk}")),
    path("ImagingStudy/<int:pk>", _to("ImagingStudy/{pk}")),
    path("Schedule/<int:pk>", _to("Schedule/{pk}")),
    path("Slot/<int:pk>", _to("Slot/{pk}")),
    path("Appointment/<int:pk>", _to("Appointment/{pk}")),
]
