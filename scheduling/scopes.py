"""Access scopes of the scheduling models (see directory/access.py): who sees which rows."""
from django.db.models import Q

from consult.scopes import consultation_q
from directory.access import NOTHING, VIEW, by_reach, is_admin, register_scope
from directory.models import User


def community_q(user: User, action: str, prefix: str = "") -> Q:
    """Sessions and slots carry no patient data: the whole community sees them; coordinators change them."""
    if not user.is_authenticated:
        return NOTHING
    if is_admin(user):
        return Q()
    if user.organisation_id is None or (action != VIEW and user.role != User.Role.COORDINATOR):
        return NOTHING
    return Q(**{f"{prefix}organisation__community_id": user.organisation.community_id})


@by_reach
def booking_q(user: User, action: str, orgs: list[int]) -> Q:
    if user.role == User.Role.EXPERT:
        return Q(slot__session__expert__user_id=user.id) if action == VIEW else NOTHING
    return Q(booked_org_id__in=orgs)


def assignment_q(user: User, action: str) -> Q:
    if user.is_authenticated and user.role == User.Role.EXPERT:
        return Q(expert__user_id=user.id)
    return consultation_q(user, action, prefix="consultation__")


@by_reach
def referral_q(user: User, action: str, orgs: list[int]) -> Q:
    if user.role == User.Role.EXPERT:
        mine = (Q(created_by_id=user.id) | Q(booking__slot__session__expert__user_id=user.id)
                | Q(consultation__assigned_expert__user_id=user.id))
        return mine if action == VIEW else NOTHING
    return Q(from_org_id__in=orgs) | Q(to_org_id__in=orgs)


@by_reach
def followup_q(user: User, action: str, orgs: list[int]) -> Q:
    if user.role == User.Role.EXPERT:
        return Q(referral__created_by_id=user.id) if action == VIEW else NOTHING
    return Q(organisation_id__in=orgs)


def register() -> None:
    from .models import Assignment, Booking, CloudClinicSession, FollowUpTask, Referral, Roster, Slot

    register_scope(Roster, community_q)
    register_scope(CloudClinicSession, community_q)
    register_scope(Slot, lambda user, action: community_q(user, action, prefix="session__"))
    register_scope(Booking, booking_q)
    register_scope(Assignment, assignment_q)
    register_scope(Referral, referral_q)
    register_scope(FollowUpTask, followup_q)
