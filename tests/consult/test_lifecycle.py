"""The consultation's lifecycle: every transition from every state, allowed or refused, and its audit row."""
import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from consult import services
from consult.lifecycle import Transition, TransitionRefused
from consult.locks import lock_consultation
from consult.models import Consultation, Urgency
from directory.models import Expert
from tests.consult.findings import critical_finding

S = Consultation.State
ALL_STATES = list(S.values)

# Written out here, not read from consult.lifecycle: the test states the rules the table must keep.
ALLOWED_FROM = {
    Transition.OFFER: {S.REQUESTED, S.OFFERED, S.ESCALATED},
    Transition.ESCALATE: {S.REQUESTED, S.OFFERED, S.ESCALATED},
    Transition.ASSIGN: {S.REQUESTED, S.OFFERED, S.ESCALATED},
    Transition.BOOK: {S.REQUESTED, S.OFFERED, S.ESCALATED, S.ASSIGNED},
    Transition.START: {S.OFFERED, S.ASSIGNED},
    Transition.REPORT: {S.ASSIGNED, S.IN_PROGRESS, S.REPORTED, S.CLOSED},
    Transition.CLOSE: {S.REPORTED},
}
REACHES = {Transition.OFFER: S.OFFERED, Transition.ESCALATE: S.ESCALATED, Transition.ASSIGN: S.ASSIGNED,
           Transition.BOOK: S.ASSIGNED, Transition.START: S.IN_PROGRESS, Transition.REPORT: S.REPORTED,
           Transition.CLOSE: S.CLOSED}
REFUSAL_CODE = {Transition.OFFER: "not_offerable", Transition.ESCALATE: "not_offerable",
                Transition.ASSIGN: "not_offerable", Transition.BOOK: "consultation_closed",
                Transition.START: "not_started", Transition.REPORT: "not_reportable", Transition.CLOSE: "not_reported"}


def _do(transition: str, consultation: Consultation, by, expert: Expert) -> None:
    now = timezone.now()
    calls = {
        Transition.OFFER: lambda: services.do_offer(consultation=consultation, detail={"assignment": 1}),
        Transition.ESCALATE: lambda: services.do_escalate(consultation=consultation, reason="no_expert_available"),
        Transition.ASSIGN: lambda: services.do_assign(consultation=consultation, expert_id=expert.pk, at=now,
                                                      due_at=now + dt.timedelta(hours=4), by=by, detail={}),
        Transition.BOOK: lambda: services.do_book(consultation=consultation, expert_id=expert.pk, at=now,
                                                  due_at=now + dt.timedelta(hours=1), by=by, detail={"booking": 1}),
        Transition.START: lambda: services.do_start(consultation=consultation, by=by, detail={"report": 1}),
        Transition.REPORT: lambda: services.do_report(consultation=consultation, by=by, detail={"signed": 1}),
        Transition.CLOSE: lambda: services.do_close(consultation=consultation, by=by, detail={"delivery": 1}),
    }
    with transaction.atomic():
        calls[transition]()


@pytest.fixture
def case(people, consultation_factory, cardiology, community):
    def make(state: str) -> Consultation:
        consultation = consultation_factory(requested_by=people["village_doctor"], specialty=cardiology,
                                            patient__home_clinic=community.village_a1, state=state)
        # An old stamp, so that a transition that skipped updated_at would show.
        Consultation.objects.filter(pk=consultation.pk).update(updated_at=timezone.now() - dt.timedelta(days=1))
        with transaction.atomic():
            return lock_consultation(consultation.pk)
    return make


def _transition_audits(consultation: Consultation):
    return AuditEvent.objects.filter(object_type="Consultation", object_id=str(consultation.pk), action="update")


@pytest.mark.parametrize("transition", list(Transition))
@pytest.mark.parametrize("state", ALL_STATES)
def test_each_transition_moves_only_from_its_states_and_leaves_one_audit_row(transition, state, case, people):
    # given a consultation in `state`
    consultation = case(state)
    before = Consultation.objects.get(pk=consultation.pk).updated_at
    expert = Expert.objects.get(user=people["expert"])
    if state in ALLOWED_FROM[transition]:
        # when the transition runs, then the case reaches its state, stamped, with one audit row saying so
        _do(transition, consultation, people["expert"], expert)
        stored = Consultation.objects.get(pk=consultation.pk)
        assert stored.state == REACHES[transition]
        assert stored.updated_at > before
        [row] = _transition_audits(consultation)
        assert row.detail["transition"] == transition and row.detail["state"] == [state, REACHES[transition]]
        assert row.consultation_id == consultation.pk and row.patient_id == consultation.patient_id
    else:
        # when the transition runs, then it is refused with its code, nothing changed and nothing audited
        with pytest.raises(TransitionRefused) as refused:
            _do(transition, consultation, people["expert"], expert)
        assert refused.value.code == REFUSAL_CODE[transition] and refused.value.status == 409
        stored = Consultation.objects.get(pk=consultation.pk)
        assert (stored.state, stored.updated_at, stored.assigned_expert_id) == (state, before, None)
        assert not _transition_audits(consultation).exists()


def test_assign_records_the_expert_and_the_due_time(case, people):
    consultation = case(S.OFFERED)
    expert = Expert.objects.get(user=people["expert"])
    _do(Transition.ASSIGN, consultation, people["coordinator"], expert)
    stored = Consultation.objects.get(pk=consultation.pk)
    assert stored.assigned_expert_id == expert.pk and stored.assigned_at is not None and stored.due_at is not None
    [row] = _transition_audits(consultation)
    assert row.actor_username == "coord" and row.detail["expert"] == expert.pk


def test_a_critical_finding_raises_to_stat_once_audited(case):
    # given a routine consultation an expert holds
    consultation = case(S.ASSIGNED)
    assert consultation.urgency == Urgency.ROUTINE
    # when two critical findings arrive
    critical_finding(consultation_id=consultation.pk, reason="critical_ecg")
    critical_finding(consultation_id=consultation.pk, reason="critical_ecg")
    # then it is stat, and one audit row records the raise
    assert Consultation.objects.get(pk=consultation.pk).urgency == Urgency.STAT
    [row] = _transition_audits(consultation)
    assert row.detail["urgency"] == [Urgency.ROUTINE, Urgency.STAT] and row.detail["reason"] == "critical_ecg"


def test_a_stat_case_raised_again_is_not_written(case):
    consultation = case(S.ASSIGNED)
    Consultation.objects.filter(pk=consultation.pk).update(urgency=Urgency.STAT)
    with transaction.atomic():
        changed = services.do_raise_to_stat(consultation=lock_consultation(consultation.pk), reason="critical_ecg")
    assert changed is False and not _transition_audits(consultation).exists()
