from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Cloud-clinic scheduling"

    def ready(self):
        from consult.services import consultation_requested

        from . import scopes
        from .services.assignments import consultation_requested_route

        scopes.register()
        consultation_requested.connect(consultation_requested_route, dispatch_uid="scheduling.route_new_consultation")
