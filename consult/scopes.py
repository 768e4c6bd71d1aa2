"""Who reaches which consultations (registered with directory.access in ConsultConfig.ready)."""
from django.db.models import Q

from directory.access import VIEW, by_reach, register_scope
from directory.models import User

from .models import Consultation


@by_reach
def consultation_q(user: User, action: str, orgs: list[int], prefix: str = "") -> Q:
    """Scope over consultations, or over any model that reaches one through `prefix`."""
    if user.role == User.Role.EXPERT:
        mine = Q(**{f"{prefix}assigned_expert__user_id": user.id})
        if action != VIEW:
            return mine
        # An expert may read a consultation offered to them (a pending scheduling.Assignment) to decide.
        offered = Q(**{f"{prefix}assignments__expert__user_id": user.id, f"{prefix}assignments__status": "offered"})
        return mine | offered
    return Q(**{f"{prefix}requesting_org_id__in": orgs})


def register() -> None:
    register_scope(Consultation, consultation_q)
