"""UI strings the page scripts use (t("key") in static/frontend/js/strings.js), translated here by Django i18n.

A key is its English text, or "kind:value" for a value the API sends (urgency, state, ...).
plain.py holds the texts the scripts show, values.py the labels of the values the API sends and of roles.
"""
from django.utils.translation import gettext

from .plain import PLAIN
from .values import ROLES, VALUES

__all__ = ["PLAIN", "ROLES", "VALUES", "js_strings"]


def js_strings() -> dict[str, str]:
    """The table for the active language: {key: translated text}."""
    table = {text: gettext(text) for text in PLAIN}
    table.update({key: gettext(text) for key, text in VALUES.items()})
    return table
