"""IDOR matrix: every endpoint that returns patient data, read by every role, in and out of reach.

A record out of the reader's reach answers 404 (detail) or is absent (list), exactly as if it
did not exist, and leaves no audit row; a record in reach is returned and each read writes
exactly one audit row naming it.

To cover a new endpoint, add ONE row to ENDPOINTS: its URL (with `{id}` for a detail URL) and a
function (org, expert) -> the record it returns, held by `org` and in `expert`'s worklist.
An endpoint that only some roles have (the expert's own worklist) names them in `for_roles`: to
everyone else it shows nothing. An endpoint of the reader's own records (their uploads) is
`owner_only`: it is made by the reader to be in reach, and anyone else's, a colleague's or
an administrator reading, is absent. A record addressed by something other than its pk (a
DICOM UID) names it with `key`; a binary response (an image) has `returned_id=None`.
DICOMweb rows are read with `Authorization: Bearer <API token>`, as OHIF and dicomweb-client do.
"""
import datetime as dt
import io
from dataclasses import dataclass
from typing import Callable

import pytest
from django.db.models import Model
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from consult.models import Consultation
from directory.models import Expert, Organisation, User
from live.models import JoinToken, Room
from live.services.rooms import room_open
from scheduling.models import Assignment, Booking, FollowUpTask, Referral
from studies.models import EcgRecord, ImagingStudy, Instance, Photo, Upload
from studies.services.ingest import ingest_upload
from studies.services.uploads import upload_create
from tests.factories import ConsultationFactory, PatientFactory, UserFactory
from tests.scheduling.conftest import make_session
from tests.studies.conftest import TusClient, sample_bytes, upload_id_of


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


def _ingested(org: Organisation, expert: Expert, data: bytes, **metadata):
    """What a village doctor of `org` uploads (tus) within a consultation assigned to `expert`, ingested."""
    consultation = a_consultation(org, expert)
    client = APIClient()
    client.force_authenticate(_staff(org))
    upload = ingest_upload(upload_id=upload_id_of(TusClient(client).send(data, consultation=consultation.pk,
                                                                          **metadata)))
    assert upload.state == Upload.State.INGESTED, upload.error_message
    return upload.result


def an_ecg(org: Organisation, expert: Expert) -> Model:
    return EcgRecord.objects.get(pk=_ingested(org, expert, sample_bytes("waveform_ecg.dcm"))["id"])


def an_imaging_study(org: Organisation, expert: Expert) -> Model:
    return ImagingStudy.objects.get(pk=_ingested(org, expert, sample_bytes("CT_small.dcm"))["study_id"])


def an_instance(org: Organisation, expert: Expert) -> Model:
    return Instance.objects.get(sop_instance_uid=_ingested(org, expert, sample_bytes("CT_small.dcm"))["instance"])


def a_photo(org: Organisation, expert: Expert) -> Model:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "red").save(buffer, format="PNG")
    return Photo.objects.get(pk=_ingested(org, expert, buffer.getvalue(), kind="photo", filename="wound.png")["id"])


def an_upload(org: Organisation, expert: Expert, owner: User | None = None) -> Model:
    """An upload begun (tus creation) by `owner`, by default a village doctor of `org`."""
    return upload_create(by=owner or _staff(org), length=1024, metadata={"filename": "心电图.xml"})


def a_live_room(org: Organisation, expert: Expert) -> Model:
    """The open live room of a live consultation of `org` assigned to `expert`, opened by a village doctor of `org`."""
    doctor = _staff(org)
    consultation = ConsultationFactory(patient=PatientFactory(home_clinic=org), requested_by=doctor,
                                       assigned_expert=expert, state=Consultation.State.ASSIGNED,
                                       mode=Consultation.Mode.LIVE)
    return room_open(by=doctor, consultation_id=consultation.pk)[0]


def study_uid(study: ImagingStudy) -> str:
    return study.study_instance_uid


def dicom_json_values(tag: str):
    """The first value of `tag` in each object of a DICOM JSON array."""
    return lambda body: [row[tag]["Value"][0] for row in body]


def the_one_study_uid(body) -> str:
    (uid,) = set(dicom_json_values("0020000D")(body))
    return uid


def paginated_ids(body) -> list:
    return [row["id"] for row in body["results"]]


def worklist_ids(body) -> list:
    return [row["consultation"] for row in body]


def calendar_booking_ids(body) -> list:
    return [booking["id"] for session in body for slot in session["slots"] for booking in slot["bookings"]]


def bundle_ids(body) -> list:
    """The ids of a FHIR searchset's matches (the FHIR base, fhirapi)."""
    return [int(entry["resource"]["id"]) for entry in body["entry"] if entry["search"]["mode"] == "match"]


@dataclass(frozen=True)
class Endpoint:
    url: str  # "/api/things/{id}/" for a detail, no {id} for a list
    make: Callable[[Organisation, Expert], Model]
    listed_ids: Callable = paginated_ids  # how to read the ids out of a list response
    returned_id: Callable | None = lambda body: body["id"]  # how to read the id out of a detail response;
    # None: the body does not name the record (ECG samples, an image), the URL alone does
    for_roles: tuple = ()  # the roles that have this endpoint; empty: every role
    owner_only: bool = False  # only the reader's own records (see the module docstring)
    key: Callable = lambda record: record.pk  # what the URL and the response name the record by

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
    Endpoint("/fhir/Appointment/{id}", a_booking, returned_id=lambda body: int(body["id"])),
    Endpoint("/fhir/Appointment", a_booking, listed_ids=bundle_ids),
    Endpoint("/fhir/Patient/{id}", a_patient, returned_id=lambda body: int(body["id"])),
    Endpoint("/fhir/Patient", a_patient, listed_ids=bundle_ids),
    Endpoint("/fhir/ServiceRequest/{id}", a_consultation, returned_id=lambda body: int(body["id"])),
    Endpoint("/fhir/ServiceRequest", a_consultation, listed_ids=bundle_ids),
    Endpoint("/api/scheduling/me/calendar/", a_booking, listed_ids=calendar_booking_ids, for_roles=("expert",)),
    Endpoint("/api/scheduling/assignments/", an_assignment),
    Endpoint("/api/scheduling/worklist/", a_consultation, listed_ids=worklist_ids, for_roles=("expert",)),
    Endpoint("/api/scheduling/referrals/", a_referral),
    Endpoint("/api/scheduling/referrals/{id}/", a_referral),
    Endpoint("/api/scheduling/follow-ups/", a_follow_up),
    Endpoint("/api/ecgs/{id}/", an_ecg),
    Endpoint("/api/ecgs/{id}/samples/", an_ecg, returned_id=None),
    Endpoint("/api/imaging-studies/{id}/", an_imaging_study),
    Endpoint("/fhir/ImagingStudy/{id}", an_imaging_study, returned_id=lambda body: int(body["id"])),
    Endpoint("/fhir/ImagingStudy", an_imaging_study, listed_ids=bundle_ids),
    Endpoint("/api/instances/{id}/frames/1/rendered/", an_instance, returned_id=None),
    Endpoint("/api/photos/{id}/", a_photo, returned_id=None),
    Endpoint("/api/uploads/", an_upload, listed_ids=lambda body: [row["id"] for row in body["results"]],
             owner_only=True, key=lambda record: str(record.pk)),
    Endpoint("/api/uploads/{id}/", an_upload, owner_only=True, key=lambda record: str(record.pk)),
    Endpoint("/dicomweb/studies", an_imaging_study, listed_ids=dicom_json_values("0020000D"), key=study_uid),
    Endpoint("/dicomweb/studies/{id}/metadata", an_imaging_study, returned_id=the_one_study_uid, key=study_uid),
    Endpoint("/api/live/rooms/{id}/", a_live_room),
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


def _make(endpoint: Endpoint, holder: Holder, community, readers, owner: User | None = None) -> Model:
    org, expert = getattr(community, holder.org), readers[holder.expert].expert
    return endpoint.make(org, expert, owner) if owner else endpoint.make(org, expert)


def _get(endpoint: Endpoint, reader: User, record: Model, api):
    url = endpoint.url.format(id=endpoint.key(record))
    if not url.startswith("/dicomweb/"):
        return api(reader).get(url)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.get_or_create(user=reader)[0].key}")
    return client.get(url)


def _audit_rows(reader, obj) -> int:
    return AuditEvent.objects.filter(actor=reader, action="read", object_type=type(obj).__name__,
                                     object_id=str(obj.pk)).count()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded and ingested files (the studies rows) go to a directory of the test's own."""
    settings.MEDIA_ROOT = tmp_path


def _assert_absent(endpoint: Endpoint, response, record: Model) -> None:
    if endpoint.is_list:
        assert response.status_code == 200
        assert endpoint.key(record) not in endpoint.listed_ids(response.json())
    elif endpoint.url.startswith("/fhir/"):  # FHIR: an OperationOutcome, as for a resource that does not exist
        assert response.status_code == 404
        issue = response.json()["issue"][0]
        assert issue["code"] == "not-found" and issue["details"]["coding"][0]["code"] == "not_found"
    else:
        assert response.status_code == 404
        assert set(response.json()) == {"code", "detail"} and response.json()["code"] == "not_found"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("reader_role, holder", DENIED, ids=lambda v: getattr(v, "org", v))
def test_record_out_of_reach_answers_as_if_it_did_not_exist(endpoint, reader_role, holder, community, readers, api):
    # given a record held by an organisation (or expert) out of the reader's reach
    record = _make(endpoint, holder, community, readers)
    reader = readers[reader_role]
    # when the reader asks for it
    response = _get(endpoint, reader, record, api)
    # then it does not exist for them, and nothing about it is audited as read
    _assert_absent(endpoint, response, record)
    assert _audit_rows(reader, record) == 0


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.owner_only], ids=str)
@pytest.mark.parametrize("reader_role", list(READERS))
def test_owner_only_record_of_someone_in_reach_answers_as_if_it_did_not_exist(endpoint, reader_role, community,
                                                                               readers, api):
    # given a record of the reader's own kind (an upload) made by a colleague in the reader's reach
    record = _make(endpoint, READERS[reader_role][0], community, readers)
    reader = readers[reader_role]
    # when the reader (an administrator too) asks for it, then it does not exist for them, and is not audited
    _assert_absent(endpoint, _get(endpoint, reader, record, api), record)
    assert _audit_rows(reader, record) == 0


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("reader_role", list(READERS))
def test_record_in_reach_is_returned_and_each_read_is_audited_once(endpoint, reader_role, community, readers, api):
    # given a record in the reader's reach (their own, for an owner-only endpoint)
    reader = readers[reader_role]
    record = _make(endpoint, READERS[reader_role][0], community, readers,
                   owner=reader if endpoint.owner_only else None)
    before = AuditEvent.objects.filter(actor=reader).count()
    # when the reader reads it
    response = _get(endpoint, reader, record, api)
    # then it is returned, and exactly one audit row names it (one per row of a list)
    assert response.status_code == 200, response.content
    written = AuditEvent.objects.filter(actor=reader).count() - before
    if endpoint.returned_id is None:
        assert response.content and written == 1
        assert _audit_rows(reader, record) == 1
        return
    body = response.json()
    if endpoint.for_roles and reader_role not in endpoint.for_roles:
        # (a list of the reader's own work, which this role does not have: empty, nothing audited)
        assert endpoint.listed_ids(body) == [] and written == 0
        return
    if endpoint.is_list:
        assert endpoint.key(record) in endpoint.listed_ids(body)
        assert written == len(endpoint.listed_ids(body))
    else:
        assert endpoint.returned_id(body) == endpoint.key(record)
        assert written == 1
    assert _audit_rows(reader, record) == 1




@pytest.mark.parametrize("action", ["invites", "close"])
@pytest.mark.parametrize("reader_role, holder", DENIED, ids=lambda v: getattr(v, "org", v))
def test_live_room_out_of_reach_cannot_be_acted_on_and_answers_as_if_it_did_not_exist(action, reader_role, holder,
                                                                                         community, readers, api):
    # given an open live room of a consultation out of the reader's reach
    room = a_live_room(getattr(community, holder.org), readers[holder.expert].expert)
    # when the reader asks for a patient link to it, or closes it
    response = api(readers[reader_role]).post(f"/api/live/rooms/{room.pk}/{action}/", {}, format="json")
    # then the room does not exist for them (not even for an expert of the same community), and nothing changed
    assert (response.status_code, response.json()["code"]) == (404, "not_found"), response.content
    room.refresh_from_db()
    assert room.state == Room.State.OPEN and not JoinToken.objects.filter(room=room).exists()
