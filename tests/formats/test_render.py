"""Rendering DICOM frames to 8-bit images for the viewer."""
import copy
import io

import numpy as np
import pydicom
import pytest
from PIL import Image

from studies.formats import read_dicom, render_frame
from studies.formats.errors import RenderError
from studies.formats.render import frame_to_uint8

from formats_samples import data_bytes


def _pixels(rendered) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(rendered.content)))


def _expected_linear(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1, written independently of the code under test."""
    out = np.where(values <= center - 0.5 - (width - 1) / 2, 0.0,
                   np.where(values > center - 0.5 + (width - 1) / 2, 255.0,
                            ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0))
    return out


def test_png_has_the_image_size_and_stored_window():
    ds = read_dicom(data_bytes("MR_small.dcm"))
    rendered = render_frame(ds)
    image = Image.open(io.BytesIO(rendered.content))
    assert (image.format, image.size, image.mode) == ("PNG", (ds.Columns, ds.Rows), "L")
    assert (rendered.window_source, rendered.window_center, rendered.window_width) == (
        "stored", float(ds.WindowCenter), float(ds.WindowWidth))


def test_explicit_window_follows_the_dicom_linear_function():
    ds = read_dicom(data_bytes("CT_small.dcm"))
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    pixels = _pixels(render_frame(ds, window_center=40, window_width=400))
    assert np.abs(pixels.astype(int) - _expected_linear(hu, 40, 400).astype(int)).max() <= 1


def test_changing_the_window_changes_the_output():
    ds = read_dicom(data_bytes("CT_small.dcm"))
    soft = _pixels(render_frame(ds, window_center=40, window_width=400))
    bone = _pixels(render_frame(ds, window_center=500, window_width=2000))
    assert np.mean(soft != bone) > 0.3
    assert np.mean(soft == 255) > np.mean(bone == 255)


def test_missing_window_uses_percentile_auto_window():
    ds = read_dicom(data_bytes("CT_small.dcm"))  # CT_small carries no window
    assert "WindowCenter" not in ds
    rendered = render_frame(ds)
    assert rendered.window_source == "auto"
    pixels = _pixels(rendered)
    assert 0.005 < np.mean(pixels == 0) < 0.05 and 0.005 < np.mean(pixels == 255) < 0.05


def test_useless_stored_window_falls_back_to_auto():
    ds = read_dicom(data_bytes("MR_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = 100000, 10  # no pixel inside: a blank image
    rendered = render_frame(ds)
    assert rendered.window_source == "auto"
    assert len(np.unique(_pixels(rendered))) > 50


def test_monochrome1_is_inverted_relative_to_monochrome2():
    ds = read_dicom(data_bytes("RG3_UNCI.dcm"))
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    as_mono2 = copy.deepcopy(ds)
    as_mono2.PhotometricInterpretation = "MONOCHROME2"
    mono1, *_ = frame_to_uint8(ds)
    mono2, *_ = frame_to_uint8(as_mono2)
    assert np.array_equal(mono1.astype(int), 255 - mono2.astype(int))
    # and MONOCHROME2 follows the stored window on the stored values
    expected = _expected_linear(ds.pixel_array.astype(float), float(ds.WindowCenter), float(ds.WindowWidth))
    assert np.abs(mono2.astype(int) - expected.astype(int)).max() <= 1


def test_multiframe_renders_the_requested_frame_only():
    ds = read_dicom(data_bytes("emri_small.dcm"))
    assert int(ds.NumberOfFrames) == 10
    first = _pixels(render_frame(ds, frame=0, window_center=200, window_width=400))
    sixth = _pixels(render_frame(ds, frame=5, window_center=200, window_width=400))
    assert not np.array_equal(first, sixth)
    expected = _expected_linear(pydicom.dcmread(io.BytesIO(data_bytes("emri_small.dcm"))).pixel_array[5].astype(float), 200, 400)
    assert np.abs(sixth.astype(int) - expected.astype(int)).max() <= 1
    with pytest.raises(RenderError) as caught:
        render_frame(ds, frame=10)
    assert caught.value.code == "no_such_frame"


@pytest.mark.parametrize("compressed, reference", [
    ("MR_small_RLE.dcm", "MR_small.dcm"),  # RLE lossless
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),  # JPEG-LS lossless
    ("MR_small_jp2klossless.dcm", "MR_small.dcm"),  # JPEG 2000 lossless
    ("emri_small_jpeg_2k_lossless.dcm", "emri_small.dcm"),
    ("emri_small_RLE.dcm", "emri_small.dcm"),
])
def test_lossless_syntaxes_decode_to_the_uncompressed_image(compressed, reference):
    a = _pixels(render_frame(data_bytes(compressed), window_center=500, window_width=1000))
    b = _pixels(render_frame(data_bytes(reference), window_center=500, window_width=1000))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("compressed, reference, tolerance", [
    ("SC_rgb_jpeg_dcmtk.dcm", "SC_rgb.dcm", 12),  # JPEG baseline, YBR_FULL
    ("SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb.dcm", 12),  # JPEG baseline, YBR_FULL_422
    ("SC_rgb_jls_lossy_line.dcm", "SC_rgb.dcm", 12),  # JPEG-LS near-lossless
    ("US1_J2KI.dcm", "US1_UNCI.dcm", 1),  # JPEG 2000 (irreversible) vs its decoded twin
])
def test_lossy_syntaxes_decode_close_to_the_reference(compressed, reference, tolerance):
    a = _pixels(render_frame(data_bytes(compressed))).astype(float)
    b = _pixels(render_frame(data_bytes(reference))).astype(float)
    assert a.shape == b.shape
    assert np.mean(np.abs(a - b)) < tolerance


def test_ybr_is_converted_to_rgb():
    ybr = _pixels(render_frame(data_bytes("SC_ybr_full_uncompressed.dcm"))).astype(float)
    rgb = _pixels(render_frame(data_bytes("SC_rgb.dcm"))).astype(float)
    assert ybr.shape == rgb.shape and ybr.shape[-1] == 3
    assert np.mean(np.abs(ybr - rgb)) < 3


def test_palette_colour_becomes_rgb():
    ds = read_dicom(data_bytes("OBXXXX1A.dcm"))
    assert ds.PhotometricInterpretation == "PALETTE COLOR"
    pixels = _pixels(render_frame(ds))
    assert pixels.shape == (ds.Rows, ds.Columns, 3)
    assert np.mean(pixels[..., 0] != pixels[..., 2]) > 0.05  # real colour, not grey


def test_jpeg_output_and_rescale_of_16_bit_rgb():
    rendered = render_frame(data_bytes("SC_rgb_16bit.dcm"), image_format="jpeg")
    assert rendered.media_type == "image/jpeg"
    eight = _pixels(render_frame(data_bytes("SC_rgb.dcm"))).astype(float)
    assert np.mean(np.abs(_pixels(rendered).astype(float) - eight)) < 6


def test_image_without_pixels_and_bad_window_are_refused():
    with pytest.raises(RenderError):
        render_frame(data_bytes("waveform_ecg.dcm"))
    with pytest.raises(RenderError):
        render_frame(data_bytes("MR_small.dcm"), window_center=10, window_width=None)


@pytest.mark.parametrize("name", ["JPEG-LL.dcm", "JPGExtended.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm"])
def test_jpeg_lossless_and_extended_decode_like_pydicom(name):
    # JPEG lossless (process 14) and extended (process 2/4): window pydicom's own decoding independently
    raw = pydicom.dcmread(io.BytesIO(data_bytes(name)))
    expected = _expected_linear(raw.pixel_array.astype(float), 128, 256)
    rendered = _pixels(render_frame(data_bytes(name), window_center=128, window_width=256))
    assert np.abs(rendered.astype(int) - expected.astype(int)).max() <= 1


def test_an_undecodable_frame_is_a_render_error():
    # pydicom's JPEG-lossy.dcm: 12-bit JPEG extended that no installed decoder accepts
    with pytest.raises(RenderError):
        render_frame(data_bytes("JPEG-lossy.dcm"))
