"""From a signed version in the database to the plain ReportDocument the PDF module renders."""
import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from .kinds import TEMPLATES
from .models import Report, ReportVersion
from .pdf import ReportDocument

TITLES = {"ecg": "心电图诊断报告 ECG report", "imaging": "影像诊断报告 Imaging report",
          "consultation": "远程会诊意见 Consultation report"}


def verify_url(version: ReportVersion) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("api-report-verify", args=[version.verification_code])


def local_time(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d %H:%M ") + f"(UTC{local.strftime('%z')[:3]}:{local.strftime('%z')[3:]})"


def build_document(version: ReportVersion) -> ReportDocument:
    report: Report = version.report
    consultation = report.consultation
    patient = consultation.patient
    lead = consultation.assigned_expert.user.organisation if consultation.assigned_expert else None
    specs = {spec.name: spec for spec in TEMPLATES[report.kind]}
    content = version.content
    measured = [(specs[name].label, f"{content[name]} {specs[name].unit}".strip())
                for name, spec in specs.items() if spec.type == "number" and content.get(name) is not None]
    sections = [(spec.label, content.get(name) or "") for name, spec in specs.items() if spec.type == "text"]
    signer = version.signed_by
    title = getattr(getattr(signer, "expert", None), "title", "")
    return ReportDocument(
        organisation=lead.name if lead else "远程会诊中心",
        title=TITLES[report.kind],
        patient=[("姓名 Name", patient.name), ("性别 Sex", patient.get_sex_display()),
                 ("出生日期 Born", f"{patient.birth_date:%Y-%m-%d} ({_age(patient.birth_date, version.signed_at)}岁)"),
                 ("健康档案号 Record", patient.health_record_no), ("身份证号 ID", patient.id_number_masked)],
        study=[("申请机构 Clinic", consultation.requesting_org.name), ("申请医生 Doctor", str(consultation.requested_by)),
               ("会诊编号 Case", f"#{consultation.pk}"), ("检查 Study", report.study_ref or "—"),
               ("紧急程度 Urgency", consultation.get_urgency_display()),
               ("申请时间 Requested", local_time(consultation.created_at))],
        measurements=measured,
        sections=sections,
        signer=f"{signer} {title}".strip(),
        signed_at=local_time(version.signed_at),
        version=version.number,
        verification_code=version.verification_code,
        verify_url=verify_url(version),
        critical=version.critical,
        amendment_reason=version.amendment_reason,
    )


def _age(born: dt.date, at: dt.datetime) -> int:
    day = timezone.localtime(at).date()
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
