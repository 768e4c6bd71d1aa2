"""Who may see or change which patient data: the one place where the rules live.

Each kind of object registers a *scope*: a function (user, action) -> Q over its model.
`can()` and the selectors both use the scope, so a list and a detail page can never
disagree. Rules (DESIGN.md):
- village doctor: their clinic's patients and consultations;
- township doctor: their centre and the village clinics under it;
- expert: what is assigned to them (and, to read, those patients, and consultations offered to them);
- coordinator: their whole community; admin: everything;
- system client (a hospital system reading FHIR with OAuth2 client credentials, role SYSTEM): its
  organisation and all below it, as a township doctor, and only to view (see `system_client_reach`).
"""
from functools import wraps
from typing import Callable

from django.db.models import Model, Q, QuerySet

from teleclinic.errors import NotFound

from .models import Organisation, User

VIEW, CHANGE = "view", "change"
NOTHING = Q(pk__in=[])
_scopes: dict[type, Callable[[User, str], Q]] = {}


def org_subtree_ids(org_id: int) -> list[int]:
    """The organisation and all below it (the tree is shallow: a few queries at most)."""
    ids, frontier = [org_id], [org_id]
    while frontier:
        frontier = list(Organisation.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids


def is_admin(user: User) -> bool:
    return user.is_administrator


def orgs_in_reach(user: User) -> list[int] | None:
    """Organisation ids whose records this user reaches by role; None means 'all'."""
    if is_admin(user):
        return None
    if user.organisation_id is None:
        return []
    if user.role == User.Role.VILLAGE_DOCTOR:
        return [user.organisation_id]
    if user.role == User.Role.TOWNSHIP_DOCTOR:
        return org_subtree_ids(user.organisation_id)
    if user.role == User.Role.COORDINATOR:
        return list(Organisation.objects.filter(community_id=user.organisation.community_id).values_list("id", flat=True))
    if user.role == User.Role.SYSTEM:
        return system_client_reach(user)
    return []


# --- System clients (FHIR, OAuth2 client credentials; fhir/auth.py) ------------------------------------
# A registered hospital system acts as a user of role SYSTEM bound to one organisation. It reaches what a
# township doctor there would: the records of that organisation and every organisation below it
# (patients by their home clinic, consultations by the requesting clinic), and only to VIEW: by_reach
# gives it nothing for any other action, whatever a scope says.
def system_client_reach(user: User) -> list[int]:
    return org_subtree_ids(user.organisation_id)


def is_system_client(user: User) -> bool:
    return getattr(user, "role", None) == User.Role.SYSTEM
# -------------------------------------------------------------------------------------------------------


def by_reach(scope: Callable[..., Q]) -> Callable[..., Q]:
    """The rule every organisation-based scope starts with: the anonymous see nothing, admins everything.

    The decorated scope(user, action, orgs, ...) is called for everyone else, with orgs_in_reach(user).
    """

    @wraps(scope)
    def wrapper(user: User, action: str, *args, **kwargs) -> Q:
        if not user.is_authenticated:
            return NOTHING
        if action != VIEW and is_system_client(user):
            return NOTHING  # system clients read only
        orgs = orgs_in_reach(user)
        if orgs is None:
            return Q()
        return scope(user, action, orgs, *args, **kwargs)

    return wrapper


@by_reach
def patient_q(user: User, action: str, orgs: list[int], prefix: str = "") -> Q:
    if user.role == User.Role.EXPERT:
        if action != VIEW:
            return NOTHING
        return Q(**{f"{prefix}consultations__assigned_expert__user_id": user.id})
    if user.role == User.Role.COORDINATOR and action != VIEW:
        return NOTHING  # coordinators route work; they do not edit the clinical record
    return Q(**{f"{prefix}home_clinic_id__in": orgs})


def register_scope(model: type[Model], scope: Callable[[User, str], Q]) -> None:
    _scopes[model] = scope


def scoped(user: User, queryset: QuerySet, action: str = VIEW) -> QuerySet:
    """The rows of `queryset` the user may act on. distinct(): scopes may join to-many."""
    scope = _scopes[queryset.model]
    return queryset.filter(scope(user, action)).distinct()


def access_get(user: User, queryset: QuerySet, action: str = VIEW, *, not_found: str, **lookup):
    """The one row of `queryset` matching `lookup` that the user may act on, else NotFound with
    `not_found` (also for a malformed id: what exists out of reach and what does not look the same)."""
    try:
        return scoped(user, queryset, action).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(not_found)


def can(user: User, action: str, obj: Model) -> bool:
    model = type(obj)
    return scoped(user, model._default_manager.filter(pk=obj.pk), action).exists()
