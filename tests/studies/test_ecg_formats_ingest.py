"""Philips Sierra XML and SCP-ECG through the real tus upload and ingest: stored as ECG records like the other
formats, and a damaged file refused on the upload with its code and reason, nothing half-stored."""
import pytest

from studies.models import EcgRecord, Upload
from studies.services.ingest import ingest_upload
from tests.formats.formats_samples import make_scp, make_sierra
from tests.formats.rhythm_samples import resampled
from tests.studies.conftest import upload_id_of
from tests.studies.ecgfiles import reference_ecg

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def consultation(consultation_factory, community, people, cardiology):
    return consultation_factory(patient__home_clinic=community.village_a1, requested_by=people["village_doctor"],
                                specialty=cardiology)


def _send(tus_client, user, data: bytes, name: str, consultation) -> Upload:
    return ingest_upload(upload_id=upload_id_of(tus_client(user).send(data, filename=name, consultation=consultation.pk)))


@pytest.mark.parametrize("name, make, source", [("ecg.xml", make_sierra, "sierra"), ("ECG0001.SCP", make_scp, "scp")])
def test_a_philips_or_scp_ecg_is_stored_read_and_analysed(tus_client, people, consultation, api, name, make, source):
    ecg = resampled(reference_ecg(), 500)
    upload = _send(tus_client, people["village_doctor"], make(ecg), name, consultation)
    assert upload.state == Upload.State.INGESTED, (upload.error_code, upload.error_message)
    record = EcgRecord.objects.get(consultation=consultation)
    assert record.source_format == source and len(record.lead_names) == 12 and record.n_samples == 5000
    assert record.device_measurements["qrs_ms"] == ecg.device_measurements["qrs_ms"]
    assert record.device_statements and record.computed_statements[0]["code"] == "sinus_rhythm"
    body = api(people["village_doctor"]).get(f"/api/ecgs/{record.pk}/samples/", {"leads": "II"}).json()
    assert list(body["leads"]) == ["II"]


@pytest.mark.parametrize("name, make, code", [
    ("ecg.xml", lambda e: make_sierra(e)[:20000], "sierra_bad_xml"),
    ("ECG0001.SCP", lambda e: make_scp(e)[:5000], "scp_truncated"),
    ("ECG0002.SCP", lambda e: make_scp(e, span_end=2_000_000_000), "ecg_too_long"),
])
def test_a_damaged_file_is_refused_on_the_upload_with_its_reason(tus_client, people, consultation, api, name, make, code):
    upload = _send(tus_client, people["village_doctor"], make(resampled(reference_ecg(), 500)), name, consultation)
    assert upload.state == Upload.State.FAILED and upload.error_code == code
    status = api(people["village_doctor"]).get(f"/api/uploads/{upload.pk}/").json()
    assert status["state"] == "failed" and status["error"]["code"] == code and len(status["error"]["detail"]) > 20
    assert not EcgRecord.objects.exists()
