"""Template helpers of the pages."""
from django import template
from django.utils.translation import gettext

from ..strings import ROLES

register = template.Library()


@register.filter
def role_label(user) -> str:
    """The user's role in the page's language only (the model's choice labels carry both, "村医 village doctor")."""
    text = ROLES.get(getattr(user, "role", ""), "")
    return gettext(text) if text else ""
