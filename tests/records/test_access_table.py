"""Who reads a patient's record (directory.access.RECORD_ACCESS), one case per row and its edges.

Each case sets up the reader's relation to the patient of village A1, then asks for the patient page's
API. A reader in reach gets the record and one audit row naming the table's row that let them in; anyone
else gets the very 404 a patient who does not exist gives, and no read is logged.
"""
import datetime as dt

import pytest
import time_machine

from audit.models import AuditEvent
from consult.models import Consultation
from directory.access import RECORD_ACCESS
from directory.models import User
from records.models import BreakGlassGrant
from scheduling.models import Referral
from tests.factories import ConsultationFactory, ExpertFactory, UserFactory

from .conftest import T0, backdate

NOW = T0 + dt.timedelta(days=100)
GRACE = 30  # settings.RECORD_EXPERT_GRACE_DAYS and RECORD_REFERRAL_GRACE_DAYS, set below


def _own_village_doctor(people, community, patient):
    return people["village_doctor"]


def _township_above(people, community, patient):
    return people["township_doctor"]


def _coordinator(people, community, patient):
    return people["coordinator"]


def _admin(people, community, patient):
    return people["admin"]


def _expert_with(state: str, ended_days_ago: float | None = None):
    def setup(people, community, patient):
        case = ConsultationFactory(patient=patient, requested_by=people["village_doctor"],
                                   assigned_expert=people["expert"].expert, state=state)
        if ended_days_ago is not None:
            # changed just now (an amendment, a late acknowledgement): the grace runs from ended_at all the same
            backdate(case, ended_at=NOW - dt.timedelta(days=ended_days_ago), updated_at=NOW)
        return people["expert"]
    return setup


def _referral_to_township_b(state: str):
    def setup(people, community, patient):
        reader = UserFactory(username="tdoc-b", role=User.Role.TOWNSHIP_DOCTOR, organisation=community.township_b)
        Referral.objects.create(direction="up", state=state, patient=patient, from_org=community.village_a1,
                                to_org=community.township_b, created_by=people["village_doctor"])
        return reader
    return setup


def _referral(state: str, reader: str, ended_days_ago: float | None = None):
    """A referral of the patient into a slot of `other_expert` at the lead hospital of the other community
    (a cross-community referral, so that no other row lets its coordinator in), read by `reader`."""
    def setup(people, community, patient):
        from scheduling.models import Booking
        from tests.scheduling.conftest import make_session

        receiving = people["other_expert"]
        receiving.organisation = community.foreign_lead
        receiving.save(update_fields=["organisation"])
        session = make_session(receiving, receiving.expert.specialties.first(), starts_at=NOW + dt.timedelta(days=1))
        booking = Booking.objects.create(slot=session.slots.first(), patient=patient, booked_by=people["village_doctor"],
                                         booked_org=community.village_a1)
        referral = Referral.objects.create(direction="up", state=state, patient=patient, from_org=community.village_a1,
                                           to_org=community.foreign_lead, created_by=people["village_doctor"],
                                           booking=booking)
        if ended_days_ago is not None:
            backdate(referral, ended_at=NOW - dt.timedelta(days=ended_days_ago), updated_at=NOW)
        return {"coordinator": lambda: people["foreign_coordinator"], "slot expert": lambda: receiving,
                "doctor": lambda: UserFactory(username="doc-lead-x", role=User.Role.TOWNSHIP_DOCTOR,
                                              organisation=community.foreign_lead),
                "other expert": lambda: ExpertFactory(user=UserFactory(
                    username="expert-x", role=User.Role.EXPERT, organisation=community.foreign_lead)).user}[reader]()
    return setup


def _break_glass(expires_in_hours: float):
    def setup(people, community, patient):
        reader = people["other_village_doctor"]
        BreakGlassGrant.objects.create(user=reader, patient=patient, reason="昏迷送诊",
                                       expires_at=NOW + dt.timedelta(hours=expires_in_hours))
        return reader
    return setup


def _system_client(organisation: str):
    def setup(people, community, patient):
        return UserFactory(username=f"his-{organisation}", role=User.Role.SYSTEM,
                           organisation=getattr(community, organisation))
    return setup


def _other_village_doctor(people, community, patient):
    return people["other_village_doctor"]


def _other_expert(people, community, patient):
    ConsultationFactory(patient=patient, requested_by=people["village_doctor"], assigned_expert=people["expert"].expert,
                        state=Consultation.State.ASSIGNED)  # someone else's case does not open it to them
    return people["other_expert"]


def _foreign_coordinator(people, community, patient):
    return people["foreign_coordinator"]


def _township_b_without_referral(people, community, patient):
    return UserFactory(username="tdoc-b", role=User.Role.TOWNSHIP_DOCTOR, organisation=community.township_b)


# (case, setup -> reader, the RECORD_ACCESS row that lets them in, or None for a 404)
CASES = [
    ("village doctor of the patient's clinic", _own_village_doctor, "own_clinic"),
    ("township doctor above the clinic", _township_above, "own_clinic"),
    ("coordinator of the community", _coordinator, "community"),
    ("admin", _admin, "admin"),
    ("expert, case open", _expert_with(Consultation.State.IN_PROGRESS), "assigned_expert"),
    ("expert, case closed within the grace", _expert_with(Consultation.State.CLOSED, GRACE - 1), "assigned_expert"),
    ("expert, case reported within the grace", _expert_with(Consultation.State.REPORTED, GRACE - 1),
     "assigned_expert"),
    ("receiving coordinator, referral under way", _referral("requested", "coordinator"), "referral_receiver"),
    ("expert of the referral's slot", _referral("accepted", "slot expert"), "referral_receiver"),
    ("receiving coordinator, arrived within the grace", _referral("arrived", "coordinator", GRACE - 1),
     "referral_receiver"),
    ("break-glass, unexpired", _break_glass(2), "break_glass"),
    ("hospital system (FHIR client) of the township", _system_client("township_a"), "system_client"),
    # and everyone else: 404
    ("village doctor of another clinic", _other_village_doctor, None),
    ("expert, case closed past the grace", _expert_with(Consultation.State.CLOSED, GRACE + 1), None),
    ("expert, case reported past the grace (changed since)", _expert_with(Consultation.State.REPORTED, GRACE + 1),
     None),
    ("expert, another expert's case", _other_expert, None),
    ("coordinator of another community", _foreign_coordinator, None),
    ("township B without a referral", _township_b_without_referral, None),
    ("township B, referral cancelled", _referral_to_township_b("cancelled"), None),
    ("receiving coordinator, referral cancelled", _referral("cancelled", "coordinator"), None),
    ("receiving coordinator, arrived past the grace", _referral("arrived", "coordinator", GRACE + 1), None),
    ("slot expert, acknowledged past the grace", _referral("acknowledged", "slot expert", GRACE + 1), None),
    ("a doctor of the receiving hospital", _referral("requested", "doctor"), None),
    ("another expert of the receiving hospital", _referral("requested", "other expert"), None),
    ("township B doctor, referral to township B", _referral_to_township_b("requested"), None),
    ("break-glass, expired", _break_glass(-1), None),
    ("hospital system of another township", _system_client("township_b"), None),
]


def test_every_row_of_the_table_has_a_case_that_grants_it():
    assert {rule.name for rule in RECORD_ACCESS} == {rule for _, _, rule in CASES if rule}


@pytest.mark.parametrize("case, setup, rule", CASES, ids=[c[0] for c in CASES])
def test_who_reads_the_patient_record(case, setup, rule, api, people, community, record_patient, settings):
    settings.RECORD_EXPERT_GRACE_DAYS = settings.RECORD_REFERRAL_GRACE_DAYS = GRACE
    with time_machine.travel(NOW, tick=False):
        reader = setup(people, community, record_patient)
        before = AuditEvent.objects.count()
        response = api(reader).get(f"/api/records/patients/{record_patient.pk}/timeline/")
        if rule is None:
            missing = api(reader).get("/api/records/patients/999999/timeline/")
            assert response.status_code == missing.status_code == 404
            assert response.json() == missing.json() == {"code": "not_found", "detail": "No such patient in your reach."}
            assert not AuditEvent.objects.filter(patient_id=record_patient.pk, action="read").exists()
            assert AuditEvent.objects.count() == before
            return
        assert response.status_code == 200, response.content
        assert response.json()["patient"]["id_number_masked"] == "4305**********1234"
        row = AuditEvent.objects.get(object_type="Patient", object_id=str(record_patient.pk), action="read")
        assert row.actor_id == reader.pk and row.patient_id == record_patient.pk
        assert row.detail["record"] == "record" and rule in row.detail["via"]


@pytest.mark.parametrize("case, setup, rule", CASES, ids=[c[0] for c in CASES])
def test_the_record_rules_reach_the_patients_ecg_viewer_too(case, setup, rule, api, people, community,
                                                            record_patient, settings):
    """The viewers read through the same table: an ECG of the patient (of another clinic's case) opens for
    exactly the readers of the record (an expert also through their own case)."""
    from studies.models import EcgRecord

    settings.RECORD_EXPERT_GRACE_DAYS = settings.RECORD_REFERRAL_GRACE_DAYS = GRACE
    with time_machine.travel(NOW, tick=False):
        reader = setup(people, community, record_patient)
        elsewhere = ConsultationFactory(patient=record_patient, requesting_org=community.township_a,
                                        requested_by=people["township_doctor"])
        ecg = EcgRecord.objects.create(patient=record_patient, consultation=elsewhere, source_format="csv",
                                       sampling_rate=500, lead_names=["I"], n_samples=10, samples_file="x.npz")
        response = api(reader).get(f"/api/ecgs/{ecg.pk}/")
        assert response.status_code == (404 if rule is None else 200)


def test_the_experts_grace_starts_at_the_first_signed_report_and_an_amendment_does_not_move_it(people, record_patient):
    from consult.services import do_close, do_report

    case = ConsultationFactory(patient=record_patient, requested_by=people["village_doctor"],
                               assigned_expert=people["expert"].expert, state=Consultation.State.IN_PROGRESS)
    with time_machine.travel(T0, tick=False):
        do_report(consultation=case, by=people["expert"], detail={})
    with time_machine.travel(T0 + dt.timedelta(days=5), tick=False):
        do_report(consultation=case, by=people["expert"], detail={"amendment": True})
        do_close(consultation=case, by=people["village_doctor"], detail={})
    case.refresh_from_db()
    assert (case.state, case.ended_at) == (Consultation.State.CLOSED, T0)


def test_a_referral_ends_when_it_arrives_or_is_acknowledged(people, community, record_patient):
    from scheduling.services.referrals import referral_acknowledge, referral_down_create

    with time_machine.travel(T0, tick=False):
        referral = referral_down_create(by=people["coordinator"], patient_id=record_patient.pk, summary="出院",
                                        plan=[{"title": "复查心电图", "due_in_days": 7}])
    assert referral.ended_at is None
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        referral_acknowledge(referral_id=referral.pk, by=people["village_doctor"])
    referral.refresh_from_db()
    assert (referral.state, referral.ended_at) == ("acknowledged", T0 + dt.timedelta(days=2))
