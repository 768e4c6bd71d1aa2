"""Render one signed report version as a PDF: plain inputs in, bytes out (no ORM, no Django).

Page 1 (A4 portrait) carries the organisation header, patient and study identification,
measurements, the structured sections, the signer and a verification code with a QR code
leading to the online version. ECG reports add an A4 landscape page with the 12 leads in
the standard 3x4 layout plus a lead II rhythm strip on ECG grid paper (25 mm/s, 10 mm/mV,
1 mm minor and 5 mm major lines); imaging reports add their key images.
"""
import io
from dataclasses import dataclass, field

import numpy as np
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from .fonts import register_cjk_font

PAPER_SPEED_MM_PER_S = 25.0
GAIN_MM_PER_MV = 10.0
LAYOUT_3X4 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
MAX_PLOT_RATE_HZ = 500  # 0.05 mm per sample at 25 mm/s: finer than the printer's dot
RED = (0.78, 0.1, 0.1)


@dataclass
class EcgTrace:
    """A normalised resting ECG: lead name -> samples in microvolts, one sampling rate."""

    leads: dict[str, np.ndarray]
    sampling_rate: float


@dataclass
class ReportDocument:
    """What the report says, already formatted as text for the page."""

    organisation: str
    title: str
    patient: list[tuple[str, str]]
    study: list[tuple[str, str]]
    sections: list[tuple[str, str]]
    signer: str
    signed_at: str
    version: int
    verification_code: str
    verify_url: str
    measurements: list[tuple[str, str]] = field(default_factory=list)
    critical: bool = False
    amendment_reason: str = ""


def render_report_pdf(doc: ReportDocument, *, ecg: EcgTrace | None = None,
                      key_images: list[bytes] | tuple = ()) -> bytes:
    """The PDF bytes of a report; `ecg` adds the trace page, `key_images` (PNG bytes) the image page."""
    font = register_cjk_font()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1, invariant=1, initialFontName=font)
    canvas.setTitle(f"{doc.title} - {doc.verification_code}")
    canvas.setAuthor(doc.signer)
    _summary_page(canvas, font, doc)
    if ecg is not None:
        canvas.showPage()
        canvas.setPageSize(landscape(A4))
        _ecg_page(canvas, font, doc, ecg)
    if key_images:
        canvas.showPage()
        canvas.setPageSize(A4)
        _images_page(canvas, font, doc, list(key_images))
    canvas.showPage()
    canvas.save()
    return out.getvalue()


class _Cursor:
    """A top-down writing position on portrait pages that starts a new page when full."""

    def __init__(self, canvas: Canvas, font: str, doc: ReportDocument):
        self.canvas, self.font, self.doc = canvas, font, doc
        self.left, self.right, self.bottom = 18 * mm, A4[0] - 18 * mm, 22 * mm
        self.y = A4[1] - 18 * mm

    def need(self, height: float) -> None:
        if self.y - height < self.bottom:
            self.canvas.showPage()
            self.canvas.setPageSize(A4)
            self.y = A4[1] - 18 * mm
            self.text(f"{self.doc.organisation}  {self.doc.title}（续）", size=9, color=(0.4, 0.4, 0.4))

    def text(self, value: str, *, size: float = 10, x: float | None = None, color=(0, 0, 0), gap: float = 1.5):
        self.need(size + gap)
        self.canvas.setFillColorRGB(*color)
        self.canvas.setFont(self.font, size)
        self.y -= size + gap
        self.canvas.drawString(self.left if x is None else x, self.y, value)
        self.canvas.setFillColorRGB(0, 0, 0)

    def paragraph(self, value: str, *, size: float = 10, indent: float = 0) -> None:
        width = self.right - self.left - indent
        for line in wrap(value, self.font, size, width):
            self.text(line, size=size, x=self.left + indent, gap=size * 0.45)

    def rule(self, gap: float = 3 * mm) -> None:
        self.need(gap)
        self.y -= gap / 2
        self.canvas.setLineWidth(0.6)
        self.canvas.line(self.left, self.y, self.right, self.y)
        self.y -= gap / 2


def wrap(value: str, font: str, size: float, width: float) -> list[str]:
    """Lines that fit `width`: Chinese breaks anywhere, Latin words at spaces when it can."""
    lines: list[str] = []
    for raw in (value or "").splitlines() or [""]:
        line = ""
        for char in raw:
            if stringWidth(line + char, font, size) <= width:
                line += char
                continue
            cut = line.rfind(" ")
            if cut > len(line) - 16 and cut > 0 and char != " ":
                lines.append(line[:cut])
                line = line[cut + 1:] + char
            else:
                lines.append(line)
                line = char.lstrip()
        lines.append(line)
    return lines


def _summary_page(canvas: Canvas, font: str, doc: ReportDocument) -> None:
    cur = _Cursor(canvas, font, doc)
    cur.text(doc.organisation, size=17)
    cur.text(doc.title, size=13, gap=4)
    if doc.critical:
        cur.text("危急值 CRITICAL — 请立即处理并确认 (acknowledge immediately)", size=11, color=RED, gap=4)
    if doc.version > 1:
        cur.text(f"更正报告 第 {doc.version} 版 (amended, version {doc.version})", size=10, color=RED, gap=4)
        cur.paragraph(f"更正原因 reason: {doc.amendment_reason}", size=9)
    cur.rule()
    _pairs(cur, doc.patient)
    cur.rule()
    _pairs(cur, doc.study)
    if doc.measurements:
        cur.rule()
        cur.text("测量 Measurements", size=11, gap=3)
        _pairs(cur, doc.measurements, columns=3)
    cur.rule()
    for label, value in doc.sections:
        cur.text(label, size=11, color=(0.1, 0.2, 0.5), gap=4)
        cur.paragraph(value or "—", size=10, indent=4 * mm)
    _signature_block(cur, doc)


def _pairs(cur: _Cursor, pairs: list[tuple[str, str]], columns: int = 2) -> None:
    width = (cur.right - cur.left) / columns
    for start in range(0, len(pairs), columns):
        cur.need(14)
        cur.y -= 14
        for offset, (label, value) in enumerate(pairs[start:start + columns]):
            x = cur.left + offset * width
            cur.canvas.setFont(cur.font, 8.5)
            cur.canvas.setFillColorRGB(0.35, 0.35, 0.35)
            cur.canvas.drawString(x, cur.y, label)
            cur.canvas.setFillColorRGB(0, 0, 0)
            cur.canvas.setFont(cur.font, 10)
            label_w = max(stringWidth(label, cur.font, 8.5) + 4, 22 * mm)
            text = wrap(value or "—", cur.font, 10, width - label_w - 2)[0]
            cur.canvas.drawString(x + label_w, cur.y, text)


def _signature_block(cur: _Cursor, doc: ReportDocument) -> None:
    qr_size = 30 * mm
    cur.need(qr_size + 10 * mm)
    cur.rule(5 * mm)
    top = cur.y
    cur.text(f"报告医生 Signed by: {doc.signer}", size=11, gap=5)
    cur.text(f"签名时间 Signed at: {doc.signed_at}", size=10, gap=5)
    cur.text(f"验证码 Verification code: {doc.verification_code}", size=10, gap=5)
    cur.text("扫码或访问以下地址核验在线版本 Scan or open to verify the online version:", size=8, gap=5)
    for line in wrap(doc.verify_url, cur.font, 8, cur.right - cur.left - qr_size - 6 * mm):
        cur.text(line, size=8, gap=2)
    _qr(cur.canvas, doc.verify_url, cur.right - qr_size, top - qr_size, qr_size)
    cur.y = min(cur.y, top - qr_size)


def _qr(canvas: Canvas, value: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _ecg_page(canvas: Canvas, font: str, doc: ReportDocument, ecg: EcgTrace) -> None:
    page_w, page_h = landscape(A4)
    cal_w, column_s = 5 * mm, 2.5
    grid_w = cal_w + 4 * column_s * PAPER_SPEED_MM_PER_S * mm  # 5 mm + 250 mm
    grid_h = 140 * mm
    x0, y0 = (page_w - grid_w) / 2, 22 * mm
    canvas.setFont(font, 11)
    canvas.drawString(x0, page_h - 14 * mm, f"{doc.organisation}  {doc.title}")
    canvas.setFont(font, 9)
    ident = "  ".join(f"{label} {value}" for label, value in doc.patient[:4])
    canvas.drawString(x0, page_h - 20 * mm, ident)
    canvas.drawRightString(x0 + grid_w, page_h - 20 * mm,
                           f"走纸速度 25 mm/s   增益 10 mm/mV   {ecg.sampling_rate:g} Hz")
    _grid(canvas, x0, y0, grid_w, grid_h)
    row_h = grid_h / 4
    canvas.saveState()
    clip = canvas.beginPath()
    clip.rect(x0, y0, grid_w, grid_h)
    canvas.clipPath(clip, stroke=0, fill=0)
    for row, names in enumerate(LAYOUT_3X4):
        baseline = y0 + grid_h - row_h * (row + 0.5)
        _calibration(canvas, x0, baseline)
        for col, name in enumerate(names):
            _lead(canvas, font, ecg, name, x0 + cal_w, baseline, col * column_s, column_s, first=col == 0)
    baseline = y0 + row_h * 0.5
    _calibration(canvas, x0, baseline)
    _lead(canvas, font, ecg, RHYTHM_LEAD, x0 + cal_w, baseline, 0.0, 4 * column_s, first=True)
    canvas.restoreState()
    canvas.setFont(font, 8)
    canvas.drawString(x0, y0 - 6 * mm, f"验证码 {doc.verification_code}   报告医生 {doc.signer}   {doc.signed_at}")


def _grid(canvas: Canvas, x0: float, y0: float, width: float, height: float) -> None:
    """ECG paper: 1 mm minor lines, 5 mm major lines, drawn minor first so majors stay on top."""
    nx, ny = int(round(width / mm)), int(round(height / mm))
    for major, color, line_width in ((False, (1.0, 0.82, 0.82), 0.15), (True, (0.95, 0.45, 0.45), 0.5)):
        xs = [i for i in range(nx + 1) if (i % 5 == 0) == major]
        ys = [j for j in range(ny + 1) if (j % 5 == 0) == major]
        canvas.setStrokeColorRGB(*color)
        canvas.setLineWidth(line_width)
        canvas.lines([(x0 + i * mm, y0, x0 + i * mm, y0 + height) for i in xs]
                     + [(x0, y0 + j * mm, x0 + width, y0 + j * mm) for j in ys])
    canvas.setStrokeColorRGB(0, 0, 0)


def _calibration(canvas: Canvas, x: float, baseline: float) -> None:
    """The 1 mV, 200 ms standardisation pulse at the start of a row."""
    high = baseline + GAIN_MM_PER_MV * mm
    canvas.setLineWidth(0.7)
    canvas.lines([(x, baseline, x + 1 * mm, baseline), (x + 1 * mm, baseline, x + 1 * mm, high),
                  (x + 1 * mm, high, x + 4 * mm, high), (x + 4 * mm, high, x + 4 * mm, baseline),
                  (x + 4 * mm, baseline, x + 5 * mm, baseline)])


def _lead(canvas: Canvas, font: str, ecg: EcgTrace, name: str, x: float, baseline: float,
          start_s: float, duration_s: float, *, first: bool) -> None:
    x_start = x + start_s * PAPER_SPEED_MM_PER_S * mm
    canvas.setFont(font, 9)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.drawString(x_start + 1.5 * mm, baseline + 11 * mm, name)
    if not first:  # a short mark where one lead gives way to the next
        canvas.setLineWidth(0.7)
        canvas.line(x_start, baseline - 3 * mm, x_start, baseline + 3 * mm)
    samples = ecg.leads.get(name)
    if samples is None or len(samples) == 0:
        canvas.drawString(x_start + 8 * mm, baseline, "—")
        return
    rate = float(ecg.sampling_rate)
    first_i, last_i = int(start_s * rate), min(len(samples), int((start_s + duration_s) * rate))
    step = max(1, int(rate // MAX_PLOT_RATE_HZ))
    # Electrographs are AC-coupled: draw around the lead's median so a DC offset does not shift it.
    segment = np.asarray(samples[first_i:last_i:step], dtype=float) - float(np.median(samples))
    if segment.size < 2:
        return
    xs = x_start + np.arange(segment.size) * step / rate * PAPER_SPEED_MM_PER_S * mm
    ys = baseline + segment / 1000.0 * GAIN_MM_PER_MV * mm  # µV -> mV -> mm
    path = canvas.beginPath()
    path.moveTo(float(xs[0]), float(ys[0]))
    for px, py in zip(xs[1:].tolist(), ys[1:].tolist()):
        path.lineTo(px, py)
    canvas.setLineWidth(0.6)
    canvas.setStrokeColorRGB(0, 0, 0)
    canvas.drawPath(path, stroke=1, fill=0)


def _images_page(canvas: Canvas, font: str, doc: ReportDocument, images: list[bytes]) -> None:
    page_w, page_h = A4
    canvas.setFont(font, 11)
    canvas.drawString(18 * mm, page_h - 16 * mm, f"{doc.organisation}  {doc.title}  关键图像 Key images")
    cell_w, cell_h, gap = (page_w - 36 * mm - 6 * mm) / 2, 110 * mm, 6 * mm
    for index, png in enumerate(images[:4]):
        col, row = index % 2, index // 2
        reader = ImageReader(io.BytesIO(png))
        iw, ih = reader.getSize()
        scale = min(cell_w / iw, cell_h / ih)
        w, h = iw * scale, ih * scale
        x = 18 * mm + col * (cell_w + gap) + (cell_w - w) / 2
        y = page_h - 24 * mm - (row + 1) * cell_h - row * gap + (cell_h - h) / 2
        canvas.drawImage(reader, x, y, w, h)
        canvas.setFont(font, 8)
        canvas.drawString(x, y - 4 * mm, f"图 {index + 1}")
    canvas.setFont(font, 8)
    canvas.drawString(18 * mm, 14 * mm, f"验证码 {doc.verification_code}   报告医生 {doc.signer}   {doc.signed_at}")
