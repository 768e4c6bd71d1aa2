"""Access scopes of the studies models, registered with directory.access (the one rule book).

A study, ECG or photo is visible through its patient (directory.access.patient_q) or its
consultation (consultation_q); an unmatched imaging study (no patient yet) to the staff of the
organisations that reach its sender (unmatched_q), who match it; an upload only to its owner
(and administrators).
"""
from django.db.models import Q

from consult.scopes import consultation_q
from directory.access import CHANGE, NOTHING, VIEW, by_reach, is_admin, org_subtree_ids, patient_q, register_scope
from directory.models import User

from .models import EcgRecord, ImagingStudy, Instance, Photo, Series, Upload


def _through(prefix: str):
    def scope(user, action: str) -> Q:
        return patient_q(user, action, f"{prefix}patient__") | consultation_q(user, action, f"{prefix}consultation__")

    return scope


@by_reach
def unmatched_q(user, action: str, orgs: list[int], prefix: str = "") -> Q:
    """Unmatched studies (or rows under one, through `prefix`): the sender's staff, as for its patients."""
    if user.role == User.Role.EXPERT or (user.role == User.Role.COORDINATOR and action != VIEW):
        return NOTHING  # experts read what a consultation brings them; coordinators do not edit records
    return Q(**{f"{prefix}patient__isnull": True, f"{prefix}organisation_id__in": orgs})


def _imaging(prefix: str):
    """Also through a consultation the study is linked to (models.StudyLink: the same images sent again)."""
    through = _through(prefix)
    return lambda user, action: (through(user, action) | unmatched_q(user, action, prefix)
                                 | consultation_q(user, action, f"{prefix}links__consultation__"))


def _upload_scope(user, action: str) -> Q:
    if not user.is_authenticated:
        return NOTHING
    return Q() if is_admin(user) else Q(owner_id=user.id)


def study_write_q(*, by, organisation) -> Q:
    """The existing imaging studies a sender may add instances to: a user, those of their CHANGE scope;
    a DICOM node without a user (C-STORE), those its organisation sent or holds the patient of (it and
    the organisations below it). A study belongs to one patient and one organisation: no one else files
    into it (security: issue 13)."""
    if by is not None:
        return _imaging("")(by, CHANGE)
    if organisation is None:
        return NOTHING
    ids = org_subtree_ids(organisation.pk)
    return Q(organisation_id__in=ids) | Q(patient__home_clinic_id__in=ids)


def register() -> None:
    register_scope(ImagingStudy, _imaging(""))
    register_scope(Series, _imaging("study__"))
    register_scope(Instance, _imaging("series__study__"))
    register_scope(EcgRecord, _through(""))
    register_scope(Photo, _through(""))
    register_scope(Upload, _upload_scope)
