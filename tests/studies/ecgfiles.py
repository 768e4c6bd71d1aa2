"""ECG files in every supported format, written at test time from pydicom's real 12-lead record."""
import io

import numpy as np

from studies.formats.ecg import read_dicom_ecg
from studies.formats.ecg.model import Ecg
from tests.formats.formats_samples import make_aecg, make_csv, make_wfdb_zip  # noqa: F401
from tests.studies.badfiles import sample_bytes


def reference_ecg() -> Ecg:
    return read_dicom_ecg(sample_bytes("waveform_ecg.dcm"))


def fast_ecg_csv(speedup: float = 2.6) -> bytes:
    """The real record tiled three times and declared at a higher sampling rate: a rate of ~160 bpm."""
    ecg = reference_ecg()
    tiled = Ecg(leads={k: np.tile(v, 3) for k, v in ecg.leads.items()}, sampling_rate=ecg.sampling_rate * speedup,
                source_format="csv")
    return make_csv(tiled)


def ecg_csv() -> bytes:
    return make_csv(reference_ecg())


__all__ = ["ecg_csv", "fast_ecg_csv", "make_aecg", "make_wfdb_zip", "reference_ecg", "io"]
