"""The preliminary statements of a rhythm analysis (rhythm.py): codes, their Chinese and English
text, and the rules that turn a `RhythmAnalysis` and the QTc into statements, rhythm first."""
from dataclasses import dataclass, field

from .rhythm import PAC, PVC, Rhythm, RhythmAnalysis

PAUSE_MS = 2000.0
PROLONGED_QTC_MS = {"M": 450.0, "F": 460.0}  # by sex (Patient.Sex codes); others, unknown: the higher
PROLONGED_QTC_OTHERWISE_MS = 460.0
FIRST_DEGREE_PR_MS = 200.0
FREQUENT_FRACTION = 0.10


# code -> (Chinese, English); "{n}", "{ms}", "{s}", "{deg}" filled from the statement's values
STATEMENT_TEXT = {
    Rhythm.SINUS: ("窦性心律", "Sinus rhythm"),
    Rhythm.SINUS_BRADY: ("窦性心动过缓", "Sinus bradycardia"),
    Rhythm.SINUS_TACHY: ("窦性心动过速", "Sinus tachycardia"),
    Rhythm.AF: ("心房颤动", "Atrial fibrillation"),
    "af_rvr": ("心房颤动伴快速心室率", "Atrial fibrillation with rapid ventricular response"),
    Rhythm.FLUTTER: ("心房扑动", "Atrial flutter"),
    "atrial_flutter_2to1": ("心房扑动（2:1下传）", "Atrial flutter with 2:1 conduction"),
    Rhythm.COMPLETE_AV_BLOCK: ("三度房室传导阻滞", "Complete (third-degree) AV block"),
    Rhythm.UNDETERMINED: ("非窦性心律（未见P波），节律待定", "Non-sinus rhythm without P waves, undetermined"),
    "first_degree_av_block": ("一度房室传导阻滞", "First-degree AV block"),
    "pvc": ("室性早搏 ×{n}", "Premature ventricular complexes ×{n}"),
    "frequent_pvc": ("频发室性早搏 ×{n}", "Frequent premature ventricular complexes ×{n}"),
    "pac": ("房性早搏 ×{n}", "Premature atrial complexes ×{n}"),
    "frequent_pac": ("频发房性早搏 ×{n}", "Frequent premature atrial complexes ×{n}"),
    "vt_run": ("短阵室性心动过速（{n}跳）", "Run of ventricular tachycardia ({n} beats)"),
    "pause": ("长间歇 {s} 秒", "Pause of {s} s"),
    "prolonged_qtc": ("QT间期延长（QTc {ms} ms）", "Prolonged QTc ({ms} ms)"),
    "left_axis_deviation": ("电轴左偏（{deg}°）", "Left axis deviation ({deg}°)"),
    "right_axis_deviation": ("电轴右偏（{deg}°）", "Right axis deviation ({deg}°)"),
    "low_voltage_limb": ("肢体导联低电压", "Low voltage in the limb leads"),
    "low_voltage_precordial": ("胸前导联低电压", "Low voltage in the precordial leads"),
}


@dataclass(frozen=True)
class Statement:
    code: str
    zh: str
    en: str
    values: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"code": self.code, "zh": self.zh, "en": self.en, "values": dict(self.values),
                "source": "computed"}


def statement(code: str, **values) -> Statement:
    zh, en = STATEMENT_TEXT[code]
    return Statement(code=code, zh=zh.format(**values), en=en.format(**values), values=values)


def prolonged_qtc_ms(sex: str = "") -> float:
    """The QTc above which it is stated prolonged, for a patient of `sex` ("M", "F"; anything else: unknown)."""
    return PROLONGED_QTC_MS.get(sex, PROLONGED_QTC_OTHERWISE_MS)


def rhythm_statements(a: RhythmAnalysis, *, qtc_ms: float | None, sex: str = "") -> list[Statement]:
    """The preliminary statements, rhythm first; `qtc_ms` from the interval measurement, judged by `sex`."""
    found = [statement(_rhythm_code(a))]
    found += _ectopy_statements(a)
    if a.longest_rr_ms > PAUSE_MS:
        found.append(statement("pause", s=f"{a.longest_rr_ms / 1000:.1f}"))
    if a.pr_ms is not None and a.pr_ms > FIRST_DEGREE_PR_MS:
        found.append(statement("first_degree_av_block"))
    if qtc_ms is not None and qtc_ms > prolonged_qtc_ms(sex):
        found.append(statement("prolonged_qtc", ms=f"{qtc_ms:.0f}"))
    if a.qrs_axis_deg is not None and -90 <= a.qrs_axis_deg < -30:
        found.append(statement("left_axis_deviation", deg=f"{a.qrs_axis_deg:.0f}"))
    elif a.qrs_axis_deg is not None and 90 < a.qrs_axis_deg <= 180:
        found.append(statement("right_axis_deviation", deg=f"{a.qrs_axis_deg:.0f}"))
    return found + _voltage_statements(a.qrs_peak_to_peak_uv)


def _rhythm_code(a: RhythmAnalysis) -> str:
    if a.rhythm == Rhythm.AF and a.ventricular_rate_bpm > 110:
        return "af_rvr"
    if a.rhythm == Rhythm.FLUTTER and a.atrial_rate_bpm and round(a.atrial_rate_bpm / a.ventricular_rate_bpm) == 2:
        return "atrial_flutter_2to1"
    return a.rhythm


def _ectopy_statements(a: RhythmAnalysis) -> list[Statement]:
    found = []
    counts, beats = a.counts, len(a.labels)
    for label, code in ((PVC, "pvc"), (PAC, "pac")):
        n = counts[label]
        if n:
            found.append(statement(f"frequent_{code}" if n / beats >= FREQUENT_FRACTION else code, n=n))
    if a.longest_vt_run >= 3:
        found.append(statement("vt_run", n=a.longest_vt_run))
    return found


def _voltage_statements(amplitudes: dict[str, float]) -> list[Statement]:
    found = []
    limb = [amplitudes[n] for n in ("I", "II", "III", "aVR", "aVL", "aVF") if n in amplitudes]
    chest = [amplitudes[n] for n in ("V1", "V2", "V3", "V4", "V5", "V6") if n in amplitudes]
    if len(limb) == 6 and max(limb) < 500:
        found.append(statement("low_voltage_limb"))
    if len(chest) == 6 and max(chest) < 1000:
        found.append(statement("low_voltage_precordial"))
    return found
