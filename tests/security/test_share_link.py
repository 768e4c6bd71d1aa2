"""Finding 8 (low): a patient's share link could not be revoked, and its PDF was served without
Cache-Control: no-store (a shared phone's or a proxy's cache could keep it)."""
import pytest

from audit.models import AuditEvent
from reports.services import delivery as delivery_services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_a_share_link_is_served_no_store_and_the_clinic_can_revoke_it(api, people, signed_report):
    # given a rendered report shared with the patient
    version = signed_report()
    delivery_services.version_render_pdf(version_id=version.pk)
    base = f"/api/reports/{version.report_id}/versions/{version.number}/patient-links/"
    created = api(people["village_doctor"]).post(base, {"hours": 2}, format="json").json()
    url = created["url"].replace("http://testserver", "")
    # when the patient opens it, then no cache may keep the PDF
    opened = api().get(url)
    assert opened.status_code == 200 and opened["Cache-Control"] == "no-store"
    # when another clinic's doctor tries to revoke it, then it is not theirs to find
    assert api(people["other_village_doctor"]).delete(f"{base}{created['id']}/").status_code == 404
    assert api().get(url).status_code == 200
    # when the clinic revokes it, then it is gone, and the revocation is audited
    assert api(people["village_doctor"]).delete(f"{base}{created['id']}/").status_code == 204
    assert api().get(url).status_code == 410
    assert AuditEvent.objects.filter(detail__patient_link_revoked=created["id"]).count() == 1
