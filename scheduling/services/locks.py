"""Row locks for scheduling writes: always taken in primary-key order, so two writers never deadlock.

The consultation's own lock is consult.locks.lock_consultation (taken before these)."""
from ..models import Assignment, Referral, Slot


def _lock(model, ids) -> dict:
    rows = model.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return {row.pk: row for row in rows}


def lock_slots(*ids: int) -> dict[int, Slot]:
    """Lock slot rows in pk order. Call inside transaction.atomic."""
    return _lock(Slot, ids)


def lock_assignment(assignment_id: int) -> Assignment | None:
    return _lock(Assignment, [assignment_id]).get(assignment_id)


def lock_referral(referral_id: int) -> Referral | None:
    return _lock(Referral, [referral_id]).get(referral_id)
