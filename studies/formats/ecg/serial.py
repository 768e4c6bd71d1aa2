"""Serial comparison: what changed between a patient's previous ECG and the current one.

Pure functions of the stored analyses (computed and device measurements, statements), as a hospital
ECG system shows them beside the two tracings: the differences in rate, PR, QRS, QTc and axis, and the
statements that are new or gone. Each measurement is compared from one source on both sides where it
can be (the computed value, the same program on both ECGs; else the devices'), so that a change is not
one device's habit against another's.
"""
from dataclasses import dataclass, field

# key, label, unit: the measurements compared, in the order shown
COMPARED = (("heart_rate_bpm", "Heart rate", "/min"), ("pr_ms", "PR", "ms"), ("qrs_ms", "QRS", "ms"),
            ("qtc_ms", "QTc", "ms"), ("qrs_axis_deg", "QRS axis", "°"))


@dataclass(frozen=True)
class Side:
    """One ECG's stored analysis: `computed` holds its "withheld" reasons; statements as stored
    (computed: [{code, zh, en, ...}], device: [text])."""
    computed: dict
    device: dict
    statements: list = field(default_factory=list)
    device_statements: list = field(default_factory=list)


def _number(values: dict, key: str) -> float | None:
    value = values.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _values(current: Side, prior: Side, key: str) -> tuple[float | None, float | None, str]:
    for source, now_values, then_values in (("computed", current.computed, prior.computed),
                                            ("device", current.device, prior.device)):
        now, then = _number(now_values, key), _number(then_values, key)
        if now is not None and then is not None:
            return now, then, source
    # not both from one source: each side's own value (computed first), said so
    now = _number(current.computed, key) if _number(current.computed, key) is not None else _number(current.device, key)
    then = _number(prior.computed, key) if _number(prior.computed, key) is not None else _number(prior.device, key)
    return now, then, "mixed"


def _change(key: str, now: float | None, then: float | None) -> float | None:
    if now is None or then is None:
        return None
    delta = now - then
    if key.endswith("_deg"):  # an axis turns: -170° to 170° is 20° apart, not 340°
        delta = (delta + 180.0) % 360.0 - 180.0
    return round(delta, 1)


def measurement_changes(current: Side, prior: Side) -> list[dict]:
    """[{key, label, unit, current, prior, change, source, withheld: {current?, prior?}}] for COMPARED."""
    rows = []
    for key, label, unit in COMPARED:
        now, then, source = _values(current, prior, key)
        withheld = {side: reason for side, values in (("current", current.computed), ("prior", prior.computed))
                    if (reason := (values.get("withheld") or {}).get(key))}
        if "current" in withheld:
            now = None
        if "prior" in withheld:
            then = None
        rows.append({"key": key, "label": label, "unit": unit, "current": now, "prior": then,
                     "change": _change(key, now, then), "source": source, "withheld": withheld})
    return rows


def statement_changes(current: Side, prior: Side) -> dict:
    """Computed statements by code: {"new", "gone", "unchanged"} (a statement whose code stays but whose
    values changed, e.g. PVC ×3 then ×7, is unchanged in kind and shown with its current text); device
    statements by their text: {"device_new", "device_gone"}."""
    now = {s.get("code"): s for s in current.statements if isinstance(s, dict)}
    then = {s.get("code"): s for s in prior.statements if isinstance(s, dict)}
    device_now = [s for s in current.device_statements if isinstance(s, str)]
    device_then = [s for s in prior.device_statements if isinstance(s, str)]
    return {"new": [s for code, s in now.items() if code not in then],
            "gone": [s for code, s in then.items() if code not in now],
            "unchanged": [s for code, s in now.items() if code in then],
            "device_new": [s for s in device_now if s not in device_then],
            "device_gone": [s for s in device_then if s not in device_now]}
