"""Key images (issues 12 and 14): the expert marks frames of the report's own study, by foreign key, and the
signed PDF draws exactly those frames; with none marked, the first frame of each series."""
import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consult.models import Consultation
from reports.models import ReportVersion
from reports.services.delivery import version_render_pdf
from studies.formats import render_frame
from studies.models import ImagingStudy, Instance, ReportKeyImage
from studies.selectors import instance_bytes
from studies.services.ingest import ingest_upload
from tests.reports.conftest import fill
from tests.reports.pdf_checks import pdf_image_sizes, pdf_text
from tests.studies.conftest import sample_bytes, upload_id_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the product's own loader (settings' default) reads the stored files


@pytest.fixture
def case(consultation_factory, community, people, cardiology):
    """make(sample): a consultation assigned to the expert, with the pydicom sample ingested through tus."""

    def make(sample="emri_small.dcm"):
        consultation = consultation_factory(patient__home_clinic=community.village_a1,
                                            requested_by=people["village_doctor"], specialty=cardiology,
                                            assigned_expert=people["expert"].expert,
                                            state=Consultation.State.ASSIGNED)
        return consultation, _ingest(consultation, people, sample)

    return make


def _ingest(consultation, people, sample) -> ImagingStudy:
    from tests.studies.conftest import TusClient
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(people["village_doctor"])
    url = TusClient(client).send(sample_bytes(sample), consultation=consultation.pk)
    ingest_upload(upload_id=upload_id_of(url))
    return ImagingStudy.objects.get(consultation=consultation)


def _start(expert, consultation, study):
    response = expert.post(f"/api/consultations/{consultation.pk}/reports/",
                           {"kind": "imaging", "study_ref": f"dicom:{study.study_instance_uid}"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def _sign_and_render(expert, report_id, tmp_path) -> Path:
    assert expert.put(f"/api/reports/{report_id}/draft/", {"content": fill("imaging")},
                      format="json").status_code == 200
    signed = expert.post(f"/api/reports/{report_id}/sign/")
    assert signed.status_code == 201, signed.json()
    version = ReportVersion.objects.get(report_id=report_id, number=1)
    assert version_render_pdf(version_id=version.pk) is True  # the render task's service, the real renderer
    pdf = expert.get(f"/api/reports/{report_id}/versions/1/pdf/")
    assert pdf.status_code == 200
    path = tmp_path / "report.pdf"
    path.write_bytes(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content)
    return path


def _pdf_images(path: Path) -> list[np.ndarray]:
    """The images embedded in the PDF, as poppler extracts them (pdfimages), in page order."""
    prefix = path.with_name("img")
    subprocess.run(["pdfimages", "-png", str(path), str(prefix)], check=True, timeout=60)
    return [np.asarray(Image.open(p).convert("L")) for p in sorted(path.parent.glob("img-*.png"))]


def _frame(instance: Instance, frame: int, center=None, width=None) -> np.ndarray:
    png = render_frame(instance_bytes(instance), frame=frame - 1, image_format="png", window_center=center,
                       window_width=width).content
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def test_the_expert_marks_key_images_and_the_signed_pdf_draws_those_frames(api, people, case, tmp_path):
    # given an imaging report of a 10-frame MR study
    consultation, study = case()
    instance = Instance.objects.get(series__study=study)
    expert = api(people["expert"])
    report_id = _start(expert, consultation, study)
    # when the expert marks frames 7 (in a narrow window) and 3 as key images
    picks = [{"instance": instance.pk, "frame": 7, "window_center": 300, "window_width": 200},
             {"instance": instance.pk, "frame": 3}]
    response = expert.put(f"/api/reports/{report_id}/key-images/", {"key_images": picks}, format="json")
    # then they are stored as rows tied to the report and the instance, in order
    assert response.status_code == 200, response.json()
    assert [(k["instance"], k["frame"]) for k in response.json()] == [(instance.pk, 7), (instance.pk, 3)]
    rows = list(ReportKeyImage.objects.filter(report_id=report_id))
    assert [(r.instance_id, r.frame, r.window_width) for r in rows] == [(instance.pk, 7, 200), (instance.pk, 3, None)]
    assert expert.get(f"/api/reports/{report_id}/key-images/").json() == response.json()
    # and once signed and rendered, the PDF's key-image page draws exactly those frames, not the first one
    path = _sign_and_render(expert, report_id, tmp_path)
    assert "关键图像 Key images" in pdf_text(path)
    embedded = [image for image in _pdf_images(path) if image.shape == (64, 64)]
    chosen = [_frame(instance, 7, 300, 200), _frame(instance, 3)]
    assert len(embedded) == 2
    assert all(np.array_equal(got, want) for got, want in zip(embedded, chosen))
    assert not np.array_equal(chosen[0], _frame(instance, 1)) and not np.array_equal(chosen[1], _frame(instance, 1))


def test_without_key_images_the_pdf_draws_the_first_frame_of_each_series(api, people, case, tmp_path):
    # given an imaging report for which the expert marked nothing
    consultation, study = case()
    instance = Instance.objects.get(series__study=study)
    expert = api(people["expert"])
    report_id = _start(expert, consultation, study)
    # when it is signed and rendered
    path = _sign_and_render(expert, report_id, tmp_path)
    # then its key-image page is the series' first frame in the file's own window
    embedded = [image for image in _pdf_images(path) if image.shape == (64, 64)]
    assert len(embedded) == 1 and np.array_equal(embedded[0], _frame(instance, 1))
    assert (64, 64) in pdf_image_sizes(path)


def test_a_key_image_outside_the_reports_own_study_is_refused_and_nothing_is_half_stored(api, people, case):
    # given a report with one key image marked, and another patient's study in another consultation
    consultation, study = case()
    _, other_study = case("CT_small.dcm")
    mine = Instance.objects.get(series__study=study)
    foreign = Instance.objects.get(series__study=other_study)
    expert = api(people["expert"])
    report_id = _start(expert, consultation, study)
    url = f"/api/reports/{report_id}/key-images/"
    assert expert.put(url, {"key_images": [{"instance": mine.pk, "frame": 2}]}, format="json").status_code == 200
    # when the expert's next choice names a good frame and one of the other study (or one that does not exist)
    for bad in ({"instance": foreign.pk, "frame": 1}, {"instance": foreign.pk + 10_000, "frame": 1}):
        response = expert.put(url, {"key_images": [{"instance": mine.pk, "frame": 5}, bad]}, format="json")
        # then it is refused with the same code and a reason, and the earlier choice stands whole
        assert response.status_code == 400
        assert response.json()["code"] == "instance_not_in_study" and response.json()["detail"]
        assert list(ReportKeyImage.objects.values_list("instance_id", "frame")) == [(mine.pk, 2)]
    # and so are a frame past the end, the same frame twice, five images, a half window and a malformed body
    refusals = {
        "bad_frame": [{"instance": mine.pk, "frame": 11}],
        "duplicate_key_image": [{"instance": mine.pk, "frame": 4}, {"instance": mine.pk, "frame": 4}],
        "too_many_key_images": [{"instance": mine.pk, "frame": f} for f in range(1, 6)],
        "bad_window": [{"instance": mine.pk, "frame": 4, "window_center": 40}],
    }
    for code, picks in refusals.items():
        response = expert.put(url, {"key_images": picks}, format="json")
        assert response.status_code == 400 and response.json()["code"] == code, (code, response.json())
    malformed = expert.put(url, {"key_images": [{"instance": "one"}]}, format="json")
    assert malformed.status_code == 400 and {"code", "detail"} <= malformed.json().keys()
    assert list(ReportKeyImage.objects.values_list("instance_id", "frame")) == [(mine.pk, 2)]


def test_only_the_assigned_expert_marks_key_images_and_only_before_signing(api, people, case, tmp_path):
    # given an imaging report of the expert's
    consultation, study = case()
    instance = Instance.objects.get(series__study=study)
    expert = api(people["expert"])
    report_id = _start(expert, consultation, study)
    url = f"/api/reports/{report_id}/key-images/"
    body = {"key_images": [{"instance": instance.pk, "frame": 2}]}
    # when the requesting doctor tries to mark one, they are refused (they may still read the choice)
    doctor = api(people["village_doctor"])
    assert doctor.put(url, body, format="json").status_code in (403, 404)
    assert doctor.get(url).status_code == 200
    # and after signing, the expert is told to amend first
    _sign_and_render(expert, report_id, tmp_path)
    signed = expert.put(url, body, format="json")
    assert signed.status_code == 409 and signed.json()["code"] == "signed"
    assert not ReportKeyImage.objects.exists()


def _render(expert, report_id, number, directory: Path) -> list[np.ndarray]:
    """Render version `number` now (as a backlogged render task would, after later changes) and return the
    64x64 key images its PDF embeds."""
    version = ReportVersion.objects.get(report_id=report_id, number=number)
    assert version_render_pdf(version_id=version.pk) is True
    pdf = expert.get(f"/api/reports/{report_id}/versions/{number}/pdf/")
    assert pdf.status_code == 200
    directory.mkdir()
    path = directory / "report.pdf"
    path.write_bytes(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content)
    return [image for image in _pdf_images(path) if image.shape == (64, 64)]


def test_a_signed_versions_pdf_draws_the_key_images_chosen_when_it_was_signed_not_an_amendments(
        api, people, case, tmp_path):
    # given an imaging report signed as v1 with frame 7 as its key image, whose PDF has not been rendered yet
    # (the render task runs after the commit: a worker backlog, or a failed render the sweeper restarts)
    consultation, study = case()
    instance = Instance.objects.get(series__study=study)
    expert = api(people["expert"])
    report_id = _start(expert, consultation, study)
    url = f"/api/reports/{report_id}/key-images/"
    assert expert.put(url, {"key_images": [{"instance": instance.pk, "frame": 7}]}, format="json").status_code == 200
    assert expert.put(f"/api/reports/{report_id}/draft/", {"content": fill("imaging")},
                      format="json").status_code == 200
    assert expert.post(f"/api/reports/{report_id}/sign/").status_code == 201
    assert not ReportVersion.objects.get(report_id=report_id, number=1).pdf
    # when the expert amends it, chooses frame 3 instead during the amendment draft and signs v2
    assert expert.put(url, {"key_images": [{"instance": instance.pk, "frame": 8}]},
                      format="json").json()["code"] == "signed"
    assert expert.post(f"/api/reports/{report_id}/amend/", {"reason": "换关键图像"}, format="json").status_code == 200
    assert expert.put(url, {"key_images": [{"instance": instance.pk, "frame": 3}]}, format="json").status_code == 200
    assert expert.put(f"/api/reports/{report_id}/draft/", {"content": fill("imaging")},
                      format="json").status_code == 200
    assert expert.post(f"/api/reports/{report_id}/sign/").status_code == 201
    # and only then v1's render runs, then v2's
    v1 = _render(expert, report_id, 1, tmp_path / "v1")
    v2 = _render(expert, report_id, 2, tmp_path / "v2")
    # then v1's PDF draws frame 7, the choice signed with it, and v2's frame 3
    frame_7, frame_3 = _frame(instance, 7), _frame(instance, 3)
    assert not np.array_equal(frame_7, frame_3)
    assert len(v1) == 1 and np.array_equal(v1[0], frame_7)
    assert len(v2) == 1 and np.array_equal(v2[0], frame_3)
    # and the report's current choice (what the key-images page shows) is v2's
    assert [(k["instance"], k["frame"]) for k in expert.get(url).json()] == [(instance.pk, 3)]


def test_the_migration_gives_a_signed_reports_latest_version_its_key_images(api, people, case):
    # given a report signed with frame 5 marked, from before signed versions kept their own choice (no rows)
    from importlib import import_module

    from django.apps import apps

    from studies.models import SignedKeyImage
    consultation, study = case()
    instance = Instance.objects.get(series__study=study)
    expert = api(people["expert"])
    report_id = _start(expert, consultation, study)
    assert expert.put(f"/api/reports/{report_id}/key-images/", {"key_images": [{"instance": instance.pk, "frame": 5}]},
                      format="json").status_code == 200
    assert expert.put(f"/api/reports/{report_id}/draft/", {"content": fill("imaging")},
                      format="json").status_code == 200
    assert expert.post(f"/api/reports/{report_id}/sign/").status_code == 201
    SignedKeyImage.objects.all().delete()
    # when the migration's data step runs
    import_module("studies.migrations.0006_signed_key_images").freeze_signed(apps, None)
    # then v1 has the report's choice as its own
    assert list(SignedKeyImage.objects.values_list("version__number", "instance_id", "frame")) == [(1, instance.pk, 5)]
