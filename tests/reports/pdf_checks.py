"""What a person sees in a report PDF, read with poppler: its text (pdftotext) and its ECG page drawn
(pdftoppm), for tests that get a PDF from the real pipeline and must not pass on a PDF without a trace."""
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

DPI = 100
MISSING_TRACE = "心电波形未能附入"  # reports/services/delivery.py's note when no trace could be loaded


def _run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def pdf_text(path: Path) -> str:
    return _run("pdftotext", str(path), "-")


def pdf_pages(path: Path) -> int:
    return int(_run("pdfinfo", str(path)).split("Pages:")[1].split()[0])


def ecg_page_drawing(path: Path, page: int = 2) -> dict:
    """The ECG page rasterised: the share of it that is grid (pink lines) and, for each of its four rows of
    trace, `drawn`, the share of the grid's columns with a black stroke in them (a trace runs the whole
    row; labels, separators and calibration pulses alone cover about 5 %), and `moving`, the share whose
    lowest black pixel is more than 1 mm off the row's median (a flat line: about 0; a 12-lead ECG: 0.15-0.3)."""
    prefix = path.with_name(f"{path.stem}-p{page}")
    _run("pdftoppm", "-f", str(page), "-l", str(page), "-r", str(DPI), "-png", str(path), str(prefix))
    image = np.asarray(Image.open(next(prefix.parent.glob(prefix.name + "*.png"))).convert("RGB")).astype(int)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    grid = (r > 200) & (g < 235) & (b < 235) & (r - g > 15)
    black = (r < 90) & (g < 90) & (b < 90)
    if not grid.any():
        return {"grid_share": 0.0, "rows": []}
    rows_with_grid, cols_with_grid = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
    top, bottom, right = rows_with_grid[0], rows_with_grid[-1], cols_with_grid[-1]
    left = cols_with_grid[0] + int(6 * DPI / 25.4)  # after the 5 mm calibration pulse
    height, mm = bottom - top + 1, DPI / 25.4
    rows = []
    for row in range(4):
        band = black[top + row * height // 4: top + (row + 1) * height // 4, left: right + 1]
        stroked = band.any(axis=0)
        lowest = band.shape[0] - 1 - np.argmax(band[::-1], axis=0)[stroked]
        moving = (np.abs(lowest - np.median(lowest)) > mm).sum() if lowest.size else 0
        rows.append({"drawn": round(float(stroked.mean()), 3), "moving": round(float(moving) / band.shape[1], 3)})
    return {"grid_share": round(float(grid[top:bottom + 1, cols_with_grid[0]:right + 1].mean()), 3), "rows": rows}


def pdf_image_sizes(path: Path) -> list[tuple[int, int]]:
    """(width, height) of each image embedded in the PDF (pdfimages -list)."""
    lines = _run("pdfimages", "-list", str(path)).splitlines()[2:]
    return [(int(line.split()[3]), int(line.split()[4])) for line in lines]


def assert_pdf_shows(path: Path, *, texts: list[str], ecg_trace: bool = False,
                     key_images: list[tuple[int, int]] = ()) -> None:
    """The PDF reads `texts`; with ecg_trace, its second page draws the grid and a trace along every row,
    and it does not say that the trace could not be attached; it embeds images of the `key_images` sizes."""
    text = pdf_text(path)
    missing = [t for t in texts if t not in text]
    assert not missing, f"{missing} not in the PDF's text ({path}):\n{text[:2000]}"
    sizes = pdf_image_sizes(path)
    assert all(size in sizes for size in key_images), f"key images {list(key_images)} not all in {sizes} ({path})"
    if not ecg_trace:
        return
    assert MISSING_TRACE not in text, f"the PDF says the ECG trace could not be attached ({path})"
    assert pdf_pages(path) >= 2, f"the ECG report has no trace page ({path})"
    drawing = ecg_page_drawing(path)
    assert drawing["grid_share"] > 0.05, f"no ECG grid drawn on page 2: {drawing}"
    assert len(drawing["rows"]) == 4, f"no ECG rows on page 2: {drawing}"
    assert all(row["drawn"] > 0.9 and row["moving"] > 0.05 for row in drawing["rows"]), \
        f"no trace (a line that moves) along every row: {drawing}"
