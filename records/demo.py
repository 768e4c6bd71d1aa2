"""A demo patient whose record spans the community (issue 17), for `make run` (manage.py seed_record_demo).

DEMO-0001 (a patient of the first village clinic) has a cardiology consultation at their village clinic
12 days ago with a 12-lead ECG and its signed ECG report (amended once), and a radiology consultation at
the township centre above it 3 days ago with a chest CT and its signed imaging report. The ECG is
simulated (neurokit2), the CT a small synthetic phantom written with pydicom; both are stored through the
studies app's ingest, as uploads are. Idempotent: a patient with consultations already is left alone.
"""
import datetime as dt
import secrets

import numpy as np
from django.db import transaction
from django.utils import timezone

from consult.models import Consultation
from directory.models import Expert, Patient, Specialty, User
from reports.models import Delivery, Report, ReportVersion
from reports.services.delivery import version_render_pdf
from studies.formats.ecg.model import Ecg
from studies.models import EcgRecord, ImagingStudy
from studies.services.dicom_store import ingest_dicom_batch
from studies.services.ecg_store import ecg_measure, ecg_signal_store
from studies.services.sources import Source
from studies.services.storage import files_or_nothing

PATIENT = "DEMO-0001"
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def demo_ecg() -> Ecg:
    """10 s of a simulated 12-lead ECG at 500 Hz, 68 bpm (deterministic), in int32 microvolts."""
    import neurokit2 as nk

    frame = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=68, method="multileads", random_state=17)
    leads = {name: np.round(frame[name].to_numpy() * 1000).astype(np.int32) for name in LEADS}
    return Ecg(leads=leads, sampling_rate=500.0, source_format="csv")


def demo_ct_slices(patient: Patient, *, n: int = 8, size: int = 128) -> list[bytes]:
    """A synthetic chest CT (an ellipse of soft tissue with two darker lungs), one DICOM file per slice."""
    from io import BytesIO

    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    study_uid, series_uid = generate_uid(entropy_srcs=["tc-demo-ct", patient.health_record_no]), generate_uid(
        entropy_srcs=["tc-demo-ct-series", patient.health_record_no])
    y, x = np.mgrid[-1:1:complex(size), -1:1:complex(size)]
    out = []
    for i in range(n):
        body = (x / 0.9) ** 2 + (y / 0.65) ** 2 < 1
        lungs = (((x + 0.38) / 0.28) ** 2 + (y / 0.45) ** 2 < 1) | (((x - 0.38) / 0.28) ** 2 + (y / 0.45) ** 2 < 1)
        pixels = np.full((size, size), -1000, dtype=np.int16)
        pixels[body] = 40
        pixels[lungs & body] = -850 + 10 * i
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["tc-demo-ct", patient.health_record_no, str(i)])
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: the descriptions are in Chinese
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.PatientID, ds.PatientName = patient.health_record_no, "DEMO^PATIENT"
        ds.PatientBirthDate, ds.PatientSex = patient.birth_date.strftime("%Y%m%d"), patient.sex
        ds.Modality, ds.StudyDescription, ds.SeriesDescription = "CT", "胸部CT平扫 Chest CT", "Axial 5mm"
        ds.StudyDate = timezone.localdate().strftime("%Y%m%d")
        ds.SeriesNumber, ds.InstanceNumber = 1, i + 1
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.WindowCenter, ds.WindowWidth = -600, 1500
        ds.PixelSpacing, ds.SliceThickness = [2.5, 2.5], 5
        ds.PixelData = pixels.tobytes()
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def _signed(consultation: Consultation, kind: str, study_ref: str, expert: User, versions: list[tuple[dict, str]],
            at: dt.datetime) -> Report:
    """A signed report with its versions (content, amendment reason), signed at `at` and after, PDFs rendered."""
    report = Report.objects.create(consultation=consultation, kind=kind, study_ref=study_ref, author=expert,
                                   state=Report.State.SIGNED, latest_version=len(versions))
    for number, (content, reason) in enumerate(versions, start=1):
        version = ReportVersion.objects.create(
            report=report, patient_id=consultation.patient_id, number=number, content=content, amendment_reason=reason, signed_by=expert,
            signed_at=at + dt.timedelta(hours=2 * (number - 1)), verification_code=secrets.token_hex(6).upper())
        Delivery.objects.create(version=version, organisation_id=consultation.requesting_org_id,
                                state=Delivery.State.ACKNOWLEDGED, delivered_at=version.signed_at,
                                acknowledged_at=version.signed_at + dt.timedelta(minutes=30))
        transaction.on_commit(lambda pk=version.pk: version_render_pdf(version_id=pk))
    return report


@transaction.atomic
def seed_record() -> Patient | None:
    patient = Patient.objects.filter(health_record_no=PATIENT).select_related("home_clinic").first()
    if patient is None or Consultation.objects.filter(patient=patient).exists():
        return None
    village = patient.home_clinic
    township = village.parent or village
    vdoc = User.objects.filter(organisation=village, role=User.Role.VILLAGE_DOCTOR).order_by("id").first()
    tdoc = User.objects.filter(organisation=township, role=User.Role.TOWNSHIP_DOCTOR).order_by("id").first()
    cardiologist = Expert.objects.filter(specialties__code="cardiology").order_by("id").first()
    radiologist = Expert.objects.filter(specialties__code="radiology").order_by("id").first()
    if not (vdoc and tdoc and cardiologist and radiologist):
        return None
    now = timezone.now()
    first_at, second_at = now - dt.timedelta(days=12), now - dt.timedelta(days=3)

    # 1. the village clinic: chest tightness, an ECG, an ECG report amended once
    ecg_case = Consultation.objects.create(
        patient=patient, requesting_org=village, requested_by=vdoc, specialty=Specialty.objects.get(code="cardiology"),
        reason="活动后胸闷气短一周 Chest tightness on exertion for a week", state=Consultation.State.CLOSED,
        assigned_expert=cardiologist)
    with files_or_nothing() as files:
        ecg = ecg_signal_store(parsed=ecg_measure(demo_ecg()), files=files, source=Source(
            by=vdoc, organisation=village, consultation=ecg_case, patient=patient))
    ecg_report = {"rhythm": "窦性心律 Sinus rhythm", "rate_bpm": 68, "conclusion": "窦性心律，正常心电图 Normal ECG"}
    _signed(ecg_case, Report.Kind.ECG, f"ecg:{ecg.pk}", cardiologist.user,
            [(ecg_report, ""), ({**ecg_report, "recommendation": "建议复查心脏彩超 Echocardiography advised"},
                                "补充建议 Recommendation added")], first_at + dt.timedelta(hours=5))
    Consultation.objects.filter(pk=ecg_case.pk).update(created_at=first_at, assigned_at=first_at + dt.timedelta(hours=1),
                                                       updated_at=first_at + dt.timedelta(hours=8))
    EcgRecord.objects.filter(pk=ecg.pk).update(created_at=first_at + dt.timedelta(minutes=20))

    # 2. the township centre: a chest CT and its imaging report
    ct_case = Consultation.objects.create(
        patient=patient, requesting_org=township, requested_by=tdoc, specialty=Specialty.objects.get(code="radiology"),
        reason="咳嗽两周，胸片示右下肺阴影 Cough for two weeks; shadow on the chest film", state=Consultation.State.REPORTED,
        assigned_expert=radiologist)
    results = ingest_dicom_batch(datas=demo_ct_slices(patient), source=Source(
        by=tdoc, organisation=township, consultation=ct_case, patient=patient))
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise failed[0]
    study = ImagingStudy.objects.get(consultation=ct_case)
    _signed(ct_case, Report.Kind.IMAGING, f"dicom:{study.study_instance_uid}", radiologist.user,
            [({"technique": "胸部CT平扫 Non-contrast chest CT", "findings": "右肺下叶少许斑片影 Patchy opacity, right lower lobe",
               "impression": "右下肺炎症可能 Probable right lower lobe pneumonia"}, "")], second_at + dt.timedelta(hours=6))
    Consultation.objects.filter(pk=ct_case.pk).update(created_at=second_at, assigned_at=second_at + dt.timedelta(hours=1),
                                                      updated_at=second_at + dt.timedelta(hours=6))
    ImagingStudy.objects.filter(pk=study.pk).update(created_at=second_at + dt.timedelta(minutes=40))
    return patient
