"""Serial comparison (issue 15): an ECG beside the patient's previous one the reader may see, with the
differences in rate, PR, QRS, QTc and axis and the statements new and gone."""
import datetime as dt

import pytest
import time_machine

from audit.models import AuditEvent
from scheduling.models import Assignment
from studies.formats.ecg.serial import Side, measurement_changes
from tests.factories import PatientFactory

from .conftest import T0, at, backdate, consultation, make_ecg

NOW = T0 + dt.timedelta(days=40)


def _analysed(ecg, computed: dict, statements: list[tuple[str, str, str]], device: dict | None = None,
              device_statements: list[str] | None = None):
    ecg.computed_measurements = computed
    ecg.computed_statements = [{"code": c, "zh": zh, "en": en, "values": {}, "source": "computed"}
                               for c, zh, en in statements]
    ecg.device_measurements = device or {}
    ecg.device_statements = device_statements or []
    ecg.save()
    return ecg


SINUS = {"heart_rate_bpm": 72.0, "pr_ms": 162.0, "qrs_ms": 88.0, "qtc_ms": 420.0, "qrs_axis_deg": 45.0, "withheld": {}}
AF = {"heart_rate_bpm": 128.0, "pr_ms": None, "qrs_ms": 92.0, "qtc_ms": 468.0, "qrs_axis_deg": -40.0,
      "withheld": {"pr_ms": "no conducted P waves (atrial fibrillation)"}}


@pytest.fixture
def serial(people, community, record_patient, cardiology):
    """A sinus ECG of day 0 and an AF ECG of day 40 (the case assigned to the expert); a later ECG of day 45
    and another patient's ECG of day 39, neither of which is a prior of the day-40 ECG."""
    vdoc = people["village_doctor"]
    old_case = consultation(record_patient, community.village_a1, vdoc, cardiology, at(0))
    new_case = consultation(record_patient, community.village_a1, vdoc, cardiology, at(40), state="assigned",
                            assigned_expert=people["expert"].expert)
    old = _analysed(make_ecg(record_patient, old_case, at(0, 1)), SINUS,
                    [("sinus_rhythm", "窦性心律", "Sinus rhythm"), ("pvc", "室性早搏 ×2", "PVC ×2")],
                    device={"heart_rate_bpm": 70}, device_statements=["Normal sinus rhythm", "Normal ECG"])
    new = _analysed(make_ecg(record_patient, new_case, at(40, 1)), AF,
                    [("atrial_fibrillation", "心房颤动", "Atrial fibrillation"), ("pvc", "室性早搏 ×5", "PVC ×5"),
                     ("left_axis_deviation", "电轴左偏（-40°）", "Left axis deviation (-40°)")],
                    device_statements=["Atrial fibrillation", "Normal ECG"])
    later = make_ecg(record_patient, consultation(record_patient, community.village_a1, vdoc, cardiology, at(45)),
                     at(45, 1))
    stranger = make_ecg(PatientFactory(home_clinic=community.village_a1), None, at(39))
    return dict(old=old, new=new, later=later, stranger=stranger, new_case=new_case)


def _get(api, user, ecg):
    with time_machine.travel(NOW, tick=False):
        return api(user).get(f"/api/records/ecgs/{ecg.pk}/comparison/")


def test_the_reader_sees_the_previous_ecg_with_the_differences_and_the_statements_that_changed(api, people, serial):
    response = _get(api, people["expert"], serial["new"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["current"]["id"] == serial["new"].pk
    # the most recent earlier ECG of the patient: not the later one, not another patient's
    assert body["prior"]["id"] == serial["old"].pk
    assert body["prior"]["samples_url"] == f"/api/ecgs/{serial['old'].pk}/samples/"
    rows = {row["key"]: row for row in body["measurements"]}
    assert list(rows) == ["heart_rate_bpm", "pr_ms", "qrs_ms", "qtc_ms", "qrs_axis_deg"]
    assert (rows["heart_rate_bpm"]["current"], rows["heart_rate_bpm"]["prior"], rows["heart_rate_bpm"]["change"],
            rows["heart_rate_bpm"]["source"]) == (128.0, 72.0, 56.0, "computed")
    assert (rows["qrs_ms"]["change"], rows["qtc_ms"]["change"], rows["qrs_axis_deg"]["change"]) == (4.0, 48.0, -85.0)
    # PR does not apply in AF: withheld, and no change is stated
    assert rows["pr_ms"]["current"] is None and rows["pr_ms"]["prior"] == 162.0 and rows["pr_ms"]["change"] is None
    assert rows["pr_ms"]["withheld"] == {"current": "no conducted P waves (atrial fibrillation)"}
    statements = body["statements"]
    assert [s["code"] for s in statements["new"]] == ["atrial_fibrillation", "left_axis_deviation"]
    assert [s["code"] for s in statements["gone"]] == ["sinus_rhythm"]
    assert [s["zh"] for s in statements["unchanged"]] == ["室性早搏 ×5"]
    assert statements["device_new"] == ["Atrial fibrillation"] and statements["device_gone"] == ["Normal sinus rhythm"]
    # the prior's read is audited, saying what it was read for
    row = AuditEvent.objects.get(actor=people["expert"], object_type="EcgRecord", object_id=str(serial["old"].pk))
    assert row.detail == {"serial_comparison_with": serial["new"].pk}


def test_the_first_ecg_of_a_patient_has_no_prior(api, people, serial):
    body = _get(api, people["village_doctor"], serial["old"]).json()
    assert body["current"]["id"] == serial["old"].pk
    assert body["prior"] is None and body["measurements"] == [] and body["statements"] is None


def test_two_ecgs_taken_in_the_same_second_compare_in_the_order_they_were_stored(api, people, serial):
    backdate(serial["later"], created_at=serial["new"].created_at)
    body = _get(api, people["village_doctor"], serial["later"]).json()
    assert body["prior"]["id"] == serial["new"].pk


def test_an_expert_offered_the_case_reads_its_ecg_but_not_the_record_so_sees_no_prior(api, people, serial):
    # given the case offered to another expert, who may read it to decide but not the patient's record
    other = people["other_expert"]
    Assignment.objects.create(consultation=serial["new_case"], expert=other.expert, expires_at=NOW + dt.timedelta(hours=1))
    # when they open the comparison of the case's ECG
    response = _get(api, other, serial["new"])
    # then the ECG is theirs to read, but its prior is not shown (as if there were none), nor readable alone
    assert response.status_code == 200
    assert response.json()["prior"] is None
    with time_machine.travel(NOW, tick=False):
        assert api(other).get(f"/api/ecgs/{serial['old'].pk}/").status_code == 404
    assert not AuditEvent.objects.filter(actor=other, object_id=str(serial["old"].pk)).exists()


@pytest.mark.parametrize("who", ["other_expert", "foreign_coordinator", "other_village_doctor"])
def test_an_ecg_out_of_reach_is_not_found(api, people, serial, who):
    response = _get(api, people[who], serial["new"])
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_comparison_needs_a_login(api, serial):
    assert _get(api, None, serial["new"]).status_code in (401, 403)


def test_a_measurement_known_on_both_sides_only_from_the_devices_is_compared_from_the_devices():
    # given a current ECG the program could not measure, and a prior with both values
    now = Side(computed={}, device={"heart_rate_bpm": 90, "qrs_axis_deg": -170})
    then = Side(computed={"heart_rate_bpm": 61.0}, device={"heart_rate_bpm": 60, "qrs_axis_deg": 170})
    rows = {row["key"]: row for row in measurement_changes(now, then)}
    # then rate is compared device to device, and the axis by the shorter turn (20°, not 340°)
    assert (rows["heart_rate_bpm"]["change"], rows["heart_rate_bpm"]["source"]) == (30.0, "device")
    assert rows["qrs_axis_deg"]["change"] == 20.0
    # and a value found on one side only says so, with no change
    assert rows["pr_ms"] == {"key": "pr_ms", "label": "PR", "unit": "ms", "current": None, "prior": None,
                             "change": None, "source": "mixed", "withheld": {}}
