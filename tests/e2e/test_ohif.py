"""The OHIF Viewer (installed by scripts/install-ohif.sh) in Chromium against the real server: its
study list, and, opened from the reading page, a CT series displayed through our DICOMweb with the
user's session only, thumbnails served, a length measurement drawn."""
import io
import urllib.parse

import pydicom
import pytest
from django.conf import settings
from pydicom.uid import generate_uid

from studies.models import ImagingStudy
from studies.services.ingest import Source, ingest_dicom_batch
from tests.e2e.conftest import login, screenshot, wait_for_js
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
    assert (settings.OHIF_ROOT / "index.html").exists(), \
        "the OHIF Viewer is not installed: `make install` runs scripts/install-ohif.sh (needs npm)"


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


def test_reading_page_opens_ohif_which_lists_and_displays_the_cases_ct(people, community, patient_factory,
                                                                        consultation_factory, open_page):
    # given a CT series of a township patient, filed in their consultation
    patient = patient_factory(home_clinic=community.township_a, health_record_no="1CT1")
    doctor = people["township_doctor"]
    results = ingest_dicom_batch(datas=ct_series(), source=Source(by=doctor, organisation=community.township_a))
    assert all(not isinstance(r, Exception) for r in results)
    consultation = consultation_factory(patient=patient, requesting_org=community.township_a, requested_by=doctor)
    study = ImagingStudy.objects.get()
    study.consultation = consultation
    study.save(update_fields=["consultation"])
    # when the doctor opens OHIF's study list (logged in: no token anywhere in the page)
    page = open_page("ohif")
    failed, thumbnails, errors = [], [], []
    page.context.on("response", lambda r: "/dicomweb/" in r.url and r.status >= 400
                    and failed.append(f"{r.status} {r.url}"))
    page.context.on("response", lambda r: "/thumbnail" in r.url and thumbnails.append(r.status))
    # OHIF logs its own complaints as errors (e.g. no SharedArrayBuffer without cross-origin isolation);
    # what must not appear is an error about our endpoints
    page.console_errors.allow(r"^(?!.*(/dicomweb|app-config|Content Security Policy)).*$")
    csp_violations = []
    page.context.on("page", lambda p: p.on("console", lambda m: "Content Security Policy" in m.text
                                               and csp_violations.append(m.text)))
    page.on("console", lambda m: "Content Security Policy" in m.text and csp_violations.append(m.text))
    login(page, doctor.username)
    response = page.goto("/ohif/")
    # the viewer runs under a policy of its own: no eval, inline scripts only by hash
    policy = response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in policy and "script-src 'self' 'sha256-" in policy
    # then the study list shows the study
    page.get_by_text("CompressedSamples").first.wait_for(timeout=60_000)  # CT_small's patient name
    # and the viewer takes our pages' language (OHIF's own zh catalogue; its new study list has none)
    assert page.evaluate("localStorage.getItem('i18nextLng')") == "zh"
    assert "token" not in page.content().lower()
    # and the reading page opens it in OHIF, which displays the series: a canvas with non-blank pixels
    page.goto(f"/read/{consultation.pk}/")
    page.wait_for_selector("#open-ohif[href]")
    with page.expect_popup() as opened:
        page.click("#open-ohif")
    viewer = opened.value
    viewer.on("console", lambda m: m.type == "error" and errors.append(m.text))
    wait_for_js(viewer, f"({NON_BLANK_CANVAS})()", timeout_ms=90_000)
    assert study.study_instance_uid in viewer.url
    # in Chinese (the study panel's heading), and with no onboarding tour in the way (the expert opens
    # the viewer many times a day)
    viewer.get_by_text("检查", exact=True).first.wait_for(timeout=30_000)
    assert viewer.locator(".shepherd-element").count() == 0
    # and a length measurement can be drawn on it
    viewer.locator('[data-cy="MeasurementTools-split-button-primary"], [data-cy="Length"]').first.click()
    box = viewer.locator("canvas.cornerstone-canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    viewer.mouse.move(x - 60, y)
    viewer.mouse.down()
    viewer.mouse.move(x + 60, y + 20, steps=10)
    viewer.mouse.up()
    viewer.locator("svg.svg-layer [data-annotation-uid]").first.wait_for(timeout=30_000)
    assert viewer.locator("svg.svg-layer text").filter(has_text="mm").count() >= 1
    viewer.test_slug = page.test_slug
    screenshot(viewer, "ohif-viewer")
    assert not failed, failed
    assert thumbnails and 404 not in thumbnails
    assert [e for e in errors if "/dicomweb" in e] == []
    # and nothing the viewer did was refused by its policy (it would have broken the display above)
    assert csp_violations == []


# each of OHIF's viewports: where it is, whether its canvas has non-blank pixels, and its image counter's count
# ("(1/5)": the series' number of images)
VIEWPORT_PANES = """() => [...document.querySelectorAll('[data-cy="viewport-pane"]')].map((pane) => {
  const box = pane.getBoundingClientRect();
  const canvas = pane.querySelector('canvas.cornerstone-canvas');
  const values = new Set();
  if (canvas && canvas.width && canvas.height) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4 * 97) values.add(data[i]);
  }
  const counter = /\\(1\\/(\\d+)\\)/.exec(pane.innerText || '');
  return { left: box.left, top: box.top, width: box.width, height: box.height, nonBlank: values.size > 8,
           slices: counter ? Number(counter[1]) : null };
})"""


def test_compare_with_prior_opens_ohif_with_the_current_and_the_prior_study_side_by_side(
        people, community, cardiology, patient_factory, consultation_factory, open_page):
    # given a patient with a CT filed in an earlier consultation and a new CT in a case assigned to the expert
    patient = patient_factory(home_clinic=community.township_a, health_record_no="1CT1")
    doctor = people["township_doctor"]
    studies = []
    for slices in (3, 5):
        assert all(not isinstance(r, Exception) for r in ingest_dicom_batch(
            datas=ct_series(slices), source=Source(by=doctor, organisation=community.township_a)))
        studies.append(ImagingStudy.objects.exclude(pk__in=[s.pk for s in studies]).get())
    prior, current = studies
    for study, state in ((prior, "closed"), (current, "assigned")):
        study.consultation = consultation_factory(
            patient=patient, requesting_org=community.township_a, requested_by=doctor, specialty=cardiology,
            assigned_expert=people["expert"].expert, state=state)
        study.save(update_fields=["consultation"])
    # when the expert opens the case's reading page and picks "compare" on the prior
    page = open_page("ohif-compare")
    failed, metadata = [], set()
    page.context.on("response", lambda r: "/dicomweb/" in r.url and r.status >= 400
                    and failed.append(f"{r.status} {r.url}"))
    page.context.on("response", lambda r: "/metadata" in r.url and r.status == 200
                    and metadata.update(uid for uid in (prior.study_instance_uid, current.study_instance_uid)
                                        if uid in r.url))
    page.console_errors.allow(r"^(?!.*(/dicomweb|app-config|Content Security Policy)).*$")
    login(page, people["expert"].username, next=f"/read/{current.consultation_id}/")
    link = page.wait_for_selector(f"#priors a[data-compare='{prior.study_instance_uid}']")
    assert "对比" in link.inner_text()
    with page.expect_popup() as opened:
        link.click()
    viewer = opened.value
    # then OHIF opens both studies, the case's first, with our two-study hanging protocol
    query = urllib.parse.unquote(viewer.url.split("?", 1)[1])
    assert "hangingProtocolId=@teleclinic/hpCompare" in query
    assert query.index(current.study_instance_uid) < query.index(prior.study_instance_uid)
    # and draws them side by side: two viewports with non-blank pixels, each study's metadata read
    wait_for_js(viewer, f"({VIEWPORT_PANES})().filter((p) => p.nonBlank && p.slices).length >= 2", timeout_ms=90_000)
    assert metadata == {prior.study_instance_uid, current.study_instance_uid}
    # exactly two, in one row (1x2: no empty lower row as in OHIF's own 2x2 @ohif/hpCompare), not overlapping
    panes = viewer.evaluate(f"({VIEWPORT_PANES})()")
    assert len(panes) == 2, panes
    left, right = sorted(panes, key=lambda p: p["left"])
    assert abs(left["top"] - right["top"]) < 2 and abs(left["height"] - right["height"]) < 2, panes
    assert left["left"] + left["width"] <= right["left"] + 1, panes
    # the case's 5-slice CT on the left, the prior 3-slice CT on the right (each viewport's image counter)
    assert (left["slices"], right["slices"]) == (5, 3), panes
    viewer.test_slug = page.test_slug
    screenshot(viewer, "ohif-compare")
    assert not failed, failed
