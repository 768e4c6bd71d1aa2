"""Issue 12, fault 7: the embedded SQLite database serialises concurrent writes; no request gets an HTML 500.

Without the fix, four parallel STOW-RS requests on `make run` failed about half the time with Django's
HTML "Server Error (500)" ("database is locked": a DEFERRED transaction that read and then wrote could
not take SQLite's write lock, and SQLite fails that at once, whatever the busy timeout).
"""
import io
import time
from concurrent.futures import ThreadPoolExecutor

import pydicom
import requests
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

FILES = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "emri_small.dcm"]
BOUNDARY = "j12boundary"


def _stow_body(name: str, patient_id: str) -> bytes:
    """One instance of a pydicom sample as a new study of a demo patient, as a STOW-RS multipart body."""
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.PatientID = patient_id
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return (f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + buffer.getvalue()
            + f"\r\n--{BOUNDARY}--\r\n".encode())


def test_parallel_stow_rs_requests_all_succeed_on_embedded_sqlite(demo):
    # given a township doctor's token on `make run`'s embedded default
    token = demo.api("tdoc01").headers["Authorization"]
    # (the demo's patients DEMO-0001..0004 belong to the villages of township 1)
    bodies = [_stow_body(FILES[i % len(FILES)], f"DEMO-{i % 4 + 1:04d}") for i in range(12)]

    def stow(body: bytes) -> requests.Response:
        return requests.post(f"{demo.url}/dicomweb/studies", data=body, timeout=120, headers={
            "Authorization": token, "Accept": "application/dicom+json",
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'})

    # when twelve STOW-RS requests arrive four at a time
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(stow, bodies))
    # then every one is stored, and none is an error page
    statuses = [(r.status_code, r.headers.get("Content-Type"), r.text[:200]) for r in responses]
    assert all(r.status_code == 200 for r in responses), statuses
    assert all(len(r.json()["00081199"]["Value"]) == 1 and "00081198" not in r.json() for r in responses), statuses
    found = requests.get(f"{demo.url}/dicomweb/studies?limit=100", headers={"Authorization": token}, timeout=60)
    assert found.status_code == 200 and len(found.json()) >= len(bodies)


def _tus_upload(session, data: bytes, **metadata) -> dict:
    """One whole file through the tus endpoint, as tus-js-client sends it; the upload read back when final."""
    from studies import tus

    created = session.post("/api/uploads/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Upload-Metadata": tus.encode_metadata({k: str(v) for k, v in metadata.items()})})
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    sent = session.patch(url, data=data, headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                                                  "Content-Type": "application/offset+octet-stream"})
    assert sent.status_code == 204, sent.text
    for _ in range(240):
        upload = session.get(url, headers={"Accept": "application/json"}).json()
        if upload["state"] in ("ingested", "failed"):
            return upload
        time.sleep(0.5)
    raise AssertionError(f"upload {url} never finished: {upload}")


def test_the_same_ct_sent_in_a_second_consultation_is_offered_there_too_on_embedded_sqlite(demo):
    # given a village doctor's patient with two async cardiology consultations on `make run`'s default
    doctor = demo.api("vdoc01")
    patient = doctor.get("/api/patients/").json()["results"][0]
    ids = [doctor.post("/api/consultations/", json={"patient": patient["id"], "specialty": "cardiology",
                                                     "mode": "async", "reason": reason}).json()["id"]
           for reason in ("胸痛", "复查")]
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    # when the same CT (same SOP Instance UID) is uploaded in the first, then in the second consultation
    first = _tus_upload(doctor, buffer.getvalue(), filename="ct.dcm", kind="dicom", consultation=ids[0])
    second = _tus_upload(doctor, buffer.getvalue(), filename="ct.dcm", kind="dicom", consultation=ids[1])
    # then both are processed, the second one linked to its consultation rather than silently filed elsewhere
    assert first["state"] == second["state"] == "ingested", (first, second)
    assert second["result"]["duplicate"] is True and second["result"]["linked"] is True
    # and the second consultation lists the study and was offered to an on-duty expert, like the first
    listed = doctor.get(f"/api/consultations/{ids[1]}/studies/").json()
    assert [(row["type"], row["id"]) for row in listed] == [("imaging", first["result"]["study_id"])]
    states = {i: doctor.get(f"/api/consultations/{i}/").json()["state"] for i in ids}
    assert states == {ids[0]: "offered", ids[1]: "offered"}, states
