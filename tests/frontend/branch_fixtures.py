"""Test-only JSON in the shapes of the scheduling, studies and reports APIs, served to the browser by
Playwright's request routing, never by production code (tests/frontend/test_browser.py).

All those endpoints exist: a page behaviour shown only through these payloads is not shown. The
journeys run on the real back ends (tests/frontend/test_pages_on_real_back_ends.py, tests/e2e/);
what is left here sets a page's state directly. FakeTusServer stays: it drops chosen PATCHes, an
edge of a weak link the real server cannot produce.
"""
import base64
import datetime as dt
import json
import re

import numpy as np



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
    record = {"id": 1, "source_format": "dicom", "sampling_rate": samples["sampling_rate"], "leads": names,
              "device_measurements": {"source": "device", "values": device, "statements": statements},
              "computed_measurements": {"source": "computed", "error": None, "values": {
                  "lead": "II", "beats": 10, "heart_rate_bpm": 61.2, "rr_mean_ms": 980.0, "pr_ms": 158.0,
                  "qrs_ms": 82.0, "qt_ms": 372.0, "qtc_ms": 375.8}}}
    return samples, record


def _lead_name(meaning: str) -> str:
    name = meaning.replace("Lead", "").split("(")[0].strip()
    return {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}.get(name.upper(), name)


REPORT_TEMPLATES = {  # reports/kinds.py templates_description(), abridged
    "ecg": [{"name": "rhythm", "label": "节律 Rhythm", "type": "text", "unit": "", "required_to_sign": False},
            {"name": "rate_bpm", "label": "心率 Rate", "type": "number", "unit": "bpm", "required_to_sign": False},
            {"name": "pr_ms", "label": "PR", "type": "number", "unit": "ms", "required_to_sign": False},
            {"name": "findings", "label": "所见 Findings", "type": "text", "unit": "", "required_to_sign": False},
            {"name": "conclusion", "label": "结论 Conclusion", "type": "text", "unit": "", "required_to_sign": True},
            {"name": "critical", "label": "危急值 critical", "type": "bool", "unit": "", "required_to_sign": False}],
    "imaging": [{"name": "findings", "label": "所见 Findings", "type": "text", "unit": "", "required_to_sign": False},
                {"name": "impression", "label": "印象 Impression", "type": "text", "unit": "",
                 "required_to_sign": True}],
}


class FakeReports:
    """The reports app's drafting endpoints, faked for one consultation: start, draft (PUT), sign, detail."""

    def __init__(self, page, consultation_id: int):
        self.report = None
        self.puts: list[dict] = []
        serve_json(page, "/api/reports/templates/", REPORT_TEMPLATES)
        serve_json(page, rf"/api/consultations/{consultation_id}/reports/", self.reports)
        serve_json(page, r"/api/reports/\d+/draft/", self.draft)
        serve_json(page, r"/api/reports/\d+/sign/", self.sign)
        serve_json(page, r"/api/reports/\d+/amend/", self.amend)
        serve_json(page, r"/api/reports/\d+/", lambda method, body: self.report)

    def reports(self, method, body):
        if method == "POST":
            draft = {f["name"]: (False if f["type"] == "bool" else None if f["type"] == "number" else "")
                     for f in REPORT_TEMPLATES[body["kind"]]}
            if body["kind"] == "ecg":
                draft.update(rate_bpm=round(body["measurements"].get("heart_rate_bpm", 0)) or None,
                             pr_ms=body["measurements"].get("pr_ms"))
            self.report = {"id": 7, "consultation": 1, "kind": body["kind"], "study_ref": body["study_ref"],
                           "state": "draft", "latest_version": 0, "versions": [], "draft": draft,
                           "draft_reason": "", "created_at": iso(dt.datetime.now(dt.timezone.utc))}
            return self.report
        return [self.report] if self.report else []

    def draft(self, method, body):
        self.puts.append(body)
        self.report["draft"] = {**self.report["draft"], **body["content"]}
        return self.report

    def amend(self, method, body):
        self.report.update(state="amending", draft=dict(self.report["versions"][-1]["content"]),
                           draft_reason=body["reason"])
        return self.report

    def sign(self, method, body):
        number = len(self.report["versions"]) + 1
        version = {"number": number, "content": dict(self.report["draft"]), "signed_at": iso(dt.datetime.now(dt.timezone.utc)),
                   "amendment_reason": self.report.get("draft_reason", ""), "pdf_ready": number == 1}
        self.report.update(state="signed", latest_version=number, versions=[*self.report["versions"], version])
        return version


def pending_deliveries(consultation_id: int, *, critical: bool = False) -> list[dict]:
    """reports' PendingDeliveriesView: DeliveryOut plus report_event()'s ids and flags."""
    now = dt.datetime.now(dt.timezone.utc)
    return [{"id": 31, "state": "delivered", "critical": critical, "created_at": iso(now - dt.timedelta(minutes=20)),
             "delivered_at": iso(now - dt.timedelta(minutes=20)), "acknowledged_at": None, "acknowledged_by": None,
             "escalated_at": None, "type": "report.pending", "delivery": 31, "report": 5, "version": 1,
             "consultation": consultation_id, "kind": "ecg", "amended": False, "amendment_reason": "",
             "pdf": "/api/reports/5/versions/1/pdf/", "signed_at": iso(now - dt.timedelta(minutes=21))}]


def referrals(*, patient_id: int, consultation_id: int, lead_id: int, village_id: int) -> list[dict]:
    """scheduling's ReferralOut: an upward referral with a green-channel slot, a downward one with tasks."""
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    base = {"patient": patient_id, "consultation": consultation_id, "created_by": 1, "reason": "",
            "created_at": iso(soon - dt.timedelta(days=3))}
    return [{**base, "id": 4, "direction": "up", "state": "accepted", "from_org": village_id, "to_org": lead_id,
             "booking": 9, "slot_starts_at": iso(soon), "summary": "", "follow_ups": []},
            {**base, "id": 5, "direction": "down", "state": "sent", "from_org": lead_id, "to_org": village_id,
             "booking": None, "slot_starts_at": None, "summary": "每周测血压一次，一个月后复查心电图。",
             "follow_ups": [{"id": 12, "referral": 5, "patient": patient_id, "organisation": village_id,
                             "title": "测血压", "due_on": (soon + dt.timedelta(days=7)).date().isoformat(),
                             "state": "open", "done_at": None, "note": ""}]}]


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
        elif request.method == "GET":  # the page reads the upload's outcome back once it is sent
            complete = self.length is not None and len(self.data) == self.length
            route.fulfill(status=200, content_type="application/json", headers=headers,
                          body=json.dumps({"id": "upload-1", "state": "received" if complete else "receiving",
                                           "error": None}))
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
    return {"id": 2, "study_instance_uid": "1.2.3.4", "patient": 1, "consultation": 1, "study_date": None,
            "description": "胸部CT", "series": [
                {"series_instance_uid": "1.2.3.4.1", "modality": "CT", "number": 1, "description": "胸部平扫",
                 "instances": [{"id": 100, "sop_instance_uid": "1.2.3.4.1.1", "frames": 5, "rows": 128, "columns": 128,
                                "rendered_url": "/api/instances/100/frames/1/rendered/"}]},
                {"series_instance_uid": "1.2.3.4.2", "modality": "CT", "number": 2, "description": "定位像",
                 "instances": [{"id": 101, "sop_instance_uid": "1.2.3.4.2.1", "frames": 0, "rows": 128, "columns": 128,
                                "rendered_url": "/api/instances/101/frames/1/rendered/"}]}]}


def rendered_ct_frame(frame: int, center: float | None, width: float | None) -> tuple[bytes, float, float]:
    """pydicom's CT_small.dcm windowed like the studies app renders it, as PNG; the frame number
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
