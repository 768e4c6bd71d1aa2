"""Render one DICOM frame to an 8-bit PNG/JPEG for the browser viewer.

Greyscale pipeline (DICOM PS3.3 C.11): stored values -> modality LUT / rescale ->
window (explicit centre/width from the viewer, else the file's VOI LUT or window,
else a 1st-99th percentile window) -> 8 bits -> inverted for MONOCHROME1.
Colour: palette colour through its LUT; RGB and YBR are decoded to RGB by pydicom.
Only the requested frame is decoded, so scrolling a multi-frame series costs one
frame per request. Enhanced multi-frame objects (Enhanced CT/MR/US...) carry their rescale
and window per frame in the shared and per-frame functional groups (PS3.3 C.7.6.16): the
frame's Pixel Value Transformation and Frame VOI LUT are applied, the per-frame ones first.
"""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array

from .dicom import read_dicom
from .errors import FileTooLarge, FormatError, RenderError
from .limits import DEFAULT_LIMITS, Limits

AUTO_PERCENTILES = (1.0, 99.0)
# A stored window that leaves fewer pixels than this inside it shows a blank image.
MIN_USEFUL_FRACTION = 0.01


@dataclass(frozen=True)
class RenderedFrame:
    content: bytes
    media_type: str
    frame: int
    frames: int
    window_center: float | None  # None for colour images
    window_width: float | None
    window_source: str  # "explicit" | "voi_lut" | "stored" | "auto" | "colour"


def frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def render_frame(
    source: bytes | Dataset,
    *,
    frame: int = 0,
    window_center: float | None = None,
    window_width: float | None = None,
    image_format: str = "png",
    jpeg_quality: int = 90,
    limits: Limits = DEFAULT_LIMITS,
    max_size: tuple[int, int] | None = None,
) -> RenderedFrame:
    """Render frame ``frame`` (0-based). Give both window_center and window_width to override;
    ``max_size`` (width, height) shrinks the image to fit, keeping its aspect (thumbnails)."""
    ds = source if isinstance(source, Dataset) else read_dicom(source, limits=limits)
    pixels, center, width, how = frame_to_uint8(
        ds, frame=frame, window_center=window_center, window_width=window_width, limits=limits
    )
    return RenderedFrame(
        content=_encode(pixels, image_format, jpeg_quality, max_size),
        media_type="image/png" if image_format == "png" else "image/jpeg",
        frame=frame,
        frames=frame_count(ds),
        window_center=center,
        window_width=width,
        window_source=how,
    )


def frame_to_uint8(
    ds: Dataset,
    *,
    frame: int = 0,
    window_center: float | None = None,
    window_width: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[np.ndarray, float | None, float | None, str]:
    """The display pixels (H, W) or (H, W, 3) uint8, and the window that produced them."""
    stored = _decode(ds, frame, limits)
    ds, window_index = frame_view(ds, frame)
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR":
        return _to_8bit(_guard(lambda: apply_color_lut(stored, ds))), None, None, "colour"
    if stored.ndim == 3:
        bits = int(ds.get("BitsStored") or 8)
        return _scale_bits(stored, bits), None, None, "colour"
    modality = _guard(lambda: apply_modality_lut(stored, ds))
    values = modality.astype(np.float64)
    if (window_center is None) != (window_width is None):
        raise RenderError("Give both window centre and width, or neither.", code="bad_window")
    if window_width is not None:
        if window_width <= 0:
            raise RenderError("Window width must be positive.", code="bad_window")
        center, width, how = float(window_center), float(window_width), "explicit"
        out = _linear_window(values, center, width)
    elif "VOILUTSequence" in ds:
        out = _to_8bit(_guard(lambda: apply_voi_lut(modality, ds, index=0, prefer_lut=True)))
        center, width, how = None, None, "voi_lut"
    else:
        center, width, how = _stored_window(ds, window_index, values)
        out = _linear_window(values, center, width)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out, center, width, how


FRAME_GROUPS = ("PixelValueTransformationSequence", "FrameVOILUTSequence")


def frame_view(ds: Dataset, frame: int) -> tuple[Dataset, int]:
    """(the dataset as one frame sees it, which stored window value applies to that frame).

    For an enhanced object: a copy of its top level whose Rescale* and Window*/VOI LUT Function are the
    frame's, from the shared functional groups overridden by the frame's own; its windows are
    alternatives for that frame (index 0 is the default). A classic object is returned as is, and
    its multi-valued window is read per frame, as before.
    """
    groups = [*(ds.get("SharedFunctionalGroupsSequence") or [])[:1]]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if frame < len(per_frame):
        groups.append(per_frame[frame])
    found = [item[0] for group in groups for keyword in FRAME_GROUPS if (item := group.get(keyword))]
    if not found:
        return ds, frame
    view = Dataset(dict(ds.items()))  # its own element dict: the file's dataset is left as read
    for item in found:  # shared first, then the frame's: the frame's win
        for element in item:
            view[element.tag] = element
    return view, 0


def _decode(ds: Dataset, frame: int, limits: Limits) -> np.ndarray:
    if "PixelData" not in ds:
        raise RenderError("This DICOM instance has no image to show.", code="no_pixel_data")
    frames = frame_count(ds)
    if not 0 <= frame < frames:
        raise RenderError(f"Frame {frame} does not exist; this image has {frames} frame(s).",
                          code="no_such_frame")
    if int(ds.get("Rows") or 0) * int(ds.get("Columns") or 0) > limits.max_frame_pixels:
        raise FileTooLarge("This image frame is too large to render in the viewer.")
    return _guard(lambda: pixel_array(ds, index=frame if frames > 1 else None))


def _guard(step):
    try:
        return step()
    except (FormatError, KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # decoders raise many types; pylibjpeg-rle's Rust panics are BaseException
        raise RenderError(f"The image could not be decoded ({type(exc).__name__}: {str(exc)[:160]}).") from exc


def _stored_window(ds: Dataset, frame: int, values: np.ndarray) -> tuple[float, float, str]:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is not None and width is not None:
        center = float(center[min(frame, len(center) - 1)] if _is_multi(center) else center)
        width = float(width[min(frame, len(width) - 1)] if _is_multi(width) else width)
        if width > 1 and _fraction_inside(values, center, width) >= MIN_USEFUL_FRACTION:
            return center, width, "stored"
    low, high = np.percentile(values, AUTO_PERCENTILES)
    if high <= low:  # a flat image: any window shows it as one grey
        low, high = float(values.min()) - 0.5, float(values.max()) + 0.5
    return (low + high) / 2.0, float(high - low), "auto"


def _is_multi(value) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, (str, bytes))


def _fraction_inside(values: np.ndarray, center: float, width: float) -> float:
    inside = (values > center - width / 2.0) & (values < center + width / 2.0)
    return float(inside.mean())


def _linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 linear function, to 0..255."""
    width = max(width, 1.0 + 1e-6)
    scaled = ((values - (center - 0.5)) / (width - 1.0) + 0.5) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _to_8bit(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= 255 and low >= 0 and values.dtype != np.float64:
        return values.astype(np.uint8)
    top = 255.0 if high <= 255 else (65535.0 if high <= 65535 else high)
    return np.clip(values / top * 255.0, 0, 255).astype(np.uint8)


def _scale_bits(values: np.ndarray, bits: int) -> np.ndarray:
    if bits <= 8:
        return values.astype(np.uint8)
    return (values.astype(np.float64) / (2**bits - 1) * 255.0).clip(0, 255).astype(np.uint8)


def _encode(pixels: np.ndarray, image_format: str, quality: int, max_size: tuple[int, int] | None = None) -> bytes:
    if image_format not in ("png", "jpeg"):
        raise RenderError("The image format must be png or jpeg.", code="bad_format")
    buf = io.BytesIO()
    image = Image.fromarray(pixels, mode="RGB" if pixels.ndim == 3 else "L")
    if max_size is not None:
        image.thumbnail(max_size, Image.Resampling.LANCZOS)
    if image_format == "png":
        image.save(buf, format="PNG", compress_level=3)  # speed over size: rendered per request
    else:
        image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
