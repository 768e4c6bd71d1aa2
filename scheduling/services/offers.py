"""The one place an open offer ends without the expert's answer: withdrawn (escalation, a coordinator's
assignment, a booking) or lapsed (its timer or the sweeper). The row changes and the expert's workstation is
told live (`assignment.withdrawn` / `assignment.expired`; it drops the offer on any `assignment.*`), so no path
can forget. The expert's own accept/decline are in assignments.py."""
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


def lapse_offer(assignment: Assignment, *, now: dt.datetime) -> None:
    """An open offer nobody answered in time: expired, and the expert told on commit. Call holding the
    consultation's and the offer's row locks, having checked that it is open and due."""
    assignment.status, assignment.decided_at = Assignment.Status.EXPIRED, now
    assignment.save(update_fields=["status", "decided_at"])
    send_event_on_commit(user_ids=[assignment.expert.user_id], payload={
        "type": "assignment.expired", "assignment": assignment.pk, "consultation": assignment.consultation_id})
