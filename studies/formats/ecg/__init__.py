"""ECG: one model, eight readers (DICOM waveform, HL7 aECG, GE MUSE XML, Philips Sierra XML, SCP-ECG, WFDB zip, CSV, EDF/EDF+), measurement and serving."""
from ..detect import Format, detect
from ..errors import UnsupportedFormat
from ..limits import DEFAULT_LIMITS, Limits
from .aecg import read_aecg
from .csv import read_csv_ecg
from .dicom_waveform import read_dicom_ecg
from .edf import read_edf
from .muse import read_muse
from .scp import read_scp
from .sierra import read_sierra
from .model import STANDARD_LEADS, Ecg
from .wfdb import read_wfdb_zip

_READERS = {Format.DICOM: read_dicom_ecg, Format.AECG: read_aecg, Format.WFDB: read_wfdb_zip,
            Format.CSV: read_csv_ecg, Format.EDF: read_edf, Format.MUSE: read_muse, Format.SIERRA: read_sierra, Format.SCP: read_scp}


def read_ecg(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    """Detect the format by content and read the ECG; raises a FormatError subclass."""
    fmt = detect(data, limits=limits)
    reader = _READERS.get(fmt)
    if reader is None:
        raise UnsupportedFormat(f"A {fmt.value} file is not an ECG. Send DICOM, HL7 aECG, GE MUSE XML, Philips Sierra XML, SCP-ECG, WFDB (zip), EDF/EDF+ or CSV.",
                                code="not_an_ecg")
    return reader(data, limits=limits)


__all__ = ["Ecg", "STANDARD_LEADS", "read_ecg", "read_dicom_ecg", "read_aecg", "read_wfdb_zip", "read_csv_ecg", "read_edf", "read_muse", "read_sierra", "read_scp"]
