"""Writes to the directory: one function per use case, each owning its transaction."""
import datetime as dt
import uuid

from django.db import transaction

from audit.services import audit_record, client_ip
from teleclinic.errors import Conflict, InvalidInput, NotPermitted
from teleclinic.ratelimit import login_failure_record, login_throttle_check, login_throttle_reset

from .access import CHANGE, VIEW, orgs_in_reach, scoped
from .models import Organisation, Patient, User
from .selectors import patient_get


def _check_clinic_reach(*, by: User, home_clinic_id: int) -> None:
    orgs = orgs_in_reach(by)
    if by.role in (User.Role.EXPERT, User.Role.COORDINATOR) or (orgs is not None and home_clinic_id not in orgs):
        raise NotPermitted("You may register patients only for your own clinic (or the clinics under your centre).")


def patient_register(*, by: User, name: str, sex: str, birth_date: dt.date, home_clinic_id: int | None = None,
                     phone: str = "", id_number: str = "", health_record_no: str = "", request=None) -> Patient:
    home_clinic_id = home_clinic_id or by.organisation_id
    _check_clinic_reach(by=by, home_clinic_id=home_clinic_id)
    clinic = Organisation.objects.filter(pk=home_clinic_id).first() if home_clinic_id else None
    if clinic is None:
        raise InvalidInput("Unknown home clinic.", code="unknown_clinic")
    with transaction.atomic():
        if health_record_no and Patient.objects.filter(health_record_no=health_record_no).exists():
            raise Conflict("A patient with this health-record number exists already.", code="duplicate_record")
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
    return token.key
