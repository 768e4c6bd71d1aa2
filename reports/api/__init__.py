"""REST API of reports: drafting and signing, versions and PDFs, delivery and acknowledgement, phrases, quality."""
from .deliveries import AcknowledgeView, PendingDeliveriesView, ReceivedReportsView
from .drafting import (AmendView, ConsultationReportsView, DraftView, PatientLinkRevokeView, PatientLinkView,
                       ReportDetailView, SharedReportView, SignView, VerifyView, VersionPdfView, VersionView)
from .phrases import PhrasesView, PhraseView, TemplatesView
from .quality import (QualityFiguresView, QualityReadsView, QualityRecordView, QualitySamplesView, TurnaroundPageView,
                      TurnaroundView)

__all__ = [
    "AcknowledgeView", "PendingDeliveriesView", "ReceivedReportsView", "AmendView", "ConsultationReportsView",
    "DraftView", "PatientLinkRevokeView", "PatientLinkView", "ReportDetailView", "SharedReportView", "SignView",
    "VerifyView", "VersionPdfView", "VersionView", "PhrasesView", "PhraseView", "TemplatesView",
    "QualityFiguresView", "QualityReadsView", "QualityRecordView", "QualitySamplesView", "TurnaroundPageView",
    "TurnaroundView",
]
