"""IDOR matrix: every endpoint that returns patient data, read by every role, in and out of reach.

A record out of the reader's reach answers 404 (detail) or is absent (list), exactly as if it
did not exist, and leaves no audit row; a record in reach is returned and each read writes
exactly one audit row naming it.

To cover a new endpoint, add ONE row to ENDPOINTS: its URL (with `{id}` for a detail URL) and a
function (org, expert) -> the record it returns, held by `org` and in `expert`'s worklist.
An endpoint that only some roles have (the expert's own worklist) names them in `for_roles`: to
everyone else it shows nothing.
"""
import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pytest
from django.db.models import Model
from django.utils import timezone

from audit.models import AuditEvent
from consult.models import Consultation
from directory.models import Expert, Organisation, User
from scheduling.models import Assignment, Booking, FollowUpTask, Referral
from tests.factories import ConsultationFactory, PatientFactory, UserFactory
from tests.scheduling.conftest import make_session


def a_patient(org: Organisation, expert: Expert) -> Model:
    """A patient of `org`; experts reach patients through a consultation assigned to them."""
    patient = PatientFactory(home_clinic=org)
    ConsultationFactory(patient=patient, assigned_expert=expert, state=Consultation.State.ASSIGNED)
    return patient


def a_consultation(org: Organisation, expert: Expert) -> Model:
    return ConsultationFactory(patient=PatientFactory(home_clinic=org), assigned_expert=expert,
                               state=Consultation.State.ASSIGNED)


def _staff(org: Organisation) -> User:
    return UserFactory(role=User.Role.VILLAGE_DOCTOR, organisation=org)


def _lead(org: Organisation) -> Organisation:
    return Organisation.objects.get(pk=org.community_id)


def a_booking(org: Organisation, expert: Expert) -> Model:
    """A booking made by `org` in a slot of `expert`'s session tomorrow."""
    consultation = a_consultation(org, expert)
    session = make_session(expert.user, consultation.specialty, slots=1,
                           starts_at=timezone.now() + dt.timedelta(days=1))
    return Booking.objects.create(slot=session.slots.get(), patient=consultation.patient, consultation=consultation,
                                  booked_by=_staff(org), booked_org=org)


def an_assignment(org: Organisation, expert: Expert) -> Model:
    return Assignment.objects.create(consultation=a_consultation(org, expert), expert=expert, status="accepted",
                                     expires_at=timezone.now(), decided_at=timezone.now())


def a_referral(org: Organisation, expert: Expert) -> Model:
    """An upward referral from `org` to its lead hospital, of a consultation assigned to `expert`."""
    consultation = a_consultation(org, expert)
    return Referral.objects.create(direction=Referral.Direction.UP, state=Referral.State.REQUESTED,
                                   patient=consultation.patient, consultation=consultation, from_org=org,
                                   to_org=_lead(org), created_by=_staff(org), reason="胸痛待查")


def a_follow_up(org: Organisation, expert: Expert) -> Model:
    """A follow-up task of `org`, from a downward referral that `expert` wrote."""
    consultation = a_consultation(org, expert)
    referral = Referral.objects.create(direction=Referral.Direction.DOWN, state=Referral.State.SENT,
                                       patient=consultation.patient, consultation=consultation, from_org=_lead(org),
                                       to_org=org, created_by=expert.user, summary="出院小结")
    return FollowUpTask.objects.create(referral=referral, patient=consultation.patient, organisation=org,
                                       title="复查心电图", due_on=timezone.localdate() + dt.timedelta(days=7))


def paginated_ids(body) -> list:
    return [row["id"] for row in body["results"]]


def worklist_ids(body) -> list:
    return [row["consultation"] for row in body]


def calendar_booking_ids(body) -> list:
    return [booking["id"] for session in body for slot in session["slots"] for booking in slot["bookings"]]


@dataclass(frozen=True)
class Endpoint:
    url: str  # "/api/things/{id}/" for a detail, no {id} for a list
    make: Callable[[Organisation, Expert], Model]
    listed_ids: Callable = paginated_ids  # how to read the ids out of a list response
    returned_id: Callable = lambda body: body["id"]  # how to read the id out of a detail response
    for_roles: tuple = ()  # the roles that have this endpoint; empty: every role

    @property
    def is_list(self) -> bool:
        return "{id}" not in self.url

    def __str__(self):
        return self.url


# One row per endpoint that returns patient data.
ENDPOINTS = [
    Endpoint("/api/patients/", a_patient),
    Endpoint("/api/patients/{id}/", a_patient),
    Endpoint("/api/consultations/", a_consultation),
    Endpoint("/api/consultations/{id}/", a_consultation),
    Endpoint("/api/scheduling/bookings/", a_booking),
    Endpoint("/api/fhir/Appointment/{id}", a_booking, returned_id=lambda body: int(body["id"])),
    Endpoint("/api/scheduling/me/calendar/", a_booking, listed_ids=calendar_booking_ids, for_roles=("expert",)),
    Endpoint("/api/scheduling/assignments/", an_assignment),
    Endpoint("/api/scheduling/worklist/", a_consultation, listed_ids=worklist_ids, for_roles=("expert",)),
    Endpoint("/api/scheduling/referrals/", a_referral),
    Endpoint("/api/scheduling/referrals/{id}/", a_referral),
    Endpoint("/api/scheduling/follow-ups/", a_follow_up),
]


@dataclass(frozen=True)
class Holder:
    """Who holds a record: an organisation of the community fixture and the expert it is assigned to."""

    org: str
    expert: str = "expert"


# reader -> (a record in their reach, records out of their reach)
READERS = {
    "village_doctor": (Holder("village_a1"), [Holder("village_a2", "other_expert"), Holder("foreign_village")]),
    "township_doctor": (Holder("village_a1"), [Holder("village_b1", "other_expert"), Holder("foreign_village")]),
    "expert": (Holder("village_a1"), [Holder("village_a1", "other_expert"), Holder("foreign_village", "other_expert")]),
    "coordinator": (Holder("village_a1"), [Holder("foreign_village")]),
    "foreign_coordinator": (Holder("foreign_village"), [Holder("village_a1")]),
    "foreign_village_doctor": (Holder("foreign_village"), [Holder("village_a1")]),
    "admin": (Holder("village_a1"), []),
}
DENIED = [(reader, holder) for reader, (_, outside) in READERS.items() for holder in outside]


@pytest.fixture
def readers(people, community):
    return dict(people, foreign_village_doctor=UserFactory(username="vdoc-x", role=User.Role.VILLAGE_DOCTOR,
                                                           organisation=community.foreign_village))


def _make(endpoint: Endpoint, holder: Holder, community, readers) -> Model:
    return endpoint.make(getattr(community, holder.org), readers[holder.expert].expert)


def _audit_rows(reader, obj) -> int:
    return AuditEvent.objects.filter(actor=reader, action="read", object_type=type(obj).__name__,
                                     object_id=str(obj.pk)).count()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("reader_role, holder", DENIED, ids=lambda v: getattr(v, "org", v))
def test_record_out_of_reach_answers_as_if_it_did_not_exist(endpoint, reader_role, holder, community, readers, api):
    # given a record held by an organisation (or expert) out of the reader's reach
    record = _make(endpoint, holder, community, readers)
    reader = readers[reader_role]
    # when the reader asks for it
    response = api(reader).get(endpoint.url.format(id=record.pk))
    # then it does not exist for them, and nothing about it is audited as read
    if endpoint.is_list:
        assert response.status_code == 200
        assert record.pk not in endpoint.listed_ids(response.json())
    else:
        assert response.status_code == 404
        assert set(response.json()) == {"code", "detail"} and response.json()["code"] == "not_found"
    assert _audit_rows(reader, record) == 0


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("reader_role", list(READERS))
def test_record_in_reach_is_returned_and_each_read_is_audited_once(endpoint, reader_role, community, readers, api):
    # given a record in the reader's reach
    record = _make(endpoint, READERS[reader_role][0], community, readers)
    reader = readers[reader_role]
    before = AuditEvent.objects.filter(actor=reader).count()
    # when the reader reads it
    response = api(reader).get(endpoint.url.format(id=record.pk))
    # then it is returned, and exactly one audit row names it (one per row of a list)
    assert response.status_code == 200, response.content
    body = response.json()
    written = AuditEvent.objects.filter(actor=reader).count() - before
    if endpoint.for_roles and reader_role not in endpoint.for_roles:
        # (a list of the reader's own work, which this role does not have: empty, nothing audited)
        assert endpoint.listed_ids(body) == [] and written == 0
        return
    if endpoint.is_list:
        assert record.pk in endpoint.listed_ids(body)
        assert written == len(endpoint.listed_ids(body))
    else:
        assert endpoint.returned_id(body) == record.pk
        assert written == 1
    assert _audit_rows(reader, record) == 1
