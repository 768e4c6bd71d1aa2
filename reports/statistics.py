"""Figures for coordinators: turnaround per urgency and expert, and quality-control agreement per expert.

Reads over the coordinator's community only (access.orgs_in_reach); aggregates, no patient rows.
"""
import datetime as dt
import statistics
from collections import defaultdict

from django.db.models import Count, Q
from django.utils import timezone

from consult.models import Consultation

from directory.access import orgs_in_reach
from directory.models import User
from teleclinic.errors import InvalidInput, NotPermitted

from .models import QualitySample, Report

STEPS = ("assignment", "first_open", "signature", "acknowledgement")


def turnaround(*, user: User, days: int = 30) -> dict:
    """Minutes from request to assignment, first open (report started), signature, acknowledgement."""
    _require_coordinator(user)
    if not 1 <= days <= 366:
        raise InvalidInput("days must be between 1 and 366.")
    since = timezone.now() - dt.timedelta(days=days)
    reports = (Report.objects.filter(consultation__created_at__gte=since, **_org_filter(user, "consultation__"))
               .select_related("consultation", "consultation__assigned_expert__user")
               .prefetch_related("versions__delivery"))
    by_urgency: dict = defaultdict(lambda: defaultdict(list))
    by_expert: dict = defaultdict(lambda: defaultdict(list))
    for report in reports:
        consultation = report.consultation
        first = next((v for v in report.versions.all() if v.number == 1), None)
        moments = {"assignment": consultation.assigned_at, "first_open": report.created_at,
                   "signature": first.signed_at if first else None,
                   "acknowledgement": getattr(getattr(first, "delivery", None), "acknowledged_at", None)}
        expert = str(consultation.assigned_expert.user) if consultation.assigned_expert else "—"
        for step, moment in moments.items():
            if moment is not None:
                minutes = (moment - consultation.created_at).total_seconds() / 60
                by_urgency[consultation.urgency][step].append(minutes)
                by_expert[expert][step].append(minutes)
    return {"days": days, "unit": "minutes from request", "by_urgency": _summaries(by_urgency),
            "by_expert": _summaries(by_expert), "by_clinic": volumes_by_clinic(user=user, since=since)}


def volumes_by_clinic(*, user: User, since: dt.datetime) -> dict:
    """Consultations requested since `since` per requesting clinic (by name), and how many of them
    have a signed report (reported or closed)."""
    done = Q(state__in=[Consultation.State.REPORTED, Consultation.State.CLOSED])
    rows = (Consultation.objects.filter(created_at__gte=since, **_org_filter(user, ""))
            .values("requesting_org__name").annotate(requested=Count("pk"), reported=Count("pk", filter=done))
            .order_by("-requested", "requesting_org__name"))
    return {row["requesting_org__name"]: {"requested": row["requested"], "reported": row["reported"]} for row in rows}


def quality_figures(*, user: User) -> list[dict]:
    """Per signing expert: how many of their versions were second-read, and with what agreement."""
    _require_coordinator(user)
    counts: dict = defaultdict(lambda: {"sampled": 0, "read": 0, "agree": 0, "minor": 0, "major": 0})
    rows = QualitySample.objects.filter(**_org_filter(user, "version__report__consultation__")).select_related(
        "version__signed_by")
    for sample in rows:
        figures = counts[sample.version.signed_by_id]
        figures["expert"] = str(sample.version.signed_by)
        figures["sampled"] += 1
        if sample.read_at:
            figures["read"] += 1
            figures[sample.agreement] += 1
    out = []
    for expert_id, figures in sorted(counts.items()):
        figures["agreement_rate"] = round(figures["agree"] / figures["read"], 3) if figures["read"] else None
        out.append({"expert_id": expert_id, **figures})
    return out


def _summaries(groups: dict) -> dict:
    return {key: {step: _summary(values.get(step, [])) for step in STEPS} for key, values in sorted(groups.items())}


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "p90": None}
    ordered = sorted(values)
    return {"n": len(values), "median": round(statistics.median(ordered), 1),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * (len(ordered) - 1) + 0.5))], 1)}


def _org_filter(user: User, prefix: str) -> dict:
    orgs = orgs_in_reach(user)
    return {} if orgs is None else {f"{prefix}requesting_org_id__in": orgs}


def _require_coordinator(user: User) -> None:
    if user.role not in (User.Role.COORDINATOR, User.Role.ADMIN) and not user.is_superuser:
        raise NotPermitted("Turnaround and quality figures are for coordinators.")
