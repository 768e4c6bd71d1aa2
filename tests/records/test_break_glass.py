"""Break-glass (紧急调阅): a reason, a time-limited grant, an audit row, and the coordinators told."""
import datetime as dt

import pytest
import time_machine
from audit.models import AuditEvent
from records.models import BreakGlassGrant
from tests.studies.test_worker_ingest import Listener  # a real subscriber on the Redis channel layer

from .conftest import T0

TIMELINE = "/api/records/patients/{}/timeline/"
BREAK = "/api/records/patients/{}/break-glass/"


@pytest.mark.django_db(transaction=True)
def test_break_glass_opens_the_record_for_a_while_audited_and_told_to_coordinators(api, people, record_patient,
                                                                                   settings):
    settings.RECORD_BREAK_GLASS_HOURS = 4
    reader, coordinator = people["other_village_doctor"], people["coordinator"]
    ears = Listener(coordinator.pk, "record.break_glass")
    ears.start()
    assert ears.ready.wait(10)
    client = api(reader)
    with time_machine.travel(T0, tick=False):
        assert client.get(TIMELINE.format(record_patient.pk)).status_code == 404
        response = client.post(BREAK.format(record_patient.pk), {"reason": "患者昏迷送至本室，需查既往史"}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["expires_at"] == "2026-03-02T13:00:00+08:00"
        assert client.get(TIMELINE.format(record_patient.pk)).status_code == 200
        row = AuditEvent.objects.get(object_type="BreakGlassGrant", action="create")
        assert (row.actor_id, row.patient_id) == (reader.pk, record_patient.pk)
        assert row.detail["break_glass"] is True and row.detail["reason"] == "患者昏迷送至本室，需查既往史"
        read = AuditEvent.objects.get(object_type="Patient", action="read", actor=reader)
        assert read.detail["via"] == ["break_glass"]
    assert ears.done.wait(30)
    told = [e for e in ears.events if e["type"] == "record.break_glass"]
    assert [(e["patient"], e["user"], e["reason"]) for e in told] == [
        (record_patient.pk, str(reader), "患者昏迷送至本室，需查既往史")]
    # the coordinators' list shows it; a coordinator of another community does not see it
    listed = api(coordinator).get("/api/records/break-glass/").json()["results"]
    assert [(g["user"], g["patient"], g["reason"]) for g in listed] == [
        (reader.pk, record_patient.pk, "患者昏迷送至本室，需查既往史")]
    assert api(people["foreign_coordinator"]).get("/api/records/break-glass/").json()["results"] == []
    assert api(reader).get("/api/records/break-glass/").status_code == 403
    with time_machine.travel(T0 + dt.timedelta(hours=4, seconds=1), tick=False):
        assert client.get(TIMELINE.format(record_patient.pk)).status_code == 404


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 1001}, {"reason": 5},
                                  {"reason": "急诊需要", "extra": 1}])
def test_break_glass_needs_a_reason(api, people, record_patient, body):
    response = api(people["other_village_doctor"]).post(BREAK.format(record_patient.pk), body, format="json")
    assert response.status_code == 400 and response.json()["code"] in ("invalid", "reason_required")
    assert not BreakGlassGrant.objects.exists()


def test_break_glass_stops_at_the_community(api, people, record_patient):
    """Another community's patient (or none) answers the same 404, and nothing is granted."""
    client = api(people["foreign_coordinator"])
    response = client.post(BREAK.format(record_patient.pk), {"reason": "急诊需要"}, format="json")
    missing = client.post(BREAK.format(999999), {"reason": "急诊需要"}, format="json")
    assert response.status_code == missing.status_code == 404 and response.json() == missing.json()
    assert not BreakGlassGrant.objects.exists()


@pytest.mark.parametrize("cap", [1, 3])
def test_break_glass_grants_are_capped_per_user_per_day(api, people, community, record_patient, settings, cap):
    """Over RECORD_BREAK_GLASS_PER_DAY in 24 hours: 429 {"code","detail"} and no grant, for any patient (even one
    that does not exist: the cap is no oracle); 24 hours after the first, one more goes."""
    from tests.factories import PatientFactory

    settings.RECORD_BREAK_GLASS_PER_DAY = cap
    client = api(people["other_village_doctor"])
    patients = [PatientFactory(home_clinic=community.village_a1) for _ in range(cap)]
    with time_machine.travel(T0, tick=False):
        for patient in patients:
            assert client.post(BREAK.format(patient.pk), {"reason": "急诊昏迷"}, format="json").status_code == 201
    with time_machine.travel(T0 + dt.timedelta(hours=23), tick=False):
        for patient_id in (record_patient.pk, 999999):
            response = client.post(BREAK.format(patient_id), {"reason": "急诊昏迷"}, format="json")
            assert response.status_code == 429
            assert response.json()["code"] == "break_glass_limit" and str(cap) in response.json()["detail"]
        assert BreakGlassGrant.objects.count() == cap
        # another user is not held by this one's count
        other = api(people["village_doctor"]).post(BREAK.format(record_patient.pk), {"reason": "急诊昏迷"}, format="json")
        assert other.status_code == 201
    with time_machine.travel(T0 + dt.timedelta(hours=24, seconds=1), tick=False):
        assert client.post(BREAK.format(record_patient.pk), {"reason": "急诊昏迷"}, format="json").status_code == 201
