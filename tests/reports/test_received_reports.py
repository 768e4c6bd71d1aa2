"""The clinic's reports: every report it ever received stays listed after acknowledgement, found again by
patient, consultation and date, unacknowledged ones first; other clinics see none of them."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from reports.services import delivery as delivery_services

pytestmark = pytest.mark.django_db
COUNTY = ZoneInfo("Asia/Shanghai")
# Sunday 23:30 county time is Sunday 15:30 UTC: a signature late on the 8th must be found under the 8th
LATE_SUNDAY = dt.datetime(2026, 11, 8, 23, 30, tzinfo=COUNTY)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def delivered(people, assigned, patient_factory, community, signed_report):
    """deliver(name, at): a report for a new patient of village A1, signed at `at`, rendered and delivered."""

    def deliver(name: str, at: dt.datetime, critical: bool = False):
        consultation = assigned()
        consultation.patient.name = name
        consultation.patient.save(update_fields=["name"])
        with time_machine.travel(at, tick=False):
            version = signed_report(consultation=consultation, critical=critical)
            delivery_services.version_render_pdf(version_id=version.pk)
            delivery_services.delivery_deliver(delivery_id=version.delivery.pk)
        version.delivery.refresh_from_db()
        return version

    return deliver


def _list(client, **params):
    response = client.get("/api/reports/deliveries/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_an_acknowledged_report_stays_in_the_clinics_list_with_its_pdf(api, people, delivered):
    # given a report delivered to village A1, acknowledged by its doctor
    version = delivered("王秀英", LATE_SUNDAY)
    village = api(people["village_doctor"])
    assert village.post(f"/api/reports/deliveries/{version.delivery.pk}/acknowledge/").status_code == 200
    # when the doctor lists the clinic's reports later
    body = _list(village)
    # then it is still there, acknowledged, with its PDF link, which downloads
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["report"], row["version"], row["state"], row["patient_name"]) == (
        version.report_id, 1, "acknowledged", "王秀英")
    assert row["acknowledged_at"] and row["current"] is True
    pdf = village.get(row["pdf"])
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    # while the pending list no longer holds it
    assert village.get("/api/reports/deliveries/pending/").json()["results"] == []


def test_reports_are_found_by_patient_consultation_and_day_unacknowledged_first(api, people, delivered):
    # given three reports: two acknowledged on different days, one not yet
    older = delivered("王秀英", LATE_SUNDAY - dt.timedelta(days=3))
    late_sunday = delivered("李建华", LATE_SUNDAY)
    waiting = delivered("王秀英", LATE_SUNDAY - dt.timedelta(days=10))
    village = api(people["village_doctor"])
    for version in (older, late_sunday):
        village.post(f"/api/reports/deliveries/{version.delivery.pk}/acknowledge/")
    ids = lambda body: [row["delivery"] for row in body["results"]]  # noqa: E731
    # then the whole list puts the unacknowledged one first, then the newest signature
    assert ids(_list(village)) == [waiting.delivery.pk, late_sunday.delivery.pk, older.delivery.pk]
    # and it is searched by a part of the patient's name, by consultation and by the day of signature
    assert ids(_list(village, q="秀英")) == [waiting.delivery.pk, older.delivery.pk]
    assert ids(_list(village, consultation=late_sunday.report.consultation_id)) == [late_sunday.delivery.pk]
    assert ids(_list(village, patient=older.report.consultation.patient_id)) == [older.delivery.pk]
    sunday = LATE_SUNDAY.date().isoformat()
    assert ids(_list(village, **{"from": sunday, "to": sunday})) == [late_sunday.delivery.pk]
    assert ids(_list(village, state="unacknowledged")) == [waiting.delivery.pk]
    # and it is paged
    page = _list(village, limit=2, offset=2)
    assert page["count"] == 3 and ids(page) == [older.delivery.pk]


def test_other_clinics_see_none_of_the_reports_and_bad_filters_get_a_reason(api, people, delivered):
    delivered("王秀英", LATE_SUNDAY)
    # when a doctor of another village lists reports, then there are none
    assert _list(api(people["other_village_doctor"]))["count"] == 0
    # and the township centre above the clinic sees it
    assert _list(api(people["township_doctor"]))["count"] == 1
    # and a malformed filter is a 400 with a reason, never a 500
    village = api(people["village_doctor"])
    for params in ({"from": "2026-02-30"}, {"consultation": "abc"}, {"state": "read"}):
        response = village.get("/api/reports/deliveries/", params)
        assert response.status_code == 400 and response.json()["code"] in ("bad_date", "bad_filter"), params
