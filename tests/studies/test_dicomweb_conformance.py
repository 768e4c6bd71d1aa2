"""DICOMweb per PS3.18 beyond the round trip: STOW to a study's URL, thumbnails, the transfer syntax
of a retrieve (Explicit VR Little Endian by default, transcoded), RetrieveURL behind a proxy."""
import io
import json

import numpy as np
import pydicom
import pytest
import requests
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian

from studies.dicomweb.multipart import parse_related
from studies.models import Instance
from studies.services.ingest import Source, ingest_dicom_batch
from tests.studies.conftest import sample_bytes

pytestmark = pytest.mark.django_db

DICOM = 'multipart/related; type="application/dicom"'
# RLE, JPEG-LS, JPEG 2000 (lossless and lossy), JPEG baseline (YBR, decoded to RGB), multi-frame RLE
COMPRESSED = ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "JPEG2000.dcm",
              "SC_rgb_jpeg_dcmtk.dcm", "emri_small_RLE.dcm"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def doctor(people):
    return people["township_doctor"]


def stored(doctor, name: str) -> Instance:
    """The file ingested from the township (unmatched: its staff may read it)."""
    result = ingest_dicom_batch(datas=[sample_bytes(name)], source=Source(
        by=doctor, organisation=doctor.organisation, interface="dicomweb"))[0]
    assert not isinstance(result, Exception), result
    return result.instance


def url(instance: Instance, suffix: str = "") -> str:
    return (f"/dicomweb/studies/{instance.series.study.study_instance_uid}/series/"
            f"{instance.series.series_instance_uid}/instances/{instance.sop_instance_uid}{suffix}")


def retrieved(response) -> list[pydicom.Dataset]:
    assert response.status_code == 200, response.content[:300]
    return [pydicom.dcmread(io.BytesIO(content)) for _, content in
            parse_related(response.content, response["Content-Type"])]


@pytest.mark.parametrize("name", COMPRESSED)
def test_retrieve_without_a_transfer_syntax_is_explicit_vr_little_endian_with_pydicoms_pixels(api, doctor, name):
    # given a compressed instance stored as sent
    instance = stored(doctor, name)
    assert instance.transfer_syntax_uid != ExplicitVRLittleEndian
    # when it is retrieved without naming a transfer syntax
    [ds] = retrieved(api(doctor).get(url(instance), HTTP_ACCEPT=DICOM))
    # then it comes in Explicit VR Little Endian, its pixels equal to pydicom's decode of the original
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    original = pydicom.dcmread(io.BytesIO(sample_bytes(name)))
    assert np.array_equal(ds.pixel_array, original.pixel_array)


def test_transfer_syntax_star_sends_the_instance_as_stored(api, doctor):
    instance = stored(doctor, "MR_small_RLE.dcm")
    response = api(doctor).get(url(instance), HTTP_ACCEPT=f"{DICOM}; transfer-syntax=*")
    [ds] = retrieved(response)
    assert ds.file_meta.TransferSyntaxUID == instance.transfer_syntax_uid
    assert f"transfer-syntax={instance.transfer_syntax_uid}".encode() in response.content[:300]


def test_a_transfer_syntax_we_cannot_make_is_406(api, doctor):
    instance = stored(doctor, "MR_small_RLE.dcm")
    response = api(doctor).get(url(instance), HTTP_ACCEPT=f"{DICOM}; transfer-syntax=1.2.840.10008.1.2.4.50")
    assert response.status_code == 406 and response.json()["code"] == "not_acceptable"
    assert api(doctor).get(url(instance), HTTP_ACCEPT="text/html").status_code == 406


def test_stow_to_a_study_url_stores_its_instances_and_fails_another_studys(api, doctor):
    # given a CT and an MR, each of its own study
    ct, mr = sample_bytes("CT_small.dcm"), sample_bytes("MR_small.dcm")
    ct_study = pydicom.dcmread(io.BytesIO(ct)).StudyInstanceUID
    boundary = "b0undary"
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
                    for part in (ct, mr)) + f"--{boundary}--\r\n".encode()
    # when both are sent to the CT's study URL
    response = api(doctor).generic("POST", f"/dicomweb/studies/{ct_study}", body,
                                   content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
                                   HTTP_ACCEPT="application/dicom+json")
    # then the CT is stored, the MR is in the failed list with the study-mismatch reason, and not stored
    assert response.status_code == 202, response.content
    reply = response.json()
    assert len(reply["00081199"]["Value"]) == 1
    [failure] = reply["00081198"]["Value"]
    assert failure["00081197"]["Value"] == [0xC409]
    assert list(Instance.objects.values_list("series__study__study_instance_uid", flat=True)) == [ct_study]


@pytest.mark.parametrize("level", ["study", "series", "instance", "frame"])
def test_thumbnail_at_every_level_is_a_small_jpeg(api, doctor, level):
    instance = stored(doctor, "emri_small_RLE.dcm")  # 10 frames of 64x64
    study, series = instance.series.study.study_instance_uid, instance.series.series_instance_uid
    path = {"study": f"/dicomweb/studies/{study}/thumbnail",
            "series": f"/dicomweb/studies/{study}/series/{series}/thumbnail",
            "instance": url(instance, "/thumbnail"),
            "frame": url(instance, "/frames/3/thumbnail")}[level]
    response = api(doctor).get(path, {"viewport": "32,32"}, HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and image.size == (32, 32)
    assert np.asarray(image).std() > 0  # an image, not a blank


def test_thumbnail_in_png_when_asked_and_404_outside_reach(api, doctor, people):
    instance = stored(doctor, "CT_small.dcm")
    response = api(doctor).get(url(instance, "/thumbnail"), HTTP_ACCEPT="image/png")
    assert response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (128, 128)
    assert api(people["other_village_doctor"]).get(url(instance, "/thumbnail")).status_code == 404


def test_retrieve_url_keeps_the_port_of_the_forwarded_host_when_configured(api, doctor, settings):
    instance = stored(doctor, "CT_small.dcm")
    study = instance.series.study.study_instance_uid
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "pacs.example.org"]
    body = api(doctor).get(f"/dicomweb/studies/{study}/series", HTTP_X_FORWARDED_HOST="pacs.example.org:8443",
                           HTTP_HOST="127.0.0.1:9000").json()
    assert body[0]["00081190"]["Value"][0].startswith(f"http://pacs.example.org:8443/dicomweb/studies/{study}/")
    settings.USE_X_FORWARDED_HOST = False  # the default: a client's header is not trusted
    body = api(doctor).get(f"/dicomweb/studies/{study}/series", HTTP_X_FORWARDED_HOST="pacs.example.org:8443",
                           HTTP_HOST="127.0.0.1:9000").json()
    assert body[0]["00081190"]["Value"][0].startswith("http://127.0.0.1:9000/dicomweb/")


@pytest.mark.django_db(transaction=True)
def test_stow_reply_retrieve_url_keeps_the_port_of_the_request(daphne_server, doctor, token_for):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + sample_bytes("CT_small.dcm")
            + f"\r\n--{boundary}--\r\n".encode())
    response = requests.post(f"{daphne_server.url}/dicomweb/studies", data=body, headers={
        "Authorization": f"Token {token_for(doctor)}", "Accept": "application/dicom+json",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    assert response.status_code == 200, response.text
    assert response.json()["00081190"]["Value"][0].startswith(f"{daphne_server.url}/dicomweb/studies/")


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPEG2000.dcm", "emri_small_RLE.dcm"])
def test_metadata_read_up_to_the_pixels_is_the_whole_files_with_pixel_data_by_reference(api, doctor, name):
    # given a stored instance
    instance = stored(doctor, name)
    # when its metadata is asked for (read from the file only as far as the pixel data)
    response = api(doctor).get(url(instance, "/metadata"), HTTP_ACCEPT="application/dicom+json")
    assert response.status_code == 200
    (got,) = response.json()
    # then it is what the whole file gives, the pixel data by BulkDataURI in its VR
    whole = pydicom.dcmread(io.BytesIO(sample_bytes(name)))
    want = whole.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda e: "ref")
    pixel = got.pop("7FE00010")
    assert pixel["BulkDataURI"].endswith(url(instance, "/bulkdata/7FE00010"))
    assert pixel["vr"] == want.pop("7FE00010")["vr"]
    for tag in ("00083002", "00020010"):
        got.pop(tag, None)
    want.pop("FFFCFFFC", None)  # Data Set Trailing Padding, after the pixels: meaningless (PS3.10 7.2), left out
    assert {k: v for k, v in got.items() if "BulkDataURI" not in v} == {
        k: v for k, v in want.items() if "BulkDataURI" not in v}


def test_metadata_read_again_comes_from_the_cache_beside_the_file_with_the_urls_of_the_new_request(
        api, doctor, settings):
    from studies.dicomweb import wado

    # given a stored instance whose metadata was read once, through one host
    instance = stored(doctor, "CT_small.dcm")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "a.example.org", "b.example.org"]
    first = api(doctor).get(url(instance, "/metadata"), HTTP_HOST="a.example.org").json()
    cache = wado.media_path(instance.file + wado.METADATA_SUFFIX)
    assert cache.exists()
    # when it is read again through another host, its header file unreadable (the cached text answers)
    wado.media_path(instance.file).rename(wado.media_path(instance.file + ".away"))
    again = api(doctor).get(url(instance, "/metadata"), HTTP_HOST="b.example.org:8443")
    # then it is the same metadata, its BulkDataURIs naming the new request's host
    assert again.status_code == 200 and again["Content-Type"] == "application/dicom+json"
    (second,) = again.json()
    assert second["7FE00010"]["BulkDataURI"] == f"http://b.example.org:8443{url(instance, '/bulkdata/7FE00010')}"
    assert json.dumps(second).replace("b.example.org:8443", "a.example.org") == json.dumps(first[0])
    # and a cache cut short (a crash while it was written) is written again from the file
    wado.media_path(instance.file + ".away").rename(wado.media_path(instance.file))
    cache.write_text(cache.read_text()[:100])
    assert api(doctor).get(url(instance, "/metadata"), HTTP_HOST="a.example.org").json() == first
    assert cache.read_text().endswith("}")
