"""DICOMweb against a live Daphne, driven by the unmodified dicomweb-client from PyPI."""
import io

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from audit.models import AuditEvent
from studies.models import ImagingStudy, Instance
from tests.studies.conftest import sample_bytes

pytestmark = pytest.mark.django_db(transaction=True)

FILES = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "emri_small.dcm"]


@pytest.fixture
def township(people, patient_factory, community):
    """A township doctor whose centre holds the patients of the test files (PatientID = health-record number)."""
    for hr in ("1CT1", "4MR1", "8NM1"):
        patient_factory(home_clinic=community.township_a, health_record_no=hr)
    return people["township_doctor"]


def client_for(server, token: str) -> DICOMwebClient:
    return DICOMwebClient(url=f"{server.url}/dicomweb", headers={"Authorization": f"Token {token}"})


def datasets(names):
    return [pydicom.dcmread(io.BytesIO(sample_bytes(n))) for n in names]


def test_stow_qido_wado_round_trip_with_dicomweb_client(daphne_server, township, token_for):
    # given a township doctor's DICOMweb client
    client = client_for(daphne_server, token_for(township))
    # when they store three instances with STOW-RS
    reply = client.store_instances(datasets(["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"]))
    # then all three are referenced, none failed
    assert len(reply.ReferencedSOPSequence) == 3 and "FailedSOPSequence" not in reply
    assert Instance.objects.count() == 3
    # and QIDO finds them by patient and by modality
    studies = client.search_for_studies(search_filters={"PatientID": "1CT1"})
    assert len(studies) == 1 and studies[0]["00080061"]["Value"] == ["CT"]
    ct = ImagingStudy.objects.get(dicom_patient_id="1CT1")
    series = client.search_for_series(ct.study_instance_uid)
    instances = client.search_for_instances(ct.study_instance_uid, series[0]["0020000E"]["Value"][0])
    sop = instances[0]["00080018"]["Value"][0]
    series_uid = series[0]["0020000E"]["Value"][0]
    # and WADO-RS returns the instance (preamble zeroed), its metadata with bulk data URIs, a frame, a rendering
    instance = client.retrieve_instance(ct.study_instance_uid, series_uid, sop)
    assert instance.SOPInstanceUID == sop and instance.preamble == bytes(128)
    metadata = client.retrieve_instance_metadata(ct.study_instance_uid, series_uid, sop)
    bulk = metadata["7FE00010"]["BulkDataURI"]  # the client sends Host without the port: compare the path
    assert bulk.endswith(f"/dicomweb/studies/{ct.study_instance_uid}/series/{series_uid}/instances/{sop}/bulkdata/7FE00010")
    frames = client.retrieve_instance_frames(ct.study_instance_uid, series_uid, sop, frame_numbers=[1])
    assert len(frames[0]) == instance.Rows * instance.Columns * 2
    assert np.array_equal(np.frombuffer(frames[0], dtype="<i2").reshape(instance.Rows, instance.Columns),
                          instance.pixel_array)
    png = client.retrieve_instance_rendered(ct.study_instance_uid, series_uid, sop, media_types=("image/png",),
                                            params={"window": "40,400"})
    assert Image.open(io.BytesIO(png)).size == (instance.Columns, instance.Rows)
    # and every read was audited
    assert AuditEvent.objects.filter(interface="dicomweb", actor_username=township.username).exists()


def test_stow_of_a_bad_part_is_reported_failed_and_the_good_parts_stored(daphne_server, township, token_for):
    client = client_for(daphne_server, token_for(township))
    good = sample_bytes("CT_small.dcm")
    boundary = "b0undary"
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
                    for part in (good, good[: len(good) // 2])) + f"--{boundary}--\r\n".encode()
    response = requests.post(f"{daphne_server.url}/dicomweb/studies", data=iter([body]),  # chunked, no length
                             headers={"Authorization": f"Token {token_for(township)}", "Accept": "application/dicom+json",
                                      "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    assert response.status_code == 202 and response.headers["Content-Type"] == "application/dicom+json"
    reply = response.json()
    assert len(reply["00081199"]["Value"]) == 1 and len(reply["00081198"]["Value"]) == 1
    assert "truncated" in reply["00081198"]["Value"][0]["00091001"]["Value"][0]
    assert Instance.objects.count() == 1 and client is not None


def test_dicomweb_hides_studies_outside_the_readers_reach(daphne_server, township, people, token_for):
    client_for(daphne_server, token_for(township)).store_instances(datasets(["CT_small.dcm"]))
    # a village doctor of another village sees nothing, and cannot fetch by UID
    outsider = client_for(daphne_server, token_for(people["other_village_doctor"]))
    assert outsider.search_for_studies() == []
    uid = ImagingStudy.objects.get().study_instance_uid
    response = requests.get(f"{daphne_server.url}/dicomweb/studies/{uid}/metadata",
                            headers={"Authorization": f"Token {token_for(people['other_village_doctor'])}"})
    assert response.status_code == 404


def test_dicomweb_without_a_token_is_refused(daphne_server):
    response = requests.get(f"{daphne_server.url}/dicomweb/studies")
    assert response.status_code == 401
