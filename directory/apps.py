from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "医共体 directory"

    def ready(self):
        from . import scopes

        scopes.register()
