"""Enhanced multi-frame images render through their functional groups, frame by frame (PS3.3 C.7.6.16):
the frame's Pixel Value Transformation (rescale) and Frame VOI LUT (window), checked against pydicom."""
import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

from studies.formats import render_frame


def enhanced_ct() -> Dataset:
    """pydicom-data's Enhanced CT (2 frames; rescale -1024 and window 49/102 in the shared groups), with
    frame 2 given its own rescale and window in its per-frame group."""
    ds = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm"))
    own = ds.PerFrameFunctionalGroupsSequence[1]
    own.PixelValueTransformationSequence = [Dataset()]
    own.PixelValueTransformationSequence[0].update(
        {"RescaleIntercept": "-1000", "RescaleSlope": "2", "RescaleType": "HU"})
    own.FrameVOILUTSequence = [Dataset()]
    own.FrameVOILUTSequence[0].update({"WindowCenter": "300", "WindowWidth": "1500"})
    return ds


def file_bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def reference(ds: Dataset, frame: int, *, slope, intercept, center, width) -> np.ndarray:
    """pydicom's modality LUT and VOI LUT on the frame as a classic image with those values, to 0..255."""
    classic = Dataset()
    classic.update({"BitsStored": ds.BitsStored, "PixelRepresentation": ds.PixelRepresentation,
                    "PhotometricInterpretation": "MONOCHROME2", "RescaleSlope": slope,
                    "RescaleIntercept": intercept, "WindowCenter": center, "WindowWidth": width})
    values = apply_modality_lut(pixel_array(ds, index=frame).astype(np.float64), classic)
    windowed = apply_voi_lut(values, classic)
    # pydicom's linear window spans the rescaled range of the stored bits (unsigned 16 here): to 0..255
    y_min, y_max = intercept, (2 ** ds.BitsStored - 1) * slope + intercept
    return (windowed - y_min) / (y_max - y_min) * 255.0


def rendered(data: bytes, frame: int, **window) -> tuple[np.ndarray, object]:
    out = render_frame(data, frame=frame, image_format="png", **window)
    return np.asarray(Image.open(io.BytesIO(out.content))).astype(np.float64), out


@pytest.mark.parametrize("frame, values", [
    (0, dict(slope=1, intercept=-1024, center=49, width=102)),  # the shared groups
    (1, dict(slope=2, intercept=-1000, center=300, width=1500)),  # the frame's own, overriding them
])
def test_each_frame_is_rescaled_and_windowed_by_its_functional_groups(frame, values):
    ds = enhanced_ct()
    pixels, out = rendered(file_bytes(ds), frame)
    assert (out.window_center, out.window_width, out.window_source) == (values["center"], values["width"], "stored")
    expected = reference(ds, frame, **values)
    assert np.abs(pixels - expected).max() <= 1.0  # rounding of the 8-bit output only
    assert 5 < pixels.mean() < 250  # not the near-white image of raw values under a HU window


def test_an_explicit_window_applies_to_the_frames_rescaled_values():
    ds = enhanced_ct()
    pixels, out = rendered(file_bytes(ds), 1, window_center=40.0, window_width=400.0)
    hu = pixel_array(ds, index=1).astype(np.float64) * 2 - 1000
    expected = ((hu - 39.5) / 399.0 + 0.5) * 255.0
    assert out.window_source == "explicit"
    assert np.abs(pixels - np.clip(expected, 0, 255)).max() <= 1.0
