"""Size limits applied to every upload before and while it is parsed.

The defaults fit a county hospital's workload: a CT series arrives as many small
instances, a 12-lead ECG is well under 1 MB. A caller may pass its own Limits.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 512 * 1024 * 1024  # one uploaded file
    max_inflated_bytes: int = 256 * 1024 * 1024  # deflated DICOM body once inflated
    max_pixel_bytes: int = 1024 * 1024 * 1024  # decoded pixel data of one frame set
    max_frame_pixels: int = 64 * 1024 * 1024  # pixels of one rendered frame
    max_archive_members: int = 16  # WFDB zip: a record is a .hea plus a few signal files
    max_ecg_samples: int = 20_000_000  # all leads together (e.g. 12 x 24 h at 500 Hz is too long)


DEFAULT_LIMITS = Limits()


def check_size(data: bytes, limits: Limits) -> None:
    from .errors import FileTooLarge

    if len(data) > limits.max_file_bytes:
        raise FileTooLarge(
            f"The file is {len(data) // (1024 * 1024)} MB; the limit is "
            f"{limits.max_file_bytes // (1024 * 1024)} MB. Split the study or send it by DICOMweb."
        )
