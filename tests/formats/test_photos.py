"""Clinical photos are re-encoded without EXIF/GPS."""
import io

import pytest
from PIL import Image, PngImagePlugin

from studies.formats import sanitize_photo
from studies.formats.errors import FormatError


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 32), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to display
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}  # GPSInfo
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_exif_and_gps_are_stripped_and_orientation_applied():
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825) is not None
    clean, media_type = sanitize_photo(original)
    image = Image.open(io.BytesIO(clean))
    assert media_type == "image/jpeg"
    assert len(image.getexif()) == 0 and b"Exif" not in clean and b"PhoneMaker" not in clean
    assert image.size == (32, 64)  # rotated upright


def test_png_text_chunks_are_stripped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "patient Zhang San 13800000000")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG", pnginfo=info)
    clean, media_type = sanitize_photo(buf.getvalue())
    assert media_type == "image/png" and b"Zhang" not in clean


def test_corrupt_photo_is_refused():
    data = _jpeg_with_gps()
    with pytest.raises(FormatError):
        sanitize_photo(data[: len(data) // 3])
