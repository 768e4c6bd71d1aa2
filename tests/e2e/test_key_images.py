"""Key images in Chromium on the real back end (issues 12 and 14): on the reading page the expert scrolls to a
frame of the case's MR, marks it in one click, signs, and the PDF the render task makes draws that frame.

The study is pydicom's 10-frame emri_small.dcm, stored by the ingest service in the test's process; the marking
and signing go through the page and the API; the render is the render task's own service (no worker runs here).
"""
import datetime as dt
import io
import subprocess

import numpy as np
import pytest
import time_machine
from django.utils import timezone
from PIL import Image

from tests.e2e.conftest import login, outside_the_browser_loop, screenshot, sign_report, start_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MOMENT = dt.datetime(2026, 12, 2, 4, 0, tzinfo=dt.UTC)  # Wednesday 12:00 in Asia/Shanghai


def _store_mr(consultation, by):
    from pydicom.data import get_testdata_file

    from studies.models import Instance
    from studies.services.ingest import Source, ingest_dicom_bytes

    with open(get_testdata_file("emri_small.dcm"), "rb") as f:
        data = f.read()
    ingest_dicom_bytes(data=data, source=Source(by=by, organisation=by.organisation, consultation=consultation,
                                                patient=consultation.patient))
    return Instance.objects.get(series__study__consultation=consultation)


@pytest.fixture
def imaging_case(people, cardiology, patient_factory, consultation_factory):
    with time_machine.travel(MOMENT, tick=True):
        doctor = people["village_doctor"]
        consultation = consultation_factory(
            patient=patient_factory(name="李桂兰", sex="F", home_clinic=doctor.organisation), requested_by=doctor,
            requesting_org=doctor.organisation, specialty=cardiology, reason="头痛一周",
            assigned_expert=people["expert"].expert, state="assigned", assigned_at=timezone.now())
        instance = outside_the_browser_loop(_store_mr, consultation=consultation, by=doctor)
        yield consultation, instance


def _frame_pixels(instance, frame: int, center=None, width=None) -> np.ndarray:
    from studies.formats import render_frame
    from studies.selectors import instance_bytes

    png = render_frame(instance_bytes(instance), frame=frame - 1, image_format="png", window_center=center,
                       window_width=width).content
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def _render_pdf(report_id: int) -> bytes:
    from reports.models import ReportVersion
    from reports.services.delivery import version_render_pdf

    version = ReportVersion.objects.get(report_id=report_id, number=1)
    version_render_pdf(version_id=version.pk)
    version.refresh_from_db()
    return version.pdf.read()


def test_the_expert_marks_a_key_image_on_the_reading_page_and_the_signed_pdf_draws_it(
        imaging_case, people, open_page, tmp_path):
    from reports.models import Report
    from studies.models import ReportKeyImage

    consultation, instance = imaging_case
    page = open_page("expert-key-images")
    page.clock.install(time=MOMENT)
    login(page, people["expert"].username, next=f"/read/{consultation.id}/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#image-panel:not([hidden]) #images[data-frame='0']")
    # before the imaging report is started, the marker says what to do first
    toggle = page.locator("#images button[data-key-image]")
    assert toggle.is_disabled() and "影像报告" in toggle.get_attribute("title")
    start_report(page, "imaging")
    page.wait_for_selector("#key-images:not([hidden])")
    assert "PDF" in page.inner_text("#key-images")  # none marked: the first image of each series
    # when the expert scrolls to frame 6 and marks it (one click)
    page.locator("#images .iv-slider").fill("5")
    page.wait_for_selector("#images[data-frame='5']")
    page.wait_for_selector("#images button[data-key-image]:not([disabled])")
    page.click("#images button[data-key-image]")
    page.wait_for_selector("#key-images[data-count='1']")
    assert page.get_attribute("#images button[data-key-image]", "aria-pressed") == "true"
    assert "已标记 1 张关键图像" in page.inner_text("#key-images .status")
    report = Report.objects.get(consultation=consultation)
    key = ReportKeyImage.objects.get(report=report)  # in the window it was shown in (the file's own, as X-Window said)
    assert (key.instance_id, key.frame) == (instance.pk, 6)
    # and writes the report and signs it
    sign_report(page, findings="脑实质未见异常信号", impression="颅内未见明显异常")
    screenshot(page, "signed-with-key-image")
    # then the marker is closed on the signed report, and the PDF draws frame 6, not the first frame
    assert page.locator("#images button[data-key-image]").is_disabled()
    assert page.locator("#key-images button[data-unmark]").count() == 0
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(outside_the_browser_loop(_render_pdf, report_id=report.pk))
    subprocess.run(["pdfimages", "-png", str(pdf), str(tmp_path / "img")], check=True, timeout=60)
    embedded = [np.asarray(Image.open(p).convert("L")) for p in sorted(tmp_path.glob("img-*.png"))]
    embedded = [image for image in embedded if image.shape == (64, 64)]
    assert len(embedded) == 1
    assert np.array_equal(embedded[0], _frame_pixels(instance, 6, key.window_center, key.window_width))
    assert not np.array_equal(embedded[0], _frame_pixels(instance, 1))
