"""Templates, autosave, signing by the assigned expert only, and amendments as new versions."""
import pytest
from django.db import DatabaseError, transaction

from reports.kinds import ecg_template_prefill
from reports.models import Delivery, ImmutableVersion, Report, ReportVersion
from reports.services import drafting
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted

from .conftest import MEASUREMENTS, fill


def test_ecg_template_is_prefilled_from_the_measurements():
    # given measurements as the ECG library names them; when the template is prefilled
    draft = ecg_template_prefill(MEASUREMENTS)
    # then rate, intervals and axis are filled in and the reading is left to the expert
    assert (draft["rate_bpm"], draft["pr_ms"], draft["qrs_ms"], draft["qt_ms"], draft["qtc_ms"], draft["axis_deg"]) == (
        72, 162, 94, 384, 419, 48)
    assert draft["conclusion"] == "" and draft["critical"] is False


@pytest.mark.django_db
def test_draft_autosave_keeps_earlier_fields_and_refuses_unknown_ones(people, assigned):
    # given an ECG report started by the assigned expert
    expert = people["expert"]
    report = drafting.report_start(consultation_id=assigned().pk, kind="ecg", by=expert, measurements=MEASUREMENTS)
    # when two autosaves each send one field
    drafting.draft_save(report_id=report.pk, by=expert, content={"rhythm": "窦性心律"})
    report = drafting.draft_save(report_id=report.pk, by=expert, content={"conclusion": "正常心电图"})
    # then both are kept, with the prefilled measurements
    assert report.draft["rhythm"] == "窦性心律" and report.draft["conclusion"] == "正常心电图"
    assert report.draft["qtc_ms"] == 419
    with pytest.raises(InvalidInput):
        drafting.draft_save(report_id=report.pk, by=expert, content={"diagnosis_code": "I21"})
    with pytest.raises(InvalidInput):
        drafting.draft_save(report_id=report.pk, by=expert, content={"qt_ms": "long"})


@pytest.mark.django_db
def test_only_the_assigned_expert_signs(people, assigned):
    # given a filled-in report of a consultation assigned to "expert"
    expert = people["expert"]
    report = drafting.report_start(consultation_id=assigned().pk, kind="ecg", by=expert)
    drafting.draft_save(report_id=report.pk, by=expert, content=fill("ecg"))
    # when another expert or the village doctor tries to sign, then they are refused
    with pytest.raises((NotPermitted, NotFound)):
        drafting.report_sign(report_id=report.pk, by=people["other_expert"])
    with pytest.raises(NotPermitted):
        drafting.report_sign(report_id=report.pk, by=people["village_doctor"])
    assert not ReportVersion.objects.exists()
    # when the assigned expert signs, then version 1 records who and when, with one outbox row
    version = drafting.report_sign(report_id=report.pk, by=expert)
    assert (version.number, version.signed_by, version.signed_at is not None) == (1, expert, True)
    assert Delivery.objects.get().version == version


@pytest.mark.django_db
def test_a_report_missing_its_conclusion_cannot_be_signed(people, assigned):
    expert = people["expert"]
    report = drafting.report_start(consultation_id=assigned().pk, kind="imaging", by=expert)
    with pytest.raises(InvalidInput, match="impression"):
        drafting.report_sign(report_id=report.pk, by=expert)


@pytest.mark.django_db
def test_signing_freezes_the_content(people, signed_report):
    # given a signed report
    version = signed_report("ecg")
    # when anyone tries to edit the draft, the version row, or delete it, then it is refused
    with pytest.raises(Conflict):
        drafting.draft_save(report_id=version.report_id, by=people["expert"], content={"conclusion": "改"})
    version.content["conclusion"] = "改"
    with pytest.raises(ImmutableVersion):
        version.save()
    with pytest.raises(ImmutableVersion):
        version.delete()
    assert ReportVersion.objects.get(pk=version.pk).content["conclusion"] == "急性下壁心肌梗死可能"


@pytest.mark.django_db
def test_the_database_refuses_to_edit_or_delete_a_signed_version(signed_report):
    # given a signed version; when any client updates its content or deletes it, bypassing the model
    version = signed_report("ecg")
    for attempt in (lambda: ReportVersion.objects.filter(pk=version.pk).update(content={"conclusion": "改"}),
                    lambda: ReportVersion.objects.filter(pk=version.pk).update(signed_at=version.signed_at.replace(year=2020)),
                    lambda: ReportVersion.objects.filter(pk=version.pk)._raw_delete(ReportVersion.objects.db)):
        with pytest.raises(DatabaseError, match="never"):
            with transaction.atomic():
                attempt()
    # then the version is unchanged, and attaching the PDF is still allowed
    assert ReportVersion.objects.filter(pk=version.pk, content__conclusion="急性下壁心肌梗死可能").exists()
    assert ReportVersion.objects.filter(pk=version.pk).update(pdf="reports/x.pdf") == 1


@pytest.mark.django_db
def test_an_amendment_is_a_new_version_with_its_reason_and_every_version_stays(people, signed_report):
    # given a signed version 1
    expert = people["expert"]
    v1 = signed_report("ecg")
    # when the expert amends it with a reason and signs again
    with pytest.raises(InvalidInput):
        drafting.amendment_start(report_id=v1.report_id, by=expert, reason="  ")
    report = drafting.amendment_start(report_id=v1.report_id, by=expert, reason="补充 aVF 导联所见")
    assert report.draft["conclusion"] == v1.content["conclusion"]  # starts from the signed text
    drafting.draft_save(report_id=v1.report_id, by=expert, content={"conclusion": "急性下壁心肌梗死"})
    v2 = drafting.report_sign(report_id=v1.report_id, by=expert)
    # then version 2 carries the reason, version 1 is unchanged, and each has its own delivery
    assert (v2.number, v2.amendment_reason) == (2, "补充 aVF 导联所见")
    assert ReportVersion.objects.get(pk=v1.pk).content["conclusion"] == "急性下壁心肌梗死可能"
    assert Report.objects.get(pk=v1.report_id).latest_version == 2
    assert Delivery.objects.filter(version__report_id=v1.report_id).count() == 2


@pytest.mark.django_db
def test_a_draft_not_yet_signed_cannot_be_amended(people, assigned):
    report = drafting.report_start(consultation_id=assigned().pk, kind="ecg", by=people["expert"])
    with pytest.raises(Conflict):
        drafting.amendment_start(report_id=report.pk, by=people["expert"], reason="x")


@pytest.mark.django_db
def test_a_study_ref_of_another_shape_is_refused(people, assigned):
    with pytest.raises(InvalidInput):
        drafting.report_start(consultation_id=assigned().pk, kind="ecg", by=people["expert"], study_ref="/etc/passwd")
