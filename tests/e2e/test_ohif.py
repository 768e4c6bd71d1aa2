"""The OHIF Viewer (installed by scripts/install-ohif.sh) in Chromium against the real server: its
study list and a CT series displayed through our DICOMweb, with the user's session only."""
import io

import pydicom
import pytest
from django.conf import settings
from pydicom.uid import generate_uid

from studies.models import ImagingStudy
from studies.services.ingest import Source, ingest_dicom_batch
from tests.e2e.conftest import login
from tests.studies.conftest import sample_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NON_BLANK_CANVAS = """() => {
  for (const canvas of document.querySelectorAll('canvas.cornerstone-canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const values = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) values.add(data[i]);
    if (values.size > 8) return true;
  }
  return false;
}"""


@pytest.fixture(autouse=True)
def ohif_installed():
    if not (settings.OHIF_ROOT / "index.html").exists():
        pytest.skip("the OHIF Viewer is not installed (bash scripts/install-ohif.sh)")


def ct_series(slices: int = 5) -> list[bytes]:
    """CT_small as a series of `slices` instances of one study (new UIDs, stepped positions)."""
    study, series = generate_uid(), generate_uid()
    out = []
    for n in range(slices):
        ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [-158.135803, -179.035797, -75.699997 + 5 * n]
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def test_ohif_lists_our_studies_and_displays_a_ct_series(people, community, patient_factory, open_page):
    # given a CT series of a township patient
    patient_factory(home_clinic=community.township_a, health_record_no="1CT1")
    doctor = people["township_doctor"]
    results = ingest_dicom_batch(datas=ct_series(), source=Source(by=doctor, organisation=community.township_a))
    assert all(not isinstance(r, Exception) for r in results)
    study = ImagingStudy.objects.get()
    # when the doctor opens OHIF (logged in: no token anywhere in the page)
    page = open_page("ohif")
    failed, thumbnails = [], []
    page.on("response", lambda r: "/dicomweb/" in r.url and r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.on("response", lambda r: "/thumbnail" in r.url and thumbnails.append(r.status))
    # OHIF logs its own warnings as errors (e.g. no SharedArrayBuffer without cross-origin isolation);
    # what must not appear is an error about our endpoints
    page.console_errors.allow(r"^(?!.*(/dicomweb|app-config)).*$")
    login(page, doctor.username)
    page.goto("/ohif/")
    # then the study list shows the study
    page.get_by_text("CompressedSamples").first.wait_for(timeout=60_000)  # the patient name of CT_small
    # and the viewer displays the series: a canvas with non-blank pixels
    page.goto(f"/ohif/viewer?StudyInstanceUIDs={study.study_instance_uid}")
    page.wait_for_function(NON_BLANK_CANVAS, timeout=90_000)
    assert "token" not in page.content().lower()
    assert not failed, failed
    assert not [s for s in thumbnails if s == 404]
    assert [e for e in page.console_errors if "/dicomweb" in e] == []
