"""Registers the access scope of the directory's patients (see access.py)."""
from .access import patient_q, register_scope
from .models import Patient


def register() -> None:
    register_scope(Patient, patient_q)
