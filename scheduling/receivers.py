"""Scheduling's reactions to consult's signals: route the case to an expert (thin: one service call each)."""
from consult import signals

from .services import stat_route, study_route
from .services.assignments import consultation_requested_route


def on_raised_to_stat(sender, *, consultation, reason, **kwargs) -> None:
    stat_route(consultation=consultation, reason=reason)


def on_study_arrived(sender, *, consultation, **kwargs) -> None:
    study_route(consultation=consultation)


def on_consultation_requested(sender, *, consultation, **kwargs) -> None:
    consultation_requested_route(consultation=consultation)


def connect() -> None:
    signals.raised_to_stat.connect(on_raised_to_stat, dispatch_uid="scheduling.stat_route")
    signals.study_arrived.connect(on_study_arrived, dispatch_uid="scheduling.study_route")
    signals.consultation_requested.connect(on_consultation_requested, dispatch_uid="scheduling.route_new_consultation")
