"""Clinical photos (JPEG/PNG): verify with Pillow and re-encode without metadata.

EXIF (GPS position, device serial, time) and PNG text chunks are dropped by
re-encoding only the pixels; the EXIF orientation is applied first so the photo
still stands the right way up.
"""
import io
import warnings

from PIL import Image, ImageOps

from .errors import DecompressionBomb, FormatError
from .limits import DEFAULT_LIMITS, Limits, check_size

MAX_PHOTO_PIXELS = 60_000_000  # a 60 MP phone photo is the largest we expect


def sanitize_photo(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, str]:
    """Return (clean bytes, media type). Raises FormatError if it is not a readable JPEG/PNG."""
    check_size(data, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                if probe.width * probe.height > MAX_PHOTO_PIXELS:
                    raise DecompressionBomb("The photo has too many pixels; resize it below 60 megapixels.")
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except FormatError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecompressionBomb("The photo has too many pixels; resize it below 60 megapixels.") from exc
    except Exception as exc:  # Pillow raises many types on corrupt input
        raise FormatError(f"The photo is damaged or not a JPEG/PNG ({type(exc).__name__}).",
                          code="invalid_photo") from exc
    if kind not in ("JPEG", "PNG"):
        raise FormatError("Photos must be JPEG or PNG.", code="invalid_photo")
    image = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=92)
        return out.getvalue(), "image/jpeg"
    image.save(out, format="PNG")
    return out.getvalue(), "image/png"
