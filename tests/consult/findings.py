"""A critical finding reaching a consultation as a device's does (studies' ingest calls the same service
inside its storing transaction): consult raises it to stat and scheduling reacts."""
from django.db import transaction

from consult.locks import lock_consultation
from consult.services import do_raise_to_stat


def critical_finding(*, consultation_id: int, reason: str = "critical_finding") -> bool:
    with transaction.atomic():
        return do_raise_to_stat(consultation=lock_consultation(consultation_id), reason=reason)
