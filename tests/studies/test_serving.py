"""Serving to the viewers: ECG samples (overview and full), measurements, rendered frames; permissions and audit."""
import io

import numpy as np
import pytest
from PIL import Image

from audit.models import AuditEvent
from studies.formats.ecg.serve import decode_samples
from studies.models import EcgRecord, Instance
from studies.services.ingest import ingest_upload
from tests.studies.conftest import sample_bytes, upload_id_of
from tests.studies.ecgfiles import reference_ecg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def consultation(consultation_factory, community, people, cardiology):
    return consultation_factory(patient__home_clinic=community.village_a1, requested_by=people["village_doctor"],
                                specialty=cardiology, assigned_expert=people["expert"].expert)


def ingest(tus_client, user, data, **metadata):
    return ingest_upload(upload_id=upload_id_of(tus_client(user).send(data, **metadata)))


@pytest.fixture
def ecg(tus_client, people, consultation):
    ingest(tus_client, people["village_doctor"], sample_bytes("waveform_ecg.dcm"), consultation=consultation.pk)
    return EcgRecord.objects.get()


def test_expert_reads_full_resolution_samples_equal_to_the_source(api, people, ecg):
    # when the assigned expert asks for lead II, 1-3 s, as integers
    response = api(people["expert"]).get(f"/api/ecgs/{ecg.pk}/samples/?leads=II&start=1&end=3&encoding=int-list")
    # then the microvolts are the source's, unchanged
    assert response.status_code == 200
    body = response.json()
    source = reference_ecg()
    rate = int(source.sampling_rate)
    assert np.array_equal(np.asarray(body["leads"]["II"]), source.leads["II"][rate:3 * rate])
    assert body["units"] == "uV" and list(body["leads"]) == ["II"]


def test_overview_is_downsampled_and_compact(api, people, ecg):
    body = api(people["expert"]).get(f"/api/ecgs/{ecg.pk}/samples/?overview=1").json()
    assert body["overview"] is True and body["sampling_rate"] < ecg.sampling_rate
    assert len(body["leads"]) == 12
    samples = decode_samples(body["leads"]["I"], body["encoding"])
    assert len(samples) == body["n_samples"] < ecg.n_samples


def test_bad_sample_range_is_a_400_with_a_reason(api, people, ecg):
    response = api(people["expert"]).get(f"/api/ecgs/{ecg.pk}/samples/?start=50&end=60")
    assert response.status_code == 400 and response.json()["code"] == "ecg_bad_range"


def test_reading_an_ecg_is_audited_and_outsiders_get_404(api, people, ecg):
    assert api(people["expert"]).get(f"/api/ecgs/{ecg.pk}/").status_code == 200
    assert AuditEvent.objects.filter(object_type="EcgRecord", actor_username="expert", action="read").exists()
    assert api(people["other_expert"]).get(f"/api/ecgs/{ecg.pk}/").status_code == 404
    assert api(people["other_village_doctor"]).get(f"/api/ecgs/{ecg.pk}/samples/").status_code == 404
    assert api(people["foreign_coordinator"]).get(f"/api/ecgs/{ecg.pk}/").status_code == 404


def test_frame_is_rendered_with_the_requested_window(api, tus_client, people, consultation):
    # given a CT image
    ingest(tus_client, people["village_doctor"], sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    instance = Instance.objects.get()
    url = f"/api/instances/{instance.pk}/frames/1/rendered/"
    # when rendered with a narrow and a wide window
    narrow = api(people["expert"]).get(url + "?window_center=40&window_width=10")
    wide = api(people["expert"]).get(url + "?window_center=40&window_width=4000&image_format=jpeg")
    # then both are images of the frame's size, and the windows differ in contrast
    assert narrow["Content-Type"] == "image/png" and wide["Content-Type"] == "image/jpeg"
    a = np.asarray(Image.open(io.BytesIO(narrow.content)))
    b = np.asarray(Image.open(io.BytesIO(wide.content)))
    assert a.shape == b.shape == (instance.rows, instance.columns)
    assert a.std() > b.std()


def test_multiframe_serves_one_frame_at_a_time_and_refuses_out_of_range(api, tus_client, people, consultation):
    ingest(tus_client, people["village_doctor"], sample_bytes("emri_small.dcm"), consultation=consultation.pk)
    instance = Instance.objects.get()
    assert instance.number_of_frames == 10
    first = api(people["expert"]).get(f"/api/instances/{instance.pk}/frames/1/rendered/")
    last = api(people["expert"]).get(f"/api/instances/{instance.pk}/frames/10/rendered/")
    assert first.status_code == last.status_code == 200 and first.content != last.content
    assert api(people["expert"]).get(f"/api/instances/{instance.pk}/frames/11/rendered/").status_code == 400


def test_imaging_study_lists_series_and_instances_for_the_reader(api, tus_client, people, consultation):
    ingest(tus_client, people["village_doctor"], sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    study = Instance.objects.get().series.study
    body = api(people["expert"]).get(f"/api/imaging-studies/{study.pk}/").json()
    assert body["series"][0]["modality"] == "CT" and len(body["series"][0]["instances"]) == 1
    assert api(people["other_village_doctor"]).get(f"/api/imaging-studies/{study.pk}/").status_code == 404


def test_admin_change_page_of_an_ecg_is_audited(client, people, ecg):
    client.force_login(people["admin"])
    response = client.get(f"/admin/studies/ecgrecord/{ecg.pk}/change/")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(object_type="EcgRecord", interface="admin").exists()


def test_fhir_imaging_study_is_valid_r4_and_only_for_readers_in_reach(api, tus_client, people, consultation):
    from fhir.resources.R4B.imagingstudy import ImagingStudy as FhirImagingStudy

    # given a CT study ingested for the consultation
    ingest(tus_client, people["village_doctor"], sample_bytes("CT_small.dcm"), consultation=consultation.pk)
    instance = Instance.objects.select_related("series__study").get()
    study = instance.series.study
    # when the assigned expert reads it as FHIR
    response = api(people["expert"]).get(f"/fhir/ImagingStudy/{study.pk}")
    # then it is a valid R4 ImagingStudy naming the study, series and instance UIDs, and the read is audited
    assert response.status_code == 200 and response["Content-Type"].startswith("application/fhir+json")
    resource = FhirImagingStudy.model_validate(response.json())
    assert resource.identifier[0].value == f"urn:oid:{study.study_instance_uid}"
    assert resource.series[0].uid == instance.series.series_instance_uid and resource.series[0].modality.code == "CT"
    assert resource.series[0].instance[0].uid == instance.sop_instance_uid
    assert resource.basedOn[0].reference == f"ServiceRequest/{consultation.pk}"
    assert AuditEvent.objects.filter(object_type="ImagingStudy", object_id=str(study.pk), action="read").count() == 1
    # and a doctor of another village gets 404
    assert api(people["other_village_doctor"]).get(f"/fhir/ImagingStudy/{study.pk}").status_code == 404


def test_a_wfdb_record_with_lead_mlii_answers_leads_ii(api, tus_client, people, consultation):
    # given a WFDB record whose signals are named like MIT-BIH's (MLII, V1)
    from tests.formats.test_device_names import mit_style_record

    upload = ingest(tus_client, people["village_doctor"], mit_style_record(reference_ecg()),
                    consultation=consultation.pk, kind="ecg")
    assert upload.state == "ingested", upload.error_message
    record = EcgRecord.objects.get()
    # when the expert asks for lead II
    response = api(people["expert"]).get(f"/api/ecgs/{record.pk}/samples/?leads=II&encoding=int-list")
    # then MLII is served as lead II
    assert response.status_code == 200, response.content
    assert record.lead_names == ["II", "V1"]
    assert np.array_equal(np.asarray(response.json()["leads"]["II"]), reference_ecg().leads["II"])
