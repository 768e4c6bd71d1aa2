from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "医共体 directory"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        from . import scopes

        scopes.register()
        user_logged_out.connect(_revoke_api_tokens, dispatch_uid="directory.revoke_api_tokens")


def _revoke_api_tokens(sender, request, user, **kwargs):
    """Logging out of the pages logs the user's API token out too."""
    if user is not None:
        from .services import api_tokens_revoke

        api_tokens_revoke(user_id=user.pk)
