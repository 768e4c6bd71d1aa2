"""Access scopes of the studies models, registered with directory.access (the one rule book).

A study, ECG or photo is visible through its patient (directory.access.patient_q) or its
consultation (consultation_q); an upload only to its owner (and administrators).
"""
from django.db.models import Q

from consult.scopes import consultation_q
from directory.access import NOTHING, is_admin, patient_q, register_scope

from .models import EcgRecord, ImagingStudy, Instance, Photo, Series, Upload


def _through(prefix: str):
    def scope(user, action: str) -> Q:
        return patient_q(user, action, f"{prefix}patient__") | consultation_q(user, action, f"{prefix}consultation__")

    return scope


def _upload_scope(user, action: str) -> Q:
    if not user.is_authenticated:
        return NOTHING
    return Q() if is_admin(user) else Q(owner_id=user.id)


def register() -> None:
    register_scope(ImagingStudy, _through(""))
    register_scope(Series, _through("study__"))
    register_scope(Instance, _through("series__study__"))
    register_scope(EcgRecord, _through(""))
    register_scope(Photo, _through(""))
    register_scope(Upload, _upload_scope)
