"""The patient's link sent by SMS, through the outbound backend reports use (REPORTS_SMS_BACKEND:
any class with `send(*, phone, text)`; the console backend writes one line to the process's log)."""
import datetime as dt
import re

from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from directory.models import User
from reports.outbound import mask_phone, sms_backend
from teleclinic.errors import DomainError, InvalidInput, NotFound, NotPermitted

from ..models import JoinToken
from .rooms import room_for_staff
from .tokens import invite_token

PHONE = re.compile(r"\+?[0-9][0-9 -]{4,18}[0-9]")
PER_INVITE, PER_HOUR = 3, 20  # texts of one link; texts of one host in an hour (each costs, each is a secret sent)


class SmsLimited(DomainError):
    status, code = 429, "sms_limit"


def invite_sms_send(*, by: User, room_id: int, invite_id: int, phone: str, link, request=None) -> str:
    """Send the invitation's link to `phone` (the patient's own number by default); the masked number.

    `link(token)` makes the absolute link (the API builds it from the request, as for the QR code)."""
    room = room_for_staff(user=by, room_id=room_id)
    if room.host_id != by.pk:
        raise NotPermitted("Only the host invites the patient.", code="not_host")
    invite = JoinToken.objects.select_related("patient").filter(pk=invite_id, room=room).first()
    if invite is None:
        raise NotFound("No such invitation in this room.")
    if invite.revoked_at is not None or invite.expires_at <= timezone.now():
        raise InvalidInput("This link is no longer valid; make a new one.", code="invite_not_valid")
    phone = (phone or invite.patient.phone or "").strip()
    if not phone:
        raise InvalidInput("The patient has no phone number on record; type one.", code="no_phone")
    if not PHONE.fullmatch(phone):
        raise InvalidInput("A phone number is 6 to 20 digits (spaces, dashes and a leading + allowed).",
                           code="invalid_phone")
    _check_sms_limits(by=by, invite_id=invite.pk)
    expires = timezone.localtime(invite.expires_at).strftime("%H:%M")
    text = f"【远程会诊】{by}医生邀请您视频看诊，请用手机打开 {link(invite_token(invite))} （{expires}前有效，仅限一部手机）"
    sms_backend().send(phone=phone, text=text)
    masked = mask_phone(phone)
    audit_record(actor=by, action="create", obj=room.consultation, interface="api", request=request,
                 detail={"live_invite_sms": invite.pk, "phone": masked})
    return masked


def _check_sms_limits(*, by: User, invite_id: int) -> None:
    """Counted from the audit rows each send writes, so every process sees the same count."""
    sent = AuditEvent.objects.filter(actor_id=by.pk, detail__has_key="live_invite_sms")
    if sent.filter(detail__live_invite_sms=invite_id).count() >= PER_INVITE:
        raise SmsLimited(f"This link was sent {PER_INVITE} times already; make a new one if the patient lost it.")
    if sent.filter(at__gte=timezone.now() - dt.timedelta(hours=1)).count() >= PER_HOUR:
        raise SmsLimited(f"You sent {PER_HOUR} invitations by SMS in the last hour; try again later.")
