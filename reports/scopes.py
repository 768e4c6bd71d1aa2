"""Access scopes of reports, versions and deliveries: those of their consultation (access.py)."""
from consult.scopes import consultation_q
from directory.access import register_scope

from .models import Delivery, Report, ReportVersion


def register() -> None:
    register_scope(Report, lambda user, action: consultation_q(user, action, prefix="consultation__"))
    register_scope(ReportVersion, lambda user, action: consultation_q(user, action, prefix="report__consultation__"))
    register_scope(Delivery, lambda user, action: consultation_q(user, action, prefix="version__report__consultation__"))
