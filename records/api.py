"""REST API of the patient record (mounted under /api/records/)."""
import datetime as dt

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from directory.access import is_admin
from directory.models import User
from studies.formats.ecg.serial import Side, measurement_changes, statement_changes
from teleclinic.api import Pagination, PAGE_PARAMETERS, StrictSerializer, date_in_range, paginated, validated
from teleclinic.errors import InvalidInput, NotPermitted

from . import selectors, services
from .models import AttachedStudy, BreakGlassGrant


class RecordPatientOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    sex = serializers.CharField()
    birth_date = serializers.DateField()
    id_number_masked = serializers.CharField(help_text="the resident ID, masked")
    health_record_no = serializers.CharField()
    home_clinic = serializers.CharField(source="home_clinic.name")


def _name(user) -> str | None:
    return str(user) if user is not None else None


def _conclusion(content) -> str:
    """The report's one-line summary: an ECG's conclusion, an imaging impression, a consultation's assessment."""
    if not isinstance(content, dict):
        return ""
    return str(content.get("conclusion") or content.get("impression") or content.get("assessment") or "")[:300]


def item_out(item: selectors.Item) -> dict:
    """One row of the timeline: {kind, id, at, consultation, ...the kind's own fields}."""
    o = item.obj
    row = {"kind": item.kind, "id": o.pk, "at": item.at.isoformat(), "consultation": getattr(o, "consultation_id", None)}
    if item.kind == "consultation":
        row.update(consultation=o.pk, state=o.state, urgency=o.urgency, mode=o.mode, reason=o.reason,
                   specialty=o.specialty.code, specialty_name=o.specialty.name, requesting_org=o.requesting_org.name,
                   expert=_name(o.assigned_expert.user) if o.assigned_expert_id else None)
    elif item.kind == "ecg":
        row.update(source_format=o.source_format, duration_s=round(o.duration_s, 1),
                   critical=bool(o.critical_findings), leads=len(o.lead_names))
    elif item.kind == "imaging":
        row.update(study_instance_uid=o.study_instance_uid, description=o.description,
                   study_date=o.study_date.isoformat() if o.study_date else None, modalities=o.modalities)
    elif item.kind == "photo":
        row.update(media_type=o.media_type)
    elif item.kind == "report":
        report = o.report
        row.update(consultation=report.consultation_id, report=report.pk, number=o.number, report_kind=report.kind,
                   critical=o.critical, amendment_reason=o.amendment_reason, signed_by=_name(o.signed_by),
                   conclusion=_conclusion(o.content),
                   latest=o.number == report.latest_version)
    elif item.kind == "referral":
        row.update(direction=o.direction, state=o.state, from_org=o.from_org.name, to_org=o.to_org.name,
                   reason=o.reason)
    elif item.kind == "followup":
        row.update(consultation=None, referral=o.referral_id, title=o.title, state=o.state,
                   due_on=o.due_on.isoformat())
    return row


class TimelineItemOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=selectors.KINDS)
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    consultation = serializers.IntegerField(allow_null=True)


class TimelineOut(serializers.Serializer):
    patient = RecordPatientOut()
    results = TimelineItemOut(many=True, help_text="newest first; each kind adds its own fields")
    next_cursor = serializers.CharField(allow_null=True, help_text="pass as ?cursor= for the next page; null at the end")


def _date(request, name: str) -> dt.date | None:
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    try:
        return date_in_range(dt.date.fromisoformat(raw), name)
    except ValueError:
        raise InvalidInput(f"{name}: a date as YYYY-MM-DD.", code="bad_date")


def _limit(request) -> int:
    raw = request.query_params.get("limit", "")
    if not raw:
        return selectors.DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= selectors.MAX_LIMIT:
        raise InvalidInput(f"limit: a whole number from 1 to {selectors.MAX_LIMIT}.", code="bad_page")
    return int(raw)


def _kinds(raw: str, allowed) -> list[str] | None:
    if not raw:
        return None
    kinds = [k for k in raw.split(",") if k]
    unknown = sorted(set(kinds) - set(allowed))
    if unknown:
        raise InvalidInput(f"kind: one or more of {', '.join(allowed)} (not {', '.join(unknown)}).", code="bad_kind")
    return kinds


class TimelineView(APIView):
    @extend_schema(parameters=[OpenApiParameter("kind", str, description="comma-separated: " + ", ".join(selectors.KINDS)),
                               OpenApiParameter("from", dt.date), OpenApiParameter("to", dt.date),
                               OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
                   responses=TimelineOut, operation_id="records_timeline")
    def get(self, request, patient_id: int):
        kinds = _kinds(request.query_params.get("kind", ""), selectors.KINDS)
        date_from, date_to = _date(request, "from"), _date(request, "to")
        raw_cursor = request.query_params.get("cursor", "")
        cursor = selectors.Cursor.decode(raw_cursor) if raw_cursor else None
        limit = _limit(request)
        patient = selectors.record_patient(user=request.user, patient_id=patient_id, request=request, audit=False)
        page, following = selectors.timeline(patient=patient, kinds=kinds, date_from=date_from, date_to=date_to,
                                             cursor=cursor, limit=limit)
        selectors.audit_timeline_page(user=request.user, patient=patient, page=page, request=request)
        return Response({"patient": RecordPatientOut(patient).data, "results": [item_out(i) for i in page],
                         "next_cursor": following.encode() if following else None})


class BreakGlassIn(StrictSerializer):
    reason = serializers.CharField(max_length=services.REASON_MAX, allow_blank=True)


class BreakGlassOut(serializers.ModelSerializer):
    user_name = serializers.CharField(source="user", read_only=True)
    patient_name = serializers.CharField(source="patient.name", read_only=True)

    class Meta:
        model = BreakGlassGrant
        fields = ["id", "user", "user_name", "patient", "patient_name", "reason", "created_at", "expires_at"]


class BreakGlassView(APIView):
    @extend_schema(request=BreakGlassIn, responses={201: BreakGlassOut}, operation_id="records_break_glass")
    def post(self, request, patient_id: int):
        data = validated(BreakGlassIn, request.data)
        grant = services.break_glass(by=request.user, patient_id=patient_id, reason=data["reason"], request=request)
        return Response(BreakGlassOut(grant).data, status=status.HTTP_201_CREATED)


class BreakGlassListView(APIView):
    """Coordinators: the break-glass reads of their community, newest first (admins: all)."""

    @extend_schema(parameters=PAGE_PARAMETERS, responses=paginated(BreakGlassOut), operation_id="records_break_glass_list")
    def get(self, request):
        user = request.user
        rows = BreakGlassGrant.objects.select_related("user", "patient").order_by("-created_at", "-id")
        if not is_admin(user):
            if user.role != User.Role.COORDINATOR or user.organisation_id is None:
                raise NotPermitted("Only coordinators see the break-glass reads.")
            rows = rows.filter(patient__home_clinic__community_id=user.organisation.community_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        selectors.audit_grants_listed(user=user, grants=page, request=request)
        return paginator.get_paginated_response(BreakGlassOut(page, many=True).data)


class StudyOut(serializers.Serializer):
    kind = serializers.CharField(help_text="ecg or imaging")
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    consultation = serializers.IntegerField(allow_null=True, help_text="the consultation it was taken for")
    study_instance_uid = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    attached = serializers.IntegerField(required=False, help_text="the attachment's id (attached studies)")


def study_out(row, attached: AttachedStudy | None = None) -> dict:
    kind = "ecg" if row.__class__.__name__ == "EcgRecord" else "imaging"
    out = {"kind": kind, "id": row.pk, "at": row.created_at.isoformat(), "consultation": row.consultation_id}
    if kind == "imaging":
        out.update(study_instance_uid=row.study_instance_uid, description=row.description)
    if attached is not None:
        out.update(attached=attached.pk, attached_at=attached.attached_at.isoformat())
    return out


class PriorsOut(serializers.Serializer):
    patient = serializers.IntegerField()
    attached = StudyOut(many=True)
    priors = StudyOut(many=True)


class PriorsView(APIView):
    @extend_schema(responses=PriorsOut, operation_id="records_priors")
    def get(self, request, consultation_id: int):
        consultation, rows, attached = selectors.priors(user=request.user, consultation_id=consultation_id,
                                                        request=request)
        return Response({"patient": consultation.patient_id, "priors": [study_out(r) for r in rows],
                         "attached": [study_out(a.ecg or a.imaging_study, a) for a in attached]})


class SerialEcgOut(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    consultation = serializers.IntegerField(allow_null=True)
    sampling_rate = serializers.FloatField()
    leads = serializers.ListField(child=serializers.CharField())
    samples_url = serializers.CharField(help_text="the samples for the viewer, at full resolution")


class MeasurementChangeOut(serializers.Serializer):
    key = serializers.CharField(help_text="heart_rate_bpm, pr_ms, qrs_ms, qtc_ms, qrs_axis_deg")
    label = serializers.CharField()
    unit = serializers.CharField()
    current = serializers.FloatField(allow_null=True)
    prior = serializers.FloatField(allow_null=True)
    change = serializers.FloatField(allow_null=True, help_text="current - prior (an axis: the shorter turn)")
    source = serializers.CharField(help_text="computed or device on both sides, or mixed")
    withheld = serializers.DictField(child=serializers.CharField(), help_text="side -> why it does not apply")


class StatementChangesOut(serializers.Serializer):
    new = serializers.ListField(child=serializers.DictField())
    gone = serializers.ListField(child=serializers.DictField())
    unchanged = serializers.ListField(child=serializers.DictField())
    device_new = serializers.ListField(child=serializers.CharField())
    device_gone = serializers.ListField(child=serializers.CharField())


class SerialComparisonOut(serializers.Serializer):
    current = SerialEcgOut()
    prior = SerialEcgOut(allow_null=True, help_text="the patient's most recent earlier ECG the caller may see")
    measurements = MeasurementChangeOut(many=True)
    statements = StatementChangesOut(allow_null=True)


def serial_ecg_out(ecg) -> dict:
    return {"id": ecg.pk, "at": ecg.created_at.isoformat(), "consultation": ecg.consultation_id,
            "sampling_rate": ecg.sampling_rate, "leads": ecg.lead_names, "samples_url": f"/api/ecgs/{ecg.pk}/samples/"}


def _side(ecg) -> Side:
    return Side(computed=ecg.computed_measurements or {}, device=ecg.device_measurements or {},
                statements=ecg.computed_statements or [], device_statements=ecg.device_statements or [])


class SerialComparisonView(APIView):
    """The ECG beside the patient's previous one: the differences in rate, PR, QRS, QTc and axis, and the
    statements new and gone. `prior` is null when there is no earlier ECG in the caller's reach."""

    @extend_schema(responses=SerialComparisonOut, operation_id="records_ecg_comparison")
    def get(self, request, ecg_id: int):
        current, prior = selectors.previous_ecg(user=request.user, ecg_id=ecg_id, request=request)
        if prior is None:
            return Response({"current": serial_ecg_out(current), "prior": None, "measurements": [],
                             "statements": None})
        return Response({"current": serial_ecg_out(current), "prior": serial_ecg_out(prior),
                         "measurements": measurement_changes(_side(current), _side(prior)),
                         "statements": statement_changes(_side(current), _side(prior))})


class RecognisedOut(serializers.Serializer):
    patient = serializers.IntegerField()
    kinds = serializers.ListField(child=serializers.CharField())
    days = serializers.IntegerField()
    studies = StudyOut(many=True)


class AttachIn(StrictSerializer):
    study = serializers.CharField(max_length=40, help_text='"ecg:<id>" or "imaging:<id>"')


class RecognisedView(APIView):
    @extend_schema(parameters=[OpenApiParameter("kind", str, description="ecg, imaging (default: by specialty)")],
                   responses=RecognisedOut, operation_id="records_recognised")
    def get(self, request, consultation_id: int):
        from django.conf import settings

        kinds = _kinds(request.query_params.get("kind", ""), selectors.STUDY_KINDS)
        consultation, rows = selectors.recognised(user=request.user, consultation_id=consultation_id, kinds=kinds,
                                                  request=request)
        return Response({"patient": consultation.patient_id, "days": settings.RECORD_RECOGNISE_DAYS,
                         "kinds": kinds or list(selectors.SPECIALTY_STUDY_KINDS.get(consultation.specialty.code,
                                                                                    selectors.STUDY_KINDS)),
                         "studies": [study_out(r) for r in rows]})

    @extend_schema(request=AttachIn, responses={201: StudyOut}, operation_id="records_attach")
    def post(self, request, consultation_id: int):
        data = validated(AttachIn, request.data)
        row = services.attach_study(by=request.user, consultation_id=consultation_id, study_ref=data["study"],
                                    request=request)
        return Response(study_out(row.ecg or row.imaging_study, row), status=status.HTTP_201_CREATED)
