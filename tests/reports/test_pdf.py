"""The report PDF, rendered from a real 12-lead ECG and a real CT frame, checked with poppler's tools."""
import subprocess

import numpy as np
import pytest
from PIL import Image

from reports.pdf import ReportDocument, render_report_pdf
from reports.pdf.render import wrap

from .realdata import ct_frame_png, real_ecg

DPI = 254  # 10 pixels per millimetre


def document(**overrides) -> ReportDocument:
    values = dict(
        organisation="县人民医院 远程心电诊断中心", title="心电图诊断报告 ECG report",
        patient=[("姓名 Name", "王秀英"), ("性别 Sex", "女"), ("出生日期 Born", "1956-03-14 (70岁)"),
                 ("健康档案号 Record", "HR-000123")],
        study=[("申请机构 Clinic", "东风村卫生室"), ("检查 Study", "ecg:17")],
        measurements=[("心率 Rate", "72 bpm"), ("QTc", "419 ms")],
        sections=[("结论 Conclusion", "急性下壁心肌梗死可能")], signer="张明 主任医师",
        signed_at="2026-11-25 20:40 (UTC+08:00)", version=1, verification_code="K7Q2M9XAPB",
        verify_url="http://localhost:8000/api/reports/verify/K7Q2M9XAPB/", critical=True)
    values.update(overrides)
    return ReportDocument(**values)


@pytest.fixture(scope="module")
def ecg_pdf(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "ecg.pdf"
    path.write_bytes(render_report_pdf(document(), ecg=real_ecg()))
    return path


def _run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def test_the_cjk_font_is_embedded_and_the_chinese_text_extracts(ecg_pdf):
    # given the ECG report PDF; when poppler lists its fonts and extracts its text
    fonts = _run("pdffonts", str(ecg_pdf)).splitlines()[2:]
    text = _run("pdftotext", str(ecg_pdf), "-")
    # then the CJK TrueType font is embedded (emb = yes) and the Chinese reads back
    cjk = [line for line in fonts if "WenQuanYi" in line]
    assert cjk and all(line.split()[-5] == "yes" for line in cjk), fonts
    assert "急性下壁心肌梗死可能" in text and "县人民医院" in text and "危急值" in text
    assert "K7Q2M9XAPB" in text and "/api/reports/verify/K7Q2M9XAPB/" in text


def test_the_qr_code_decodes_to_the_online_version(ecg_pdf, tmp_path):
    # given page 1 rasterised; when zbar reads its QR code, then it is the verification URL
    _run("pdftoppm", "-f", "1", "-l", "1", "-r", "150", "-png", str(ecg_pdf), str(tmp_path / "p"))
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(next(tmp_path.glob("p*.png")))], capture_output=True,
                             text=True, timeout=60).stdout.strip()
    assert decoded == "http://localhost:8000/api/reports/verify/K7Q2M9XAPB/"


def test_the_ecg_page_is_landscape_with_standard_grid_and_calibration(ecg_pdf, tmp_path):
    # given the ECG page rasterised at 10 pixels per millimetre
    info = _run("pdfinfo", "-f", "2", "-l", "2", str(ecg_pdf))
    assert "841.89 x 595.276" in info  # A4 landscape
    _run("pdftoppm", "-f", "2", "-l", "2", "-r", str(DPI), "-png", str(ecg_pdf), str(tmp_path / "p"))
    page = np.asarray(Image.open(next(tmp_path.glob("p*.png"))).convert("RGB")).astype(int)
    r, g, b = page[..., 0], page[..., 1], page[..., 2]
    gridish = (r > 200) & (g < 235) & (b < 235) & (r - g > 15)  # pink/red grid lines
    # then vertical grid lines come every 1 mm (10 px), and every 5th is darker (major, 5 mm)
    columns = np.flatnonzero(gridish.sum(axis=0) > 0.5 * gridish.sum(axis=0).max())
    starts = columns[np.insert(np.diff(columns) > 2, 0, True)]
    spacing = np.diff(starts)
    assert abs(np.median(spacing) - 10) <= 0.6, spacing[:20]
    major = (r > 200) & (g < 140) & (r - g > 60)
    major_cols = np.flatnonzero(major.sum(axis=0) > 0.5 * major.sum(axis=0).max())
    major_starts = major_cols[np.insert(np.diff(major_cols) > 2, 0, True)]
    assert abs(np.median(np.diff(major_starts)) - 50) <= 1.0
    # and the 1 mV calibration pulse is 10 mm (100 px) tall: the black vertical edges at the grid's left
    black = (r < 80) & (g < 80) & (b < 80)
    left = int(starts[0])
    run = black[:, left + 8: left + 14].any(axis=1)  # the pulse's rising edge, 1 mm in
    lengths = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], run.astype(int), [0]])))).tolist()[::2]
    assert any(abs(length - 100) <= 4 for length in lengths), lengths


def test_an_imaging_report_embeds_its_key_images(tmp_path):
    # given a CT frame rendered to PNG; when the imaging report is rendered with it
    path = tmp_path / "ct.pdf"
    path.write_bytes(render_report_pdf(document(title="影像诊断报告 Imaging report", measurements=[]),
                                       key_images=[ct_frame_png()]))
    # then the PDF has the summary page and an image page holding a 128x128 image
    assert "Pages:           2" in _run("pdfinfo", str(path))
    images = _run("pdfimages", "-list", str(path)).splitlines()[2:]
    assert any(line.split()[3:5] == ["128", "128"] for line in images), images


def test_a_long_report_continues_on_a_new_page(tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(render_report_pdf(document(sections=[("所见 Findings", "ST 段抬高。" * 900)])))
    pages = int(_run("pdfinfo", str(path)).split("Pages:")[1].split()[0])
    assert pages >= 2 and "ST 段抬高" in _run("pdftotext", "-f", str(pages), str(path), "-")


def test_wrapping_breaks_chinese_anywhere_and_latin_at_spaces():
    from reports.pdf.fonts import register_cjk_font

    font = register_cjk_font()
    lines = wrap("sinus rhythm with first degree block 窦性心律伴一度房室传导阻滞", font, 10, 120)
    assert len(lines) > 1 and all(not line.startswith(" ") for line in lines)
    assert "".join(lines).replace(" ", "") == "sinusrhythmwithfirstdegreeblock窦性心律伴一度房室传导阻滞"
