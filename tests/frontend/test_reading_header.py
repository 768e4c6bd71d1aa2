"""The reading page's header follows the case as the expert works on it (real reports back end): starting,
signing and amending the report change the consultation's and the report's state shown there, without a reload."""
import pytest
from django.utils import timezone

from tests.e2e.conftest import login, screenshot, sign_report, start_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _header(page, state: str, report: str) -> str:
    """Wait until the header shows the consultation's and the report's state; returns its text."""
    page.wait_for_selector(f"#case[data-state={state}][data-report-state={report}]")
    return page.inner_text("#case")


def test_reading_page_header_follows_signing_and_amending_without_a_reload(people, cardiology, patient_factory,
                                                                           consultation_factory, open_page):
    from consult.models import Consultation

    # given a consultation assigned to the expert, no report yet
    doctor, expert = people["village_doctor"], people["expert"]
    consultation = consultation_factory(
        patient=patient_factory(name="周文华", home_clinic=doctor.organisation), requested_by=doctor,
        requesting_org=doctor.organisation, specialty=cardiology, urgency="urgent", reason="胸痛半天",
        assigned_expert=expert.expert, state="assigned", assigned_at=timezone.now())
    page = open_page("expert-reading")
    login(page, expert.username, next=f"/read/{consultation.id}/")
    page.wait_for_selector("body[data-ready=true]")
    assert "已接诊" in _header(page, "assigned", "none")
    page.evaluate("window.__sameDocument = true")

    # when the expert starts the consultation report: the case is in progress, the report a draft
    start_report(page, "consultation")
    assert "草稿" in _header(page, "in_progress", "draft")

    # when they write and sign it: reported, version 1 signed
    sign_report(page, assessment="稳定型心绞痛可能。", plan="完善运动负荷试验。")
    text = _header(page, "reported", "signed")
    assert "已出报告" in text and "已签发" in text and "版本 1" in text
    assert Consultation.objects.get(pk=consultation.pk).state == "reported"
    screenshot(page, "signed")

    # when they start an amendment with a reason: the header says the report is being amended
    page.click("#report .report-actions button:has-text('修订')")
    page.fill("#report textarea[name=amend_reason]", "补充用药建议")
    page.click("#report .report-actions button:has-text('开始修订')")
    assert "更正中" in _header(page, "reported", "amending")

    # when they change the plan and sign the amendment: version 2 signed
    sign_report(page, plan="完善运动负荷试验，加用阿司匹林。")
    assert "版本 2" in _header(page, "reported", "signed")
    # then all of it happened on the page as it was opened (no reload)
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "amended")
