"""Writes to the directory: one function per use case, each owning its transaction."""
import datetime as dt
import uuid

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record, client_ip
from teleclinic.auth import token_expired
from teleclinic.errors import Conflict, InvalidInput, NotPermitted
from teleclinic.ratelimit import login_failure_record, login_throttle_check, login_throttle_reset

from . import resident_id
from .access import CHANGE, VIEW, orgs_in_reach, scoped
from .models import Organisation, Patient, User
from .selectors import patient_get


def _check_clinic_reach(*, by: User, home_clinic_id: int) -> None:
    orgs = orgs_in_reach(by)
    if by.role in (User.Role.EXPERT, User.Role.COORDINATOR) or (orgs is not None and home_clinic_id not in orgs):
        raise NotPermitted("You may register patients only for your own clinic (or the clinics under your centre).")


def _identity(*, id_number: str, sex: str | None, birth_date: dt.date | None) -> tuple[str, str, dt.date]:
    """The normalised ID number and the sex and birth date it states, checked against those given.

    Without an ID number, sex and birth date must be given. OTHER is accepted beside an ID number
    (the number states the legal sex; the record may say otherwise on purpose)."""
    if not id_number:
        if not sex or birth_date is None:
            raise InvalidInput("Give the sex and the birth date, or the resident ID number.", code="identity_missing")
        return "", sex, birth_date
    try:
        parsed = resident_id.parse(id_number, today=timezone.localdate())
    except resident_id.BadResidentId as error:
        raise InvalidInput(str(error), code="bad_id_number") from None
    if birth_date is not None and birth_date != parsed.birth_date:
        raise InvalidInput(f"The resident ID number says the birth date is {parsed.birth_date:%Y-%m-%d}.",
                           code="id_number_mismatch")
    if sex and sex not in (parsed.sex, Patient.Sex.OTHER):
        raise InvalidInput(f"The resident ID number says the sex is {Patient.Sex(parsed.sex).label}.",
                           code="id_number_mismatch")
    return parsed.number, sex or parsed.sex, parsed.birth_date


def _check_id_number_free(*, by: User, id_number: str, community_id: int, patient_id: int | None = None) -> None:
    """Call inside the transaction. One record per ID number in a community: the existing one is named
    to a user who may see it; anyone else gets the same refusal with no name (no existence oracle)."""
    if not id_number:
        return
    Organisation.objects.select_for_update().filter(pk=community_id).first()  # registrations queue per community
    same = Patient.objects.filter(id_number=id_number, home_clinic__community_id=community_id).exclude(pk=patient_id)
    existing = scoped(by, same, VIEW).select_related("home_clinic").first()
    if existing is not None:
        raise Conflict(f"This resident ID number is registered already: {existing.name} "
                       f"({existing.health_record_no}, {existing.home_clinic.name}).", code="duplicate_id_number",
                       extra={"existing": {"id": existing.pk, "name": existing.name,
                                           "health_record_no": existing.health_record_no}})
    if same.exists():
        raise Conflict("This resident ID number cannot be registered here: ask your township centre or the "
                       "coordinator to find the patient's record.", code="duplicate_id_number")


def patient_register(*, by: User, name: str, sex: str = "", birth_date: dt.date | None = None,
                     home_clinic_id: int | None = None, phone: str = "", id_number: str = "",
                     health_record_no: str = "", request=None) -> Patient:
    home_clinic_id = home_clinic_id or by.organisation_id
    _check_clinic_reach(by=by, home_clinic_id=home_clinic_id)
    clinic = Organisation.objects.filter(pk=home_clinic_id).first() if home_clinic_id else None
    if clinic is None:
        raise InvalidInput("Unknown home clinic.", code="unknown_clinic")
    id_number, sex, birth_date = _identity(id_number=id_number, sex=sex, birth_date=birth_date)
    with transaction.atomic():
        _check_id_number_free(by=by, id_number=id_number, community_id=clinic.community_id)
        # within the clinic only: whether another clinic uses the number is none of the caller's business
        if health_record_no and Patient.objects.filter(home_clinic=clinic, health_record_no=health_record_no).exists():
            raise Conflict("A patient of this clinic has this health-record number already.", code="duplicate_record")
        patient = Patient.objects.create(
            name=name, sex=sex, birth_date=birth_date, phone=phone, id_number=id_number,
            home_clinic=clinic, health_record_no=health_record_no or f"TMP-{uuid.uuid4().hex[:28]}",  # within max_length 32
        )
        if not health_record_no:
            patient.health_record_no = f"{clinic.code.upper()}-{patient.pk:06d}"
            patient.save(update_fields=["health_record_no"])
        audit_record(actor=by, action="create", obj=patient, interface="api", request=request)
    return patient


def patient_update(*, by: User, patient_id: int, changes: dict, request=None) -> Patient:
    allowed = {"name", "sex", "birth_date", "phone", "id_number"}
    with transaction.atomic():
        patient = patient_get(user=by, patient_id=patient_id, request=request, action=VIEW)
        if not scoped(by, Patient.objects.filter(pk=patient.pk), CHANGE).exists():
            raise NotPermitted("You may read this patient but not change their record.")
        if {"id_number", "sex", "birth_date"} & set(changes):
            # a new ID number states the sex and birth date not given with it; otherwise they are checked
            # against the number on record
            old = {} if "id_number" in changes else {"sex": patient.sex, "birth_date": patient.birth_date}
            changes["id_number"], changes["sex"], changes["birth_date"] = _identity(
                id_number=changes.get("id_number", patient.id_number), sex=changes.get("sex", old.get("sex", "")),
                birth_date=changes.get("birth_date", old.get("birth_date")))
            _check_id_number_free(by=by, id_number=changes["id_number"],
                                  community_id=patient.home_clinic.community_id, patient_id=patient.pk)
        for field, value in changes.items():
            if field in allowed:
                setattr(patient, field, value)
        patient.save()
        audit_record(actor=by, action="update", obj=patient, interface="api", request=request,
                     detail={"fields": sorted(set(changes) & allowed)})
    return patient


def api_token_issue(*, username: str, password: str, request=None) -> str:
    """A token for a right username and password; LoginThrottled (429) after too many failures."""
    from django.contrib.auth import authenticate
    from rest_framework.authtoken.models import Token

    ip = client_ip(request)
    login_throttle_check(username=username, ip=ip)
    user = authenticate(request=request, username=username, password=password)
    if user is None or not user.is_active:
        login_failure_record(username=username, ip=ip)
        raise NotPermitted("Wrong username or password.", code="bad_credentials")
    login_throttle_reset(username=username, ip=ip)
    token, _ = Token.objects.get_or_create(user=user)
    if token_expired(token):  # a new login after expiry: a new key (the old one is dead anyway)
        token.delete()
        token = Token.objects.create(user=user)
    return token.key


def api_tokens_revoke(*, user_id: int) -> None:
    """The user logged out (of the pages, or `DELETE /api/auth/token/`): their API token stops working at
    once (a password change: User.save)."""
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user_id=user_id).delete()
