from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = "Studies (ECG, DICOM, photos)"

    def ready(self):
        from . import scopes

        scopes.register()
