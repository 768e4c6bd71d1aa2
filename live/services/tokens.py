"""Patient links and socket tickets.

The link carries a signed token (django.core.signing) naming a JoinToken row, its room,
its patient and its expiry; it travels in the URL fragment, so it never reaches a server log.
The patient page exchanges it for a ticket: a random secret, valid for seconds, usable once,
stored only as its SHA-256. The WebSocket presents the ticket, never the token.
"""
import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from directory.models import User
from teleclinic.errors import InvalidInput, NotPermitted

from ..errors import Refused
from ..models import JoinToken, Participant, Room, Ticket
from .events import event_append, lock_room, participant_payload
from .rooms import room_for_staff

SALT = "live.join-token"
P = Participant


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def invite_create(*, by: User, room_id: int, role: str = JoinToken.Role.PATIENT, display_name: str = "",
                  request=None) -> tuple[JoinToken, str]:
    """The host makes a link for the patient's (or a family member's) phone; (row, token)."""
    room = room_for_staff(user=by, room_id=room_id)
    if room.host_id != by.pk:
        raise NotPermitted("Only the host invites the patient.", code="not_host")
    if role not in JoinToken.Role.values:
        raise InvalidInput(f"role must be one of {', '.join(JoinToken.Role.values)}.")
    patient = room.consultation.patient
    name = display_name or (patient.name if role == JoinToken.Role.PATIENT else f"{patient.name}的家属")
    expires_at = timezone.now() + dt.timedelta(seconds=settings.LIVE_JOIN_TOKEN_TTL)
    with transaction.atomic():
        invite = JoinToken.objects.create(room=room, patient=patient, role=role, display_name=name[:60],
                                          created_by=by, expires_at=expires_at)
        audit_record(actor=by, action="create", obj=room.consultation, interface="api", request=request,
                     detail={"live_invite": invite.pk, "role": role})
    return invite, invite_token(invite)


def invite_token(invite: JoinToken) -> str:
    """The signed token of an invitation (signed anew each time, with a timestamp; every one names the same
    row, so the SMS's link and the panel's let in the same phone once)."""
    return signing.dumps({"j": invite.pk, "r": invite.room_id, "p": invite.patient_id,
                          "e": int(invite.expires_at.timestamp())}, salt=SALT, compress=True)


def token_read(*, token: str, room_id: int) -> JoinToken:
    """The invitation a token names, or Refused with the reason."""
    try:
        claims = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise Refused("This link is not valid (it was changed or not made by us).", code="token_forged")
    if claims.get("e", 0) <= timezone.now().timestamp():
        raise Refused("This link has expired; ask your doctor for a new one.", code="token_expired")
    if claims.get("r") != room_id:
        raise Refused("This link is for another consultation room.", code="token_other_room")
    invite = JoinToken.objects.select_related("room").filter(pk=claims.get("j"), room_id=room_id,
                                                             patient_id=claims.get("p")).first()
    if invite is None:
        raise Refused("This link is not valid.", code="token_forged")
    if invite.revoked_at is not None:
        raise Refused("This link was withdrawn by the doctor.", code="token_revoked")
    if invite.room.state != Room.State.OPEN:
        raise Refused("This consultation has ended.", code="room_closed")
    return invite


def token_check(*, room_id: int, token: str, device: str | None) -> JoinToken:
    """Whether a link would be let in, changing nothing: the patient page asks before it opens the camera.
    `device` is the browser's id if it has one (a link claimed by another phone is refused)."""
    invite = token_read(token=token, room_id=room_id)
    if invite.claimed_by_hash and invite.claimed_by_hash != _hash(device or ""):
        raise _reused()
    if P.objects.filter(join_token=invite, state=P.State.REMOVED).exists():
        raise _removed()
    return invite


def _reused() -> Refused:
    return Refused("This link was already used on another phone; ask your doctor for a new one.", code="token_reused")


def _removed() -> Refused:
    return Refused("The doctor removed you from this consultation.", code="removed")


def token_exchange(*, room_id: int, token: str, device: str) -> tuple[Participant, str, dt.datetime]:
    """Token -> (participant, ticket secret, ticket expiry). The first device claims the link;
    `device` is a random id kept in that browser's session. Another device is refused."""
    invite = token_read(token=token, room_id=room_id)
    with transaction.atomic():
        room = lock_room(room_id)
        invite = JoinToken.objects.select_for_update().get(pk=invite.pk)
        if invite.claimed_by_hash and invite.claimed_by_hash != _hash(device):
            raise _reused()
        participant = P.objects.filter(join_token=invite).first()
        if participant is not None and participant.state == P.State.REMOVED:
            raise _removed()
        if participant is None:
            invite.claimed_by_hash, invite.claimed_at = _hash(device), timezone.now()
            invite.save(update_fields=["claimed_by_hash", "claimed_at"])
            participant = P.objects.create(room=room, role=invite.role, state=P.State.WAITING, join_token=invite,
                                           display_name=invite.display_name)
            event_append(room=room, kind="participant.joined", participant=participant,
                         data={"participant": participant_payload(participant)})
        secret, expires_at = _ticket_issue(participant)
    return participant, secret, expires_at


def _ticket_issue(participant: Participant) -> tuple[str, dt.datetime]:
    secret = secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(seconds=settings.LIVE_TICKET_TTL)
    Ticket.objects.create(participant=participant, secret_hash=_hash(secret), expires_at=expires_at)
    return secret, expires_at


def ticket_consume(*, room_id: int, secret: str) -> int:
    """Use a ticket once: the participant id, or Refused with the reason."""
    ticket = Ticket.objects.select_related("participant__room").filter(secret_hash=_hash(secret or "")).first()
    if ticket is None:
        raise Refused("Unknown ticket.", code="ticket_unknown")
    if ticket.participant.room_id != room_id:
        raise Refused("This ticket is for another room.", code="ticket_other_room")
    if ticket.participant.room.state != Room.State.OPEN:  # a ticket taken before the room closed
        raise Refused("This live room has ended.", code="room_closed")
    if ticket.participant.state == P.State.REMOVED:
        raise Refused("The host removed you from this room.", code="removed")
    now = timezone.now()
    if ticket.used_at is not None:
        raise Refused("This ticket was used already; open the link again.", code="ticket_reused")
    if ticket.expires_at <= now:
        raise Refused("This ticket has expired; open the link again.", code="ticket_expired")
    # The guarded UPDATE is the atomic claim: of two sockets racing, one updates one row.
    if Ticket.objects.filter(pk=ticket.pk, used_at__isnull=True, expires_at__gt=now).update(used_at=now) != 1:
        raise Refused("This ticket was used already; open the link again.", code="ticket_reused")
    return ticket.participant_id


def new_device_id() -> str:
    return secrets.token_urlsafe(24)
