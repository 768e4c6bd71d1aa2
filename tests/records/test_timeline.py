"""The patient page's API: one timeline of the record across clinics, newest first, filtered, paged by cursor."""
import datetime as dt

import pytest
import time_machine

from audit.models import AuditEvent
from scheduling.models import FollowUpTask, Referral
from studies.models import Photo

from .conftest import T0, at, backdate, consultation, make_ecg, make_study, make_version

URL = "/api/records/patients/{}/timeline/"


@pytest.fixture
def record(people, community, record_patient, cardiology, radiology):
    """Two consultations in two clinics (village A1, township A), an ECG, a CT, two reports (one amended),
    an upward referral with a follow-up, a photo: each at its own fixed time."""
    p, expert = record_patient, people["expert"]
    first = consultation(p, community.village_a1, people["village_doctor"], cardiology, at(0), state="closed",
                         assigned_expert=expert.expert)
    second = consultation(p, community.township_a, people["township_doctor"], radiology, at(5), state="reported",
                          assigned_expert=expert.expert)
    ecg = make_ecg(p, first, at(0, 1))
    ct = make_study(p, second, at(5, 1), "1.2.3.4.5")
    ecg_v1 = make_version(first, "ecg", 1, at(0, 3), expert)
    ecg_v2 = make_version(first, "ecg", 2, at(1), expert)
    ct_v1 = make_version(second, "imaging", 1, at(5, 4), expert)
    photo = Photo.objects.create(patient=p, consultation=first, file="photos/x.jpg", media_type="image/jpeg", size=1)
    backdate(photo, created_at=at(0, 2))
    referral = Referral.objects.create(direction="down", state="sent", patient=p, consultation=second,
                                       from_org=community.lead, to_org=community.village_a1, created_by=expert)
    backdate(referral, created_at=at(6))
    task = FollowUpTask.objects.create(referral=referral, patient=p, organisation=community.village_a1,
                                       title="复查胸部CT", due_on=dt.date(2026, 3, 20))
    return dict(first=first, second=second, ecg=ecg, ct=ct, ecg_v1=ecg_v1, ecg_v2=ecg_v2, ct_v1=ct_v1, photo=photo,
                referral=referral, task=task)


def _keys(rows):
    return [(r["kind"], r["id"]) for r in rows]


def test_the_whole_record_newest_first_across_clinics(api, people, record_patient, record):
    r = record
    response = api(people["village_doctor"]).get(URL.format(record_patient.pk))
    assert response.status_code == 200
    body = response.json()
    assert _keys(body["results"]) == [
        ("followup", r["task"].pk), ("referral", r["referral"].pk), ("report", r["ct_v1"].pk),
        ("imaging", r["ct"].pk), ("consultation", r["second"].pk), ("report", r["ecg_v2"].pk),
        ("report", r["ecg_v1"].pk), ("photo", r["photo"].pk), ("ecg", r["ecg"].pk), ("consultation", r["first"].pk)]
    assert body["next_cursor"] is None
    by_key = {(row["kind"], row["id"]): row for row in body["results"]}
    # the township's consultation is there for the village doctor, with its state and clinic
    second = by_key[("consultation", r["second"].pk)]
    assert (second["state"], second["requesting_org"], second["specialty"]) == ("reported", "城关镇卫生院", "radiology")
    assert by_key[("report", r["ecg_v2"].pk)]["number"] == 2 and by_key[("report", r["ecg_v2"].pk)]["latest"] is True
    assert by_key[("report", r["ecg_v1"].pk)]["latest"] is False
    assert by_key[("imaging", r["ct"].pk)]["study_instance_uid"] == "1.2.3.4.5"
    assert body["patient"] == {"id": record_patient.pk, "name": "孙秀兰", "sex": "F", "birth_date": "1956-03-14",
                               "id_number_masked": "4305**********1234",
                               "health_record_no": record_patient.health_record_no, "home_clinic": "东风村卫生室"}


def test_every_item_read_is_in_the_audit_log(api, people, record_patient, record):
    api(people["coordinator"]).get(URL.format(record_patient.pk))
    rows = AuditEvent.objects.filter(actor=people["coordinator"], action="read")
    assert sorted(rows.values_list("object_type", flat=True)) == sorted(
        ["Patient", "FollowUpTask", "Referral", "ReportVersion", "ReportVersion", "ReportVersion", "ImagingStudy",
         "Consultation", "Consultation", "Photo", "EcgRecord"])
    assert set(rows.values_list("patient_id", flat=True)) == {record_patient.pk}


def test_filter_by_kind_and_dates(api, people, record_patient, record):
    client = api(people["village_doctor"])
    reports = client.get(URL.format(record_patient.pk), {"kind": "report"}).json()["results"]
    assert _keys(reports) == [("report", record["ct_v1"].pk), ("report", record["ecg_v2"].pk),
                              ("report", record["ecg_v1"].pk)]
    studies = client.get(URL.format(record_patient.pk), {"kind": "ecg,imaging"}).json()["results"]
    assert _keys(studies) == [("imaging", record["ct"].pk), ("ecg", record["ecg"].pk)]
    # local dates (Asia/Shanghai): 2026-03-02 is the first day only
    first_day = client.get(URL.format(record_patient.pk), {"from": "2026-03-02", "to": "2026-03-02"}).json()["results"]
    assert _keys(first_day) == [("report", record["ecg_v1"].pk), ("photo", record["photo"].pk),
                                ("ecg", record["ecg"].pk), ("consultation", record["first"].pk)]
    later = client.get(URL.format(record_patient.pk), {"from": "2026-03-07", "kind": "consultation,followup"}).json()
    assert _keys(later["results"]) == [("followup", record["task"].pk), ("consultation", record["second"].pk)]


def test_cursor_pages_are_whole_and_disjoint(api, people, record_patient, record):
    client = api(people["village_doctor"])
    everything = _keys(client.get(URL.format(record_patient.pk)).json()["results"])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get(URL.format(record_patient.pk), params).json()
        assert len(body["results"]) <= 3
        seen += _keys(body["results"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == everything and pages == 4


def test_items_at_the_same_instant_page_without_loss(api, people, community, record_patient, cardiology):
    same = at(2)
    cases = [consultation(record_patient, community.village_a1, people["village_doctor"], cardiology, same)
             for _ in range(5)]
    client = api(people["village_doctor"])
    first = client.get(URL.format(record_patient.pk), {"limit": 2}).json()
    rest = client.get(URL.format(record_patient.pk), {"limit": 10, "cursor": first["next_cursor"]}).json()
    ids = [r["id"] for r in first["results"] + rest["results"]]
    assert ids == sorted((c.pk for c in cases), reverse=True)


@pytest.mark.parametrize("params, code", [
    ({"kind": "ecg,xray"}, "bad_kind"), ({"from": "2026-13-01"}, "bad_date"), ({"to": "0001-01-01"}, "bad_date"),
    ({"cursor": "not-a-cursor"}, "bad_cursor"), ({"cursor": "WzEsMiwzXQ"}, "bad_cursor"), ({"limit": "0"}, "bad_page"),
    ({"limit": "201"}, "bad_page"), ({"limit": "x"}, "bad_page"),
])
def test_bad_parameters_are_a_clear_400(api, people, record_patient, params, code):
    response = api(people["village_doctor"]).get(URL.format(record_patient.pk), params)
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["detail"]


def test_anonymous_gets_no_record(api, record_patient):
    assert api().get(URL.format(record_patient.pk)).status_code in (401, 403)


def test_expert_grace_is_a_setting(api, people, community, record_patient, cardiology, settings):
    case = consultation(record_patient, community.village_a1, people["village_doctor"], cardiology, T0,
                        state="closed", assigned_expert=people["expert"].expert)
    backdate(case, ended_at=T0)
    client = api(people["expert"])
    with time_machine.travel(T0 + dt.timedelta(days=10), tick=False):
        settings.RECORD_EXPERT_GRACE_DAYS = 30
        assert client.get(URL.format(record_patient.pk)).status_code == 200
        settings.RECORD_EXPERT_GRACE_DAYS = 7
        assert client.get(URL.format(record_patient.pk)).status_code == 404
