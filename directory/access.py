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
Who reads a patient's whole record (the patient page, issue 17) is the table RECORD_ACCESS at the end.
"""
import datetime as dt
from dataclasses import dataclass
from functools import wraps
from typing import Callable

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from teleclinic.errors import NotFound

from .models import Organisation, Patient, User

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
    """VIEW: the patients whose record the user reads (RECORD_ACCESS); CHANGE: their own clinic's and below."""
    if action == VIEW:
        return record_q(user, prefix)
    if user.role in (User.Role.EXPERT, User.Role.COORDINATOR):
        return NOTHING  # experts read; coordinators route work; neither edits the clinical record
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


# ---------------------------------------------------------------------------------------------------
# The patient record (病历调阅, issue 17): who reads a patient's whole record, as one table.
#
# RECORD_ACCESS is read by patient_q (VIEW, so by every scope that reaches a patient: studies, the
# patient page, reports through their patient), by the records app (which rows let a reader in, for
# the audit row) and by the tests (tests/records/test_access_table.py: one case per row). A row
# gives `roles` the patients its `patients(user, now)` selects (a Q over Patient). Rows that follow
# a to-many relation are subqueries, so that rules never multiply each other's joins.
# Relations named here by string (no import: those apps sit above the directory): consult's
# `consultations`, scheduling's `referrals`, records' `break_glass_grants`.
# ---------------------------------------------------------------------------------------------------
DOCTORS = (User.Role.VILLAGE_DOCTOR, User.Role.TOWNSHIP_DOCTOR)
STAFF = (*DOCTORS, User.Role.EXPERT, User.Role.COORDINATOR)
# consult.models.Consultation.State: the states in which a case is the expert's work. Once it is reported
# (or closed, or cancelled) the expert's grace runs from the consultation's `ended_at` (the first signed
# report; an amendment or a clinic that never acknowledges does not move it).
CASE_OPEN = ("requested", "offered", "assigned", "in_progress", "escalated")
# scheduling.models.Referral.State: a referral under way; at its end (arrived, acknowledged) the receiver
# reads on for RECORD_REFERRAL_GRACE_DAYS from its `ended_at`; cancelled ends it at once
REFERRAL_OPEN = ("requested", "accepted", "sent")
REFERRAL_ENDED = ("arrived", "acknowledged")


@dataclass(frozen=True)
class RecordRule:
    name: str
    roles: tuple[str, ...]
    who: str
    patients: Callable[[User, dt.datetime], Q]


def _subquery(q: Q) -> Q:
    return Q(pk__in=Patient.objects.filter(q).values("pk"))


def _home_clinic_in_reach(user: User, now: dt.datetime) -> Q:
    orgs = orgs_in_reach(user)
    return NOTHING if orgs is None or not orgs else Q(home_clinic_id__in=orgs)


def _assigned_expert(user: User, now: dt.datetime) -> Q:
    grace = now - dt.timedelta(days=settings.RECORD_EXPERT_GRACE_DAYS)
    mine = {"consultations__assigned_expert__user_id": user.id}
    # one consultation (one join: a single filter()) assigned to them that is open, or ended within the grace
    return _subquery(Q(**mine, consultations__state__in=CASE_OPEN) | Q(**mine, consultations__ended_at__gte=grace))


def _referral_receiver(user: User, now: dt.datetime) -> Q:
    """A referral under way or ended within the grace, to the coordinator's organisation or into the expert's
    own (green-channel) slot: other staff of the receiving organisation read nothing through it."""
    if user.role == User.Role.COORDINATOR and user.organisation_id is not None:
        receiver = {"referrals__to_org_id": user.organisation_id}
    elif user.role == User.Role.EXPERT:
        receiver = {"referrals__booking__slot__session__expert__user_id": user.id}
    else:
        return NOTHING
    grace = now - dt.timedelta(days=settings.RECORD_REFERRAL_GRACE_DAYS)
    # one referral (one join: a single filter()) to them that is under way or ended within the grace
    return _subquery(Q(**receiver, referrals__state__in=REFERRAL_OPEN)
                     | Q(**receiver, referrals__state__in=REFERRAL_ENDED, referrals__ended_at__gte=grace))


def _break_glass(user: User, now: dt.datetime) -> Q:
    return _subquery(Q(break_glass_grants__user_id=user.id, break_glass_grants__expires_at__gt=now))


RECORD_ACCESS: tuple[RecordRule, ...] = (
    RecordRule("own_clinic", DOCTORS, "the patient's own clinic and the township centre above it",
               _home_clinic_in_reach),
    RecordRule("community", (User.Role.COORDINATOR,), "coordinators of the patient's community",
               _home_clinic_in_reach),
    RecordRule("assigned_expert", (User.Role.EXPERT,),
               "an expert while a case of the patient is assigned to them, and RECORD_EXPERT_GRACE_DAYS after it is "
               "reported (or closed)",
               _assigned_expert),
    RecordRule("referral_receiver", (User.Role.COORDINATOR, User.Role.EXPERT),
               "the coordinators of the organisation a referral sends the patient to, and the expert of its slot, "
               "while it is under way and RECORD_REFERRAL_GRACE_DAYS after it ends", _referral_receiver),
    RecordRule("break_glass", STAFF, "anyone who opened the record in an emergency (break-glass), until the "
               "grant expires (RECORD_BREAK_GLASS_HOURS); flagged to coordinators", _break_glass),
    RecordRule("system_client", (User.Role.SYSTEM,), "a hospital system (FHIR, OAuth2 client credentials): the "
               "patients of its organisation and below (system_client_reach)", _home_clinic_in_reach),
    RecordRule("admin", (User.Role.ADMIN,), "administrators: everything", lambda user, now: Q()),
)


def record_rules_for(user: User) -> list[RecordRule]:
    if not user.is_authenticated:
        return []
    role = User.Role.ADMIN if is_admin(user) else user.role
    return [rule for rule in RECORD_ACCESS if role in rule.roles]


def record_q(user: User, prefix: str = "") -> Q:
    """The patients (or the rows reaching one through `prefix`, e.g. "patient__") whose whole record `user`
    reads: the union of the RECORD_ACCESS rows of their role."""
    now = timezone.now()
    parts = [rule.patients(user, now) for rule in record_rules_for(user)]
    if any(part == Q() for part in parts):
        return Q()
    if not parts:
        return NOTHING
    q = parts[0]
    for part in parts[1:]:
        q |= part
    return Q(**{f"{prefix}in": Patient.objects.filter(q)}) if prefix else q
