"""Real inputs for report PDFs, read from pydicom's bundled test files (nothing copied here).

Also the study loader the test settings point REPORTS_STUDY_LOADER at, so that a Celery
worker process renders the same real ECG and CT frame: "ecg:*" -> waveform_ecg.dcm,
"dicom:*" -> a CT_small.dcm frame.
"""
import functools
import io

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file

from reports.pdf import EcgTrace


def real_ecg() -> EcgTrace:
    """The 12-lead rhythm group of waveform_ecg.dcm, in microvolts (channel sensitivity applied)."""
    ds = dcmread(get_testdata_file("waveform_ecg.dcm"))
    group = ds.WaveformSequence[0]
    samples = ds.waveform_array(0)  # float, sensitivity x correction + baseline applied
    for channel in group.ChannelDefinitionSequence:
        assert channel.ChannelSensitivityUnitsSequence[0].CodeValue == "uV"
    names = [ch.ChannelSourceSequence[0].CodeMeaning.replace("Lead ", "").split(" ")[0]
             for ch in group.ChannelDefinitionSequence]
    return EcgTrace(leads={name: samples[:, i] for i, name in enumerate(names)},
                    sampling_rate=float(group.SamplingFrequency))


def ct_frame_png() -> bytes:
    """CT_small.dcm in a soft-tissue window (W 400 / L 40), as PNG bytes."""
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    low, high = 40 - 200, 40 + 200
    pixels = (np.clip((hu - low) / (high - low), 0, 1) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(out, format="PNG")
    return out.getvalue()


def load_study(study_ref: str, *, report_id: int | None = None, version_id: int | None = None):
    """REPORTS_STUDY_LOADER for tests and the benchmark: (ecg, key_images) for a study_ref."""
    if study_ref.startswith("ecg:"):
        return real_ecg(), []
    if study_ref.startswith("dicom:"):
        return None, [ct_frame_png()]
    return None, []


@functools.cache
def _parsed_waveform(parse_dicom, limits, thresholds):
    with open(get_testdata_file("waveform_ecg.dcm"), "rb") as f:
        parsed = parse_dicom(f.read(), limits=limits, thresholds=thresholds)
    assert parsed.ecg is not None
    return parsed


def stored_real_ecg_ref(consultation, by=None) -> str:
    """waveform_ecg.dcm stored as an ECG record of the consultation, as an upload stores it (its samples
    under MEDIA_ROOT): the study_ref ("ecg:<id>") that the product's loader
    (studies.report_inputs.load_report_inputs) reads the trace of."""
    from django.db import transaction

    from studies.parsing import parse_dicom
    from studies.services.ingest import Source, limits, store_ecg, thresholds
    from studies.services.storage import files_or_nothing

    parsed = _parsed_waveform(parse_dicom, limits(), thresholds())
    with files_or_nothing() as files, transaction.atomic():
        record = store_ecg(parsed=parsed.ecg, original=None, files=files,
                           source=Source(by=by, organisation=None, consultation=consultation))
    return f"ecg:{record.pk}"
