"""Registers the access scopes of the directory and consult models (see access.py)."""
from consult.models import Consultation

from .access import consultation_q, patient_q, register_scope
from .models import Patient


def register() -> None:
    register_scope(Patient, patient_q)
    register_scope(Consultation, consultation_q)
