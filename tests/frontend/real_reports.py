"""A signed, rendered and delivered report made by the real reports services (for page tests on the real
back end: the clinic's report list is read from the database, not from test JSON)."""
from consult.models import Consultation
from reports.models import ReportVersion
from reports.services import delivery as delivery_services
from reports.services import drafting

ECG_READING = {"rhythm": "窦性心律", "findings": "II、III、aVF 导联 ST 段抬高", "conclusion": "急性下壁心肌梗死可能",
               "recommendation": "立即转诊", "critical": False}


def deliver_report(consultation: Consultation, *, critical: bool = False) -> ReportVersion:
    """Sign an ECG report of `consultation` as its assigned expert, render its PDF and deliver it."""
    expert = consultation.assigned_expert.user
    report = drafting.report_start(consultation_id=consultation.pk, kind="ecg", by=expert, study_ref=None,
                                   measurements={})
    drafting.draft_save(report_id=report.pk, by=expert, content={**ECG_READING, "critical": critical})
    version = drafting.report_sign(report_id=report.pk, by=expert)
    delivery_services.version_render_pdf(version_id=version.pk)
    delivery_services.delivery_deliver(delivery_id=version.delivery.pk)
    version.refresh_from_db()
    return version
