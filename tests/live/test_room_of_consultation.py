"""The expert's way into a live room: the open room of a consultation, found by its id."""
import pytest

from audit.models import AuditEvent
from live.services import rooms

pytestmark = pytest.mark.django_db


def test_assigned_expert_finds_the_open_room_of_the_consultation_and_the_read_is_audited(api, people, room):
    # when the assigned expert asks for the consultation's room
    response = api(people["expert"]).get(f"/api/live/rooms/?consultation={room.consultation_id}")
    # then it is the room the doctor opened, with its page
    assert response.status_code == 200, response.content
    assert response.json()["id"] == room.pk and response.json()["page"] == f"/live/rooms/{room.pk}/"
    assert AuditEvent.objects.filter(actor=people["expert"], consultation_id=room.consultation_id,
                                     detail__live_room=room.pk).exists()


def test_no_open_room_and_out_of_reach_are_404(api, people, room, live_consultation):
    # a doctor of another clinic gets nothing
    other = api(people["other_village_doctor"]).get(f"/api/live/rooms/?consultation={live_consultation.pk}")
    assert other.status_code == 404
    # and once the room is closed, nobody finds it
    rooms.room_close(by=people["village_doctor"], room_id=room.pk)
    closed = api(people["expert"]).get(f"/api/live/rooms/?consultation={live_consultation.pk}")
    assert closed.status_code == 404 and closed.json()["code"] == "no_room"


def test_missing_consultation_parameter_is_a_400(api, people):
    assert api(people["expert"]).get("/api/live/rooms/").status_code == 400
