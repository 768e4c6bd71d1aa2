"""The DICOM elements we index and validate, and how their values are read: shared by dicom.py
(pydicom's reader) and dicom_header.py (the fast header reader), which must agree on both."""
import datetime as dt
from dataclasses import asdict, dataclass

# Elements copied into DicomIndex, validated strictly.
INDEXED = {
    "patient_id": "PatientID",
    "patient_name": "PatientName",
    "patient_sex": "PatientSex",
    "patient_birth_date": "PatientBirthDate",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "modality": "Modality",
    "accession_number": "AccessionNumber",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "series_date": "SeriesDate",
    "study_description": "StudyDescription",
    "series_description": "SeriesDescription",
    "series_number": "SeriesNumber",
    "instance_number": "InstanceNumber",
    "number_of_frames": "NumberOfFrames",
    "rows": "Rows",
    "columns": "Columns",
}
PIXEL_MODULE = (
    "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored",
    "HighBit", "PixelRepresentation", "PlanarConfiguration", "RescaleSlope",
    "RescaleIntercept", "WindowCenter", "WindowWidth",
)



@dataclass(frozen=True)
class DicomIndex:
    """What the database keeps of one DICOM instance (strings are '' when absent)."""

    patient_id: str
    patient_name: str
    patient_sex: str
    patient_birth_date: dt.date | None
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    modality: str
    accession_number: str
    study_date: dt.date | None
    study_time: str
    series_date: dt.date | None
    study_description: str
    series_description: str
    series_number: int | None
    instance_number: int | None
    number_of_frames: int
    rows: int | None
    columns: int | None
    transfer_syntax_uid: str
    has_pixel_data: bool
    has_waveform: bool

    def as_dict(self) -> dict:
        return asdict(self)

def as_text(value) -> str:
    return "" if value is None else str(value).strip()


def as_int(value) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def as_date(value) -> dt.date | None:
    text = as_text(value)
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None
