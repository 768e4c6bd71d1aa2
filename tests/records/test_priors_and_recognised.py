"""Priors for the reader, and results recognised (检查结果互认): a recent study attached instead of repeated."""
import datetime as dt

import pytest
import time_machine

from audit.models import AuditEvent
from records.models import AttachedStudy
from reports.services.drafting import report_start

from .conftest import T0, at, consultation, make_ecg, make_study

NOW = T0 + dt.timedelta(days=40)


@pytest.fixture
def history(people, community, record_patient, cardiology, radiology):
    """An old ECG (day 0), an older CT (day 1), a recent ECG (day 37) and a new cardiology case (day 40)
    with its own ECG, assigned to the expert."""
    vdoc = people["village_doctor"]
    old_case = consultation(record_patient, community.village_a1, vdoc, cardiology, at(0))
    ct_case = consultation(record_patient, community.township_a, people["township_doctor"], radiology, at(1))
    recent_case = consultation(record_patient, community.township_a, people["township_doctor"], cardiology, at(37))
    new_case = consultation(record_patient, community.village_a1, vdoc, cardiology, at(40), state="assigned",
                            assigned_expert=people["expert"].expert)
    return dict(old_ecg=make_ecg(record_patient, old_case, at(0, 1)),
                ct=make_study(record_patient, ct_case, at(1, 1), "1.2.840.99.1"),
                recent_ecg=make_ecg(record_patient, recent_case, at(37, 1)),
                own_ecg=make_ecg(record_patient, new_case, at(40, 1)), new_case=new_case, ct_case=ct_case)


def test_the_reader_sees_earlier_ecgs_for_an_ecg(api, people, history):
    with time_machine.travel(NOW, tick=False):
        response = api(people["expert"]).get(f"/api/records/consultations/{history['new_case'].pk}/priors/")
    assert response.status_code == 200
    body = response.json()
    assert [(p["kind"], p["id"]) for p in body["priors"]] == [("ecg", history["recent_ecg"].pk),
                                                              ("ecg", history["old_ecg"].pk)]
    assert body["attached"] == []
    assert AuditEvent.objects.filter(actor=people["expert"], object_type="EcgRecord", action="read").count() == 2
    # and each prior opens in the viewer for them (the ECG endpoint reads through the record's table)
    assert api(people["expert"]).get(f"/api/ecgs/{history['old_ecg'].pk}/").status_code == 200


def test_priors_of_an_imaging_case_are_imaging(api, people, history, record_patient, community, radiology):
    case = consultation(record_patient, community.village_a1, people["village_doctor"], radiology, at(40),
                        state="assigned", assigned_expert=people["expert"].expert)
    make_study(record_patient, case, at(40, 1), "1.2.840.99.2")
    body = api(people["expert"]).get(f"/api/records/consultations/{case.pk}/priors/").json()
    assert [(p["kind"], p["id"]) for p in body["priors"]] == [("imaging", history["ct"].pk)]


def test_priors_are_not_for_a_case_out_of_reach(api, people, history):
    response = api(people["other_expert"]).get(f"/api/records/consultations/{history['new_case'].pk}/priors/")
    assert response.status_code == 404


def test_a_recent_ecg_is_recognised_and_attached_instead_of_repeated(api, people, history, settings):
    settings.RECORD_RECOGNISE_DAYS = 30
    case, vdoc = history["new_case"], people["village_doctor"]
    url = f"/api/records/consultations/{case.pk}/recognised/"
    with time_machine.travel(NOW, tick=False):
        body = api(vdoc).get(url).json()
        # cardiology asks for an ECG: the one of 3 days ago, not the one of 40 days ago nor the case's own
        assert body["kinds"] == ["ecg"] and body["days"] == 30
        assert [(s["kind"], s["id"]) for s in body["studies"]] == [("ecg", history["recent_ecg"].pk)]
        assert api(vdoc).get(url, {"kind": "imaging"}).json()["studies"] == []  # the CT is 39 days old
        settings.RECORD_RECOGNISE_DAYS = 60
        assert [s["id"] for s in api(vdoc).get(url, {"kind": "imaging"}).json()["studies"]] == [history["ct"].pk]
        settings.RECORD_RECOGNISE_DAYS = 30

        response = api(vdoc).post(url, {"study": f"ecg:{history['recent_ecg'].pk}"}, format="json")
        assert response.status_code == 201, response.content
        link = AttachedStudy.objects.get()
        assert (link.consultation_id, link.ecg_id, link.attached_by_id) == (case.pk, history["recent_ecg"].pk, vdoc.pk)
        row = AuditEvent.objects.get(object_type="AttachedStudy", action="create")
        assert row.consultation_id == case.pk and row.detail["attached"] == f"ecg:{history['recent_ecg'].pk}"
        # the study keeps its own consultation; once attached it is no longer offered, and not twice
        history["recent_ecg"].refresh_from_db()
        assert history["recent_ecg"].consultation_id != case.pk
        assert api(vdoc).get(url).json()["studies"] == []
        again = api(vdoc).post(url, {"study": f"ecg:{history['recent_ecg'].pk}"}, format="json")
        assert again.status_code == 409 and again.json()["code"] == "already_attached"

        # the reader sees it attached, and may report on it
        priors = api(people["expert"]).get(f"/api/records/consultations/{case.pk}/priors/").json()
        assert [(a["kind"], a["id"]) for a in priors["attached"]] == [("ecg", history["recent_ecg"].pk)]
        assert history["recent_ecg"].pk not in [p["id"] for p in priors["priors"]]
        report = report_start(consultation_id=case.pk, kind="ecg", by=people["expert"],
                              study_ref=f"ecg:{history['recent_ecg'].pk}")
        assert report.study_ref == f"ecg:{history['recent_ecg'].pk}"


@pytest.mark.parametrize("study, status, code", [
    ("ecg:abc", 400, "bad_study"), ("xray:1", 400, "bad_study"), ("", 400, "invalid"),
    ("ecg:999999", 404, "not_found"),
])
def test_attach_refuses_what_is_no_study_of_the_record(api, people, history, study, status, code):
    response = api(people["village_doctor"]).post(
        f"/api/records/consultations/{history['new_case'].pk}/recognised/", {"study": study}, format="json")
    assert response.status_code == status and response.json()["code"] == code
    assert not AttachedStudy.objects.exists()


def test_attach_refuses_another_patients_study_and_a_clinic_out_of_reach(api, people, history, community,
                                                                         patient_factory):
    stranger = patient_factory(home_clinic=community.village_a1)
    other = make_ecg(stranger, None, at(39))
    url = f"/api/records/consultations/{history['new_case'].pk}/recognised/"
    assert api(people["village_doctor"]).post(url, {"study": f"ecg:{other.pk}"}, format="json").status_code == 404
    response = api(people["other_village_doctor"]).post(url, {"study": f"ecg:{history['recent_ecg'].pk}"},
                                                        format="json")
    assert response.status_code == 404
    assert not AttachedStudy.objects.exists()
