from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Cloud-clinic scheduling"

    def ready(self):
        from . import receivers, scopes

        scopes.register()
        receivers.connect()
