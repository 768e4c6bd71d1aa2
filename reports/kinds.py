"""Report templates by kind: the structured fields, their labels, and the ECG prefill."""
from dataclasses import dataclass

from teleclinic.errors import InvalidInput


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str = "text"  # text | number | bool
    required_to_sign: bool = False
    unit: str = ""


CRITICAL = FieldSpec("critical", "危急值 critical", "bool")

TEMPLATES: dict[str, tuple[FieldSpec, ...]] = {
    "ecg": (
        FieldSpec("rhythm", "节律 Rhythm"),
        FieldSpec("rate_bpm", "心率 Rate", "number", unit="bpm"),
        FieldSpec("pr_ms", "PR", "number", unit="ms"),
        FieldSpec("qrs_ms", "QRS", "number", unit="ms"),
        FieldSpec("qt_ms", "QT", "number", unit="ms"),
        FieldSpec("qtc_ms", "QTc", "number", unit="ms"),
        FieldSpec("axis_deg", "电轴 Axis", "number", unit="°"),
        FieldSpec("findings", "所见 Findings"),
        FieldSpec("conclusion", "结论 Conclusion", required_to_sign=True),
        FieldSpec("recommendation", "建议 Recommendation"),
        CRITICAL,
    ),
    "imaging": (
        FieldSpec("technique", "检查技术 Technique"),
        FieldSpec("findings", "所见 Findings"),
        FieldSpec("impression", "印象 Impression", required_to_sign=True),
        CRITICAL,
    ),
    "consultation": (
        FieldSpec("history_summary", "病史摘要 History summary"),
        FieldSpec("assessment", "评估 Assessment", required_to_sign=True),
        FieldSpec("plan", "处理计划 Plan"),
        FieldSpec("referral_advice", "转诊建议 Referral advice"),
        CRITICAL,
    ),
}
MEASURED_ECG_FIELDS = ("rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "axis_deg")
# Keys a measurement source may use (studies/formats names them *_ms, heart_rate_bpm, qrs_axis_deg).
MEASUREMENT_ALIASES = {"rate_bpm": ("heart_rate_bpm", "rate_bpm", "hr"), "pr_ms": ("pr_ms",),
                       "qrs_ms": ("qrs_ms",), "qt_ms": ("qt_ms",), "qtc_ms": ("qtc_ms",),
                       "axis_deg": ("qrs_axis_deg", "axis_deg")}
MAX_TEXT = 8000


COMPUTED_PREFIX = "计算机初步判读，待确认 (computed, to be confirmed): "


def ecg_template_prefill(measurements: dict, statements: list[str] = ()) -> dict:
    """An empty ECG draft with rate, PR, QRS, QT, QTc and axis taken from the measurements, the
    rhythm and findings from the computed preliminary statements (rhythm first), labelled computed."""
    draft = empty_draft("ecg")
    for field, aliases in MEASUREMENT_ALIASES.items():
        for key in aliases:
            value = measurements.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                draft[field] = round(float(value))
                break
    lines = [s.strip() for s in statements if isinstance(s, str) and s.strip()]
    if lines:
        draft["rhythm"] = lines[0]
        draft["findings"] = COMPUTED_PREFIX + "; ".join(lines)
    return draft


def empty_draft(kind: str) -> dict:
    return {spec.name: (False if spec.type == "bool" else None if spec.type == "number" else "")
            for spec in TEMPLATES[kind]}


def clean_content(kind: str, content: dict) -> dict:
    """The draft content checked against the kind's fields: unknown fields and wrong types refused."""
    specs = {spec.name: spec for spec in TEMPLATES[kind]}
    unknown = sorted(set(content) - set(specs))
    if unknown:
        raise InvalidInput(f"Unknown field(s) for a {kind} report: {', '.join(unknown)}.", code="unknown_field")
    cleaned = empty_draft(kind)
    for name, value in content.items():
        spec = specs[name]
        if spec.type == "text" and not (isinstance(value, str) and len(value) <= MAX_TEXT):
            raise InvalidInput(f"'{name}' must be text of at most {MAX_TEXT} characters.", code="text_too_long",
                               extra={"field": name})
        if spec.type == "number" and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidInput(f"'{name}' must be a number or null.", code="not_a_number", extra={"field": name})
        if spec.type == "bool" and not isinstance(value, bool):
            raise InvalidInput(f"'{name}' must be true or false.", code="not_a_boolean", extra={"field": name})
        cleaned[name] = value
    return cleaned


def missing_to_sign(kind: str, content: dict) -> list[str]:
    return [spec.name for spec in TEMPLATES[kind] if spec.required_to_sign and not str(content.get(spec.name) or "").strip()]


def templates_description() -> dict:
    return {kind: [{"name": s.name, "label": s.label, "type": s.type, "unit": s.unit,
                    "required_to_sign": s.required_to_sign} for s in specs] for kind, specs in TEMPLATES.items()}
