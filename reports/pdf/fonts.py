"""The embedded CJK font of report PDFs.

reportlab embeds TrueType outlines only; Debian's Noto CJK is OpenType/CFF ("postscript
outlines are not supported"), so reports use WenQuanYi Zen Hei (fonts-wqy-zenhei, TrueType),
subset-embedded, so that the PDF prints the same on any village clinic's machine.
"""
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "ReportCJK"
CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)


def register_cjk_font() -> str:
    """Register the first TrueType CJK font found; the name to pass to setFont."""
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    for path in CANDIDATES:
        if path.exists():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
            return FONT_NAME
    raise RuntimeError("No TrueType CJK font found: install fonts-wqy-zenhei (scripts/install-system-deps.sh).")
