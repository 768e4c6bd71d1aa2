"""The live room's host asks for an expert now: the consultation is offered to an on-duty expert, exactly as
a new live consultation is (scheduling's assignment service), or handed to the coordinators if none is on duty."""
from audit.services import audit_record
from directory.models import User
from scheduling.services import assignment_request
from teleclinic.errors import NotPermitted

from .rooms import room_for_staff


def room_expert_request(*, by: User, room_id: int, request=None):
    """The open offer (an existing one as is), or None when nobody is on duty and the case was escalated.

    Only the room's host asks; Conflict (already_assigned) when an expert holds the case already."""
    room = room_for_staff(user=by, room_id=room_id)
    if room.host_id != by.pk:
        raise NotPermitted("Only the room's host asks for an expert.")
    offer = assignment_request(consultation_id=room.consultation_id, by=by)
    audit_record(actor=by, action="update", obj=room.consultation, interface="api", request=request,
                 detail={"live_room": room.pk, "expert_requested": offer.pk if offer else None})
    return offer
