"""Test-only JSON in the shapes of the APIs other branches are building (scheduling, studies,
reports), served to the browser by Playwright's request routing, never by production code.

Each payload follows the endpoint comments in frontend/static/frontend/js/endpoints.js; when the
real endpoints land, the journey tests use them instead and these fixtures go.
"""
import base64
import datetime as dt
import json
import re

import numpy as np

from directory.models import Patient


class Recorder:
    """Requests the page made to routed endpoints: [(method, url, json body or None)]."""

    def __init__(self):
        self.calls: list[tuple[str, str, object]] = []

    def of(self, method: str, fragment: str) -> list:
        return [body for m, url, body in self.calls if m == method and fragment in url]


def serve_json(page, pattern: str, payload, *, status: int = 200, recorder: Recorder | None = None) -> None:
    """Answer requests whose path matches the regex `pattern` with `payload` (a value, or a function of
    (method, body) returning one)."""

    def handle(route):
        request = route.request
        body = None
        if request.post_data:
            try:
                body = json.loads(request.post_data)
            except ValueError:
                body = request.post_data
        if recorder is not None:
            recorder.calls.append((request.method, request.url, body))
        value = payload(request.method, body) if callable(payload) else payload
        route.fulfill(status=status, content_type="application/json", body=json.dumps(value))

    page.route(re.compile(r"^https?://[^/]+" + pattern + r"(\?.*)?$"), handle)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def ecg_from_pydicom_waveform() -> tuple[dict, dict]:
    """pydicom's bundled 12-lead ECG (waveform_ecg.dcm) as the viewer's JSON (studies/formats/ecg/serve.py)
    and its record (device measurements from the file's annotations)."""
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    group = ds.WaveformSequence[0]  # ORIGINAL: the 10 s rhythm
    microvolts = ds.waveform_array(0)  # sensitivity applied; the channels' units are uV
    names = [_lead_name(d.ChannelSourceSequence[0].CodeMeaning) for d in group.ChannelDefinitionSequence]
    leads = {name: base64.b64encode(np.clip(np.rint(microvolts[:, i]), -32767, 32767).astype("<i2").tobytes()).decode()
             for i, name in enumerate(names)}
    samples = {"sampling_rate": float(group.SamplingFrequency), "source_sampling_rate": float(group.SamplingFrequency),
               "start_s": 0.0, "n_samples": int(microvolts.shape[0]), "units": "uV", "encoding": "int16-le-base64",
               "overview": False, "leads": leads}
    device = {}
    keys = {"RR Interval": "rr_ms", "PR Interval": "pr_ms", "QRS Duration": "qrs_ms", "QT Interval": "qt_ms",
            "QTc Interval": "qtc_ms", "P Axis": "p_axis_deg", "QRS Axis": "qrs_axis_deg", "T Axis": "t_axis_deg"}
    statements = []
    for item in ds.WaveformAnnotationSequence:
        if item.get("UnformattedTextValue"):
            statements.append(str(item.UnformattedTextValue))
        elif item.get("ConceptNameCodeSequence") and item.get("NumericValue") is not None:
            key = keys.get(item.ConceptNameCodeSequence[0].CodeMeaning)
            if key and key not in device:
                device[key] = float(item.NumericValue)
    record = {"id": 1, "device_measurements": device, "device_statements": statements,
              "computed_measurements": {"lead": "II", "beats": 10, "heart_rate_bpm": 61.2, "rr_mean_ms": 980.0,
                                        "pr_ms": 158.0, "qrs_ms": 82.0, "qt_ms": 372.0, "qtc_ms": 375.8}}
    return samples, record


def _lead_name(meaning: str) -> str:
    name = meaning.replace("Lead", "").split("(")[0].strip()
    return {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}.get(name.upper(), name)


def report_payload(*, report_id: int = 7, state: str = "draft") -> dict:
    return {
        "report": {"id": report_id, "version": 1, "state": state, "content": {"findings": "", "conclusion": ""},
                   "signed_at": None, "signed_by_name": ""},
        "template": {"name": "心电图报告", "fields": [
            {"key": "rhythm", "label": "节律", "type": "choice", "choices": ["窦性心律", "心房颤动", "其他"]},
            {"key": "findings", "label": "所见", "type": "textarea", "required": True},
            {"key": "conclusion", "label": "结论", "type": "textarea", "required": True}]},
    }


def incoming_reports(patient: Patient, *, acknowledged: bool = False) -> list[dict]:
    now = dt.datetime.now(dt.timezone.utc)
    return [{"id": 31, "consultation": 1, "patient_name": patient.name, "title": "心电图报告", "critical": False,
             "signed_at": iso(now - dt.timedelta(minutes=20)), "signed_by_name": "李主任", "read_at": None,
             "acknowledged_at": iso(now) if acknowledged else None}]


def referrals(patient: Patient) -> list[dict]:
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    return [{"id": 4, "direction": "up", "patient_name": patient.name, "target_name": "县人民医院 心血管内科",
             "slot_starts_at": iso(soon), "state": "booked", "state_display": "已预约绿色通道",
             "follow_up_plan": "", "tasks": []},
            {"id": 5, "direction": "down", "patient_name": patient.name, "target_name": "东风村卫生室",
             "slot_starts_at": None, "state": "returned", "state_display": "已下转",
             "follow_up_plan": "每周测血压一次，一个月后复查心电图。",
             "tasks": [{"due_date": (soon + dt.timedelta(days=7)).date().isoformat(), "text": "测血压", "done": False}]}]
