"""Quality control second reads and turnaround figures for coordinators."""
import datetime as dt

import pytest

from consult.models import Consultation
from reports.models import Delivery, QualitySample, Report
from reports.services import delivery as delivery_services
from reports.services import quality
from teleclinic.errors import Conflict, InvalidInput, NotFound, NotPermitted


@pytest.mark.django_db
def test_a_coordinator_samples_a_share_for_a_second_read_by_another_expert(people, signed_report):
    # given ten signed reports by "expert"
    for _ in range(10):
        signed_report("ecg")
    # when the coordinator samples 30 %
    samples = quality.quality_sample(by=people["coordinator"], share=0.3, seed=1)
    # then three versions go to the other cardiology expert, never back to the signer
    assert len(samples) == 3
    assert {s.second_reader.user for s in samples} == {people["other_expert"]}
    # and sampling again never picks the same version twice
    again = quality.quality_sample(by=people["coordinator"], share=1.0, seed=2)
    assert len(again) == 7 and QualitySample.objects.values("version").distinct().count() == 10
    with pytest.raises(NotPermitted):
        quality.quality_sample(by=people["expert"], share=0.5)


@pytest.mark.django_db
def test_the_second_reader_records_agreement_once_and_figures_follow(api, people, signed_report):
    # given two sampled reports assigned to the other expert
    signed_report("ecg"), signed_report("imaging")
    first, second = quality.quality_sample(by=people["coordinator"], share=1.0, seed=1)
    reader = api(people["other_expert"])
    listed = reader.get("/api/reports/quality/reads/").json()
    assert {row["id"] for row in listed} == {first.pk, second.pk} and listed[0]["content"]
    # when they agree with one and find a major discrepancy in the other
    assert reader.post(f"/api/reports/quality/samples/{first.pk}/", {"agreement": "agree"}, format="json").status_code == 200
    assert reader.post(f"/api/reports/quality/samples/{second.pk}/", {"agreement": "major"},
                       format="json").status_code == 400  # a discrepancy needs a description
    reader.post(f"/api/reports/quality/samples/{second.pk}/", {"agreement": "major", "comment": "漏诊房颤"}, format="json")
    # then it is recorded once, only by them, and the figures per expert show it
    with pytest.raises(Conflict):
        quality.quality_record(sample_id=first.pk, by=people["other_expert"], agreement="minor", comment="x")
    with pytest.raises(NotFound):
        quality.quality_record(sample_id=first.pk, by=people["expert"], agreement="agree")
    figures = api(people["coordinator"]).get("/api/reports/quality/figures/").json()
    assert figures == [{"expert_id": people["expert"].pk, "expert": str(people["expert"]), "sampled": 2, "read": 2,
                        "agree": 1, "minor": 0, "major": 1, "agreement_rate": 0.5}]
    assert api(people["village_doctor"]).get("/api/reports/quality/figures/").status_code == 403


@pytest.mark.django_db
def test_turnaround_counts_minutes_from_request_per_urgency_and_expert(api, people, assigned, signed_report):
    # given a stat consultation requested 60 min ago, assigned after 5, opened after 10, signed after 20, acked after 30
    consultation = assigned(urgency="stat")
    version = signed_report("ecg", consultation=consultation)
    delivery_services.delivery_acknowledge(delivery_id=version.delivery.pk, by=people["village_doctor"])
    requested = version.signed_at - dt.timedelta(minutes=20)  # a signed version's time never changes
    Consultation.objects.filter(pk=consultation.pk).update(created_at=requested,
                                                           assigned_at=requested + dt.timedelta(minutes=5))
    Report.objects.filter(pk=version.report_id).update(created_at=requested + dt.timedelta(minutes=10))
    Delivery.objects.filter(pk=version.delivery.pk).update(acknowledged_at=requested + dt.timedelta(minutes=30))
    # when the coordinator asks for the figures
    body = api(people["coordinator"]).get("/api/reports/turnaround/?days=7").json()
    # then each step is measured from the request
    stat = body["by_urgency"]["stat"]
    assert [stat[step]["median"] for step in ("assignment", "first_open", "signature", "acknowledgement")] == [
        5.0, 10.0, 20.0, 30.0]
    assert body["by_expert"][str(people["expert"])]["signature"]["n"] == 1
    # and the page shows the same, for coordinators only
    page = api(people["coordinator"]).get("/api/reports/turnaround/page/")
    assert page.status_code == 200 and "20.0 / 20.0 (1)" in page.content.decode()
    assert api(people["expert"]).get("/api/reports/turnaround/").status_code == 403
    assert api(people["coordinator"]).get("/api/reports/turnaround/?days=x").status_code == 400


@pytest.mark.django_db
def test_turnaround_of_a_foreign_community_is_not_counted(api, people, signed_report):
    signed_report("ecg")
    body = api(people["foreign_coordinator"]).get("/api/reports/turnaround/").json()
    assert body["by_urgency"] == {} and body["by_expert"] == {}


def test_sampling_refuses_a_share_outside_zero_to_one(db, people):
    with pytest.raises(InvalidInput):
        quality.quality_sample(by=people["coordinator"], share=1.5)
