"""Size limits applied to every upload before and while it is parsed.

The defaults fit a county hospital's workload: a CT series arrives as many small
instances, a 12-lead ECG is well under 1 MB. A caller may pass its own Limits.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 512 * 1024 * 1024  # one uploaded file
    max_inflated_bytes: int = 256 * 1024 * 1024  # deflated DICOM body once inflated
    # ... and at most this many times its deflated size (above a floor): deflate shrinks real images
    # 2-5x, a bomb 1000x: a 255 KB bomb is refused after 8 MB of inflating, not 256 MB (issue 13)
    max_inflate_ratio: int = 10
    inflate_floor_bytes: int = 8 * 1024 * 1024
    max_pixel_bytes: int = 1024 * 1024 * 1024  # decoded pixel data of one frame set
    max_frame_pixels: int = 64 * 1024 * 1024  # pixels of one rendered frame
    max_archive_members: int = 16  # WFDB zip: a record is a .hea plus a few signal files
    max_ecg_samples: int = 20_000_000  # all leads together (e.g. 12 x 24 h at 500 Hz is too long)


DEFAULT_LIMITS = Limits()


def inflated_cap(deflated_bytes: int, limits: Limits) -> int:
    """How far a deflated body of this size may inflate before it is refused as a bomb."""
    return min(limits.max_inflated_bytes, max(limits.inflate_floor_bytes, deflated_bytes * limits.max_inflate_ratio))


def check_size(data: bytes, limits: Limits) -> None:
    from .errors import FileTooLarge

    if len(data) > limits.max_file_bytes:
        raise FileTooLarge(
            f"The file is {len(data) // (1024 * 1024)} MB; the limit is "
            f"{limits.max_file_bytes // (1024 * 1024)} MB. Split the study or send it by DICOMweb."
        )
