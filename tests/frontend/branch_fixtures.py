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


class FakeTusServer:
    """A test-only tus 1.0.0 endpoint (creation, HEAD, PATCH) in the browser's request routing, that
    drops the connection on the PATCHes whose numbers are in `drop` (1-based) to imitate a weak link."""

    def __init__(self, page, *, endpoint: str = "/api/uploads/", drop: tuple[int, ...] = ()):
        self.data = bytearray()
        self.length = None
        self.metadata = ""
        self.patches = 0
        self.drop = set(drop)
        self.log: list[str] = []
        page.route(re.compile(r"^https?://[^/]+" + endpoint + r"(upload-1)?$"), self.handle)

    def handle(self, route):
        request = route.request
        headers = {"Tus-Resumable": "1.0.0", "Cache-Control": "no-store"}
        self.log.append(request.method)
        if request.method == "POST":
            self.length = int(request.headers["upload-length"])
            self.metadata = request.headers.get("upload-metadata", "")
            route.fulfill(status=201, headers={**headers, "Location": "/api/uploads/upload-1"})
        elif request.method == "HEAD":
            route.fulfill(status=200, headers={**headers, "Upload-Offset": str(len(self.data)),
                                               "Upload-Length": str(self.length)})
        elif request.method == "PATCH":
            self.patches += 1
            if self.patches in self.drop:
                route.abort("connectionreset")
                return
            assert int(request.headers["upload-offset"]) == len(self.data), "the client resumed at a wrong offset"
            self.data += request.post_data_buffer or b""
            route.fulfill(status=204, headers={**headers, "Upload-Offset": str(len(self.data))})
        else:
            route.fulfill(status=405, headers=headers)

    def metadata_pairs(self) -> dict:
        pairs = {}
        for item in filter(None, self.metadata.split(",")):
            key, _, value = item.partition(" ")
            pairs[key] = base64.b64decode(value).decode() if value else ""
        return pairs


def imaging_study() -> dict:
    """Two series: a 5-frame CT series (pydicom's CT_small.dcm at five windows) and a one-frame one."""
    return {"id": 2, "series": [
        {"id": 10, "modality": "CT", "description": "胸部平扫", "instances": [{"id": 100, "frames": 5}]},
        {"id": 11, "modality": "CT", "description": "定位像", "instances": [{"id": 101, "frames": 1}]}]}


def rendered_ct_frame(frame: int, center: float | None, width: float | None) -> tuple[bytes, float, float]:
    """pydicom's CT_small.dcm windowed like the studies branch renders it, as PNG; the frame number
    shifts the image so that scrolling shows."""
    import io

    import pydicom
    from PIL import Image
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    center = 40.0 if center is None else center
    width = 400.0 if width is None else width
    grey = np.clip((hu - (center - width / 2)) / width * 255, 0, 255).astype(np.uint8)
    grey = np.roll(grey, frame * 6, axis=0)
    out = io.BytesIO()
    Image.fromarray(grey).save(out, format="PNG")
    return out.getvalue(), center, width
