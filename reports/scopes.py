"""Access scopes of reports, versions and deliveries: those of their consultation (access.py).

A signed version is also part of the patient's record: whoever reads the record (directory.access
RECORD_ACCESS, issue 17) reads its versions too (the report PDF opened from the patient page).
"""
from consult.scopes import consultation_q
from directory.access import VIEW, record_q, register_scope

from .models import Delivery, Report, ReportVersion


def _version_q(user, action: str):
    q = consultation_q(user, action, prefix="report__consultation__")
    if action == VIEW and user.is_authenticated:
        q |= record_q(user, prefix="patient__")
    return q


def register() -> None:
    register_scope(Report, lambda user, action: consultation_q(user, action, prefix="consultation__"))
    register_scope(ReportVersion, _version_q)
    register_scope(Delivery, lambda user, action: consultation_q(user, action, prefix="version__report__consultation__"))
