"""The consultation's row lock: every writer of a consultation's state takes it first (then its own rows)."""
from .models import Consultation


def lock_consultation(consultation_id: int) -> Consultation | None:
    """The consultation, locked until the caller's transaction ends; None if there is none."""
    return Consultation.objects.select_for_update().filter(pk=consultation_id).first()
