"""The consultation's states and the transitions allowed between them (one table, read by consult's services)."""
from django.db import models

from teleclinic.errors import Conflict

from .models import Consultation

S = Consultation.State


class Transition(models.TextChoices):
    OFFER = "offer", "offered to an on-duty expert"
    ESCALATE = "escalate", "handed to the coordinators"
    ASSIGN = "assign", "taken by an expert (accepted offer or coordinator)"
    BOOK = "book", "booked into a cloud-clinic session"
    START = "start", "report started"
    REPORT = "report", "report signed"
    CLOSE = "close", "report acknowledged by the clinic"


# transition: (states it may leave, state it reaches, the code of a refusal)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    Transition.OFFER: (frozenset({S.REQUESTED, S.OFFERED, S.ESCALATED}), S.OFFERED, "not_offerable"),
    Transition.ESCALATE: (frozenset({S.REQUESTED, S.OFFERED, S.ESCALATED}), S.ESCALATED, "not_offerable"),
    Transition.ASSIGN: (frozenset({S.REQUESTED, S.OFFERED, S.ESCALATED}), S.ASSIGNED, "not_offerable"),
    # A booking moved to another session's slot moves the case with it, so ASSIGNED may be booked again.
    Transition.BOOK: (frozenset({S.REQUESTED, S.OFFERED, S.ESCALATED, S.ASSIGNED}), S.ASSIGNED,
                      "consultation_closed"),
    Transition.START: (frozenset({S.OFFERED, S.ASSIGNED}), S.IN_PROGRESS, "not_started"),
    # Signing an amendment reopens a closed case until the clinic acknowledges the new version.
    Transition.REPORT: (frozenset({S.ASSIGNED, S.IN_PROGRESS, S.REPORTED, S.CLOSED}), S.REPORTED, "not_reportable"),
    Transition.CLOSE: (frozenset({S.REPORTED}), S.CLOSED, "not_reported"),
}

OFFERABLE = TRANSITIONS[Transition.OFFER][0]


class TransitionRefused(Conflict):
    """The consultation's state does not allow this transition (409 with the transition's code)."""


def allows(state: str, transition: str) -> bool:
    return state in TRANSITIONS[transition][0]


def check_transition(consultation: Consultation, transition: str) -> str:
    """The state the transition reaches, or TransitionRefused."""
    sources, target, code = TRANSITIONS[transition]
    if consultation.state not in sources:
        raise TransitionRefused(f"The consultation is {consultation.state}.", code=code)
    return target
