"""The one place an open offer is withdrawn (an ending the expert did not choose: escalation, a coordinator's
assignment, a booking): the row changes and the expert's workstation is told live, so no path can forget."""
import datetime as dt

from consult.models import Consultation
from teleclinic.events import send_event_on_commit

from ..models import Assignment


def withdraw_open_offers(consultation: Consultation, *, reason: str, now: dt.datetime) -> list[int]:
    """Withdraw the consultation's open offer(s) and push `assignment.withdrawn` to each offered expert on
    commit. Call holding the consultation's row lock. Returns the withdrawn offers' ids."""
    offers = Assignment.objects.filter(consultation=consultation, status=Assignment.Status.OFFERED)
    offered_to = list(offers.order_by("pk").values_list("pk", "expert__user_id"))
    offers.filter(pk__in=[pk for pk, _ in offered_to]).update(
        status=Assignment.Status.WITHDRAWN, decided_at=now, reason=reason[:200])
    for assignment_id, user_id in offered_to:  # their workstations drop the offer at once
        send_event_on_commit(user_ids=[user_id], payload={
            "type": "assignment.withdrawn", "assignment": assignment_id, "consultation": consultation.pk,
            "reason": reason})
    return [pk for pk, _ in offered_to]
