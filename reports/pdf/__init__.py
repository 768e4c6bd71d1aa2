"""PDF rendering of signed reports: no ORM here, plain inputs in, PDF bytes out (see render.py)."""
from .render import EcgTrace, ReportDocument, render_report_pdf

__all__ = ["EcgTrace", "ReportDocument", "render_report_pdf"]
