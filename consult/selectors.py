"""Reads of consultations that apply permissions and write the audit log."""
from django.db.models import Min, Q, QuerySet

from audit.services import audit_record, audit_record_many
from directory.access import access_get, VIEW, scoped
from directory.models import User

from .models import Consultation


# A cloud-clinic booking's time, through scheduling's Booking rows (named, not imported: scheduling
# imports consult). Booked and arrived bookings are the live ones (scheduling.models.ACTIVE_BOOKING).
BOOKED_AT = Min("bookings__slot__starts_at", filter=Q(bookings__status__in=("booked", "arrived")))


def consultation_list(*, user: User, state: str = "", query: str = "") -> QuerySet[Consultation]:
    """With `booked_at`: the start of the consultation's booked cloud-clinic slot, if any. `query`: the
    patient's name (part of it), health record number or whole ID number, or the consultation's number
    ("#12" or "12")."""
    rows = scoped(user, Consultation.objects.select_related("patient", "specialty", "requesting_org",
                                                            "assigned_expert__user"), VIEW)
    if state:
        rows = rows.filter(state=state)
    query = query.strip()
    if query:
        match = (Q(patient__name__icontains=query) | Q(patient__health_record_no=query)
                 | Q(patient__id_number=query.replace(" ", "").upper()))
        number = query.removeprefix("#")
        if number.isascii() and number.isdigit() and len(number) < 12:
            match |= Q(pk=int(number))
        rows = rows.filter(match)
    return rows.annotate(booked_at=BOOKED_AT).order_by("-created_at", "-id")


def audit_consultations_listed(*, user: User, consultations, request) -> None:
    audit_record_many(actor=user, action="read", objs=consultations, interface="api", request=request)


def consultation_get(*, user: User, consultation_id, request=None, action: str = VIEW,
                     interface: str = "api") -> Consultation:
    consultation = access_get(
        user, Consultation.objects.select_related("patient", "specialty", "assigned_expert__user")
        .annotate(booked_at=BOOKED_AT), action, pk=consultation_id, not_found="No such consultation in your reach.")
    audit_record(actor=user, action="read", obj=consultation, interface=interface, request=request)
    return consultation
