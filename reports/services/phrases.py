"""The phrase library (常用语): an expert's own phrases and their specialties' shared ones, for report fields.

An expert lists their own phrases and those of their specialties, and adds, changes and deletes only their
own; another expert's phrases are out of reach (404). Shared phrases are kept in the admin.
"""
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from directory.models import User
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted

from ..kinds import TEMPLATES
from ..models import Phrase

EDITABLE = ("kind", "field", "code", "label", "text")


def _require_expert(user: User) -> None:
    if user.role != User.Role.EXPERT or not hasattr(user, "expert"):
        raise NotPermitted("The phrase library is the experts'.", code="not_expert")


def phrase_list(*, user: User, kind: str = "") -> QuerySet[Phrase]:
    """The user's own phrases, then their specialties' shared ones; of one report kind when given."""
    _require_expert(user)
    rows = Phrase.objects.filter(Q(owner=user) | Q(owner__isnull=True, specialty__in=user.expert.specialties.all()))
    if kind:
        rows = rows.filter(kind=kind)
    return rows.select_related("specialty").order_by("kind", "field", "owner_id", "code", "id")


def _check(kind: str, field: str) -> None:
    if kind not in TEMPLATES:
        raise InvalidInput(f"Unknown report kind '{kind}'.", code="unknown_kind")
    text_fields = [spec.name for spec in TEMPLATES[kind] if spec.type == "text"]
    if field not in text_fields:
        raise InvalidInput(f"A {kind} report's phrases go into one of: {', '.join(text_fields)}.",
                           code="unknown_field")


def _own(user: User, phrase_id: int) -> Phrase:
    phrase = Phrase.objects.select_for_update().filter(pk=phrase_id, owner=user).first()
    if phrase is None:  # another expert's or a shared phrase: not theirs to change, and not named
        raise NotFound("No such phrase of yours.")
    return phrase


def _saved(phrase: Phrase, fields: list[str] | None = None) -> Phrase:
    try:
        with transaction.atomic():
            phrase.save(update_fields=fields)
    except IntegrityError:
        raise Conflict(f'You already have a phrase "/{phrase.code}" for this field.', code="code_taken")
    return phrase


def phrase_create(*, user: User, kind: str, field: str, code: str, label: str, text: str) -> Phrase:
    _require_expert(user)
    _check(kind, field)
    return _saved(Phrase(owner=user, kind=kind, field=field, code=code, label=label, text=text))


def phrase_update(*, user: User, phrase_id: int, changes: dict) -> Phrase:
    _require_expert(user)
    with transaction.atomic():
        phrase = _own(user, phrase_id)
        for name, value in changes.items():
            if name in EDITABLE:
                setattr(phrase, name, value)
        _check(phrase.kind, phrase.field)
        return _saved(phrase, [*[n for n in changes if n in EDITABLE], "updated_at"])


def phrase_delete(*, user: User, phrase_id: int) -> None:
    _require_expert(user)
    with transaction.atomic():
        _own(user, phrase_id).delete()
