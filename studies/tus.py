"""The tus 1.0.0 resumable-upload protocol, as header parsing and constants (no ORM, no Django models).

Spec: https://tus.io/protocols/resumable-upload (core, creation, expiration, termination,
checksum). Only sha256 is offered for the checksum extension.
"""
import base64
import hashlib
import re
import unicodedata
from email.utils import format_datetime

VERSION = "1.0.0"
EXTENSIONS = "creation,expiration,termination,checksum"
CHECKSUM_ALGORITHMS = "sha256,sha1"  # sha1 too: tuspy's upload_checksum=True sends sha1
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
# Response headers a browser client (tus-js-client) must be allowed to read, and may send.
EXPOSE_HEADERS = ("Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires, Location, Tus-Resumable, "
                  "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm")
ALLOW_HEADERS = ("Authorization, Content-Type, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Checksum, "
                 "Upload-Defer-Length, Upload-Concat, Tus-Resumable, X-HTTP-Method-Override, X-Requested-With, "
                 "X-CSRFToken")
ALLOW_METHODS = "OPTIONS, HEAD, POST, PATCH, DELETE"
MAX_METADATA_HEADER = 16 * 1024
MAX_FILENAME = 255
CHECKSUM_MISMATCH = 460  # tus checksum extension's own status code


class TusError(Exception):
    """A protocol error: the HTTP status and a message the client's user can act on."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def parse_length(value: str | None, header: str) -> int:
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 18:  # not "²" (isdigit says yes)
        raise TusError(400, "bad_header", f"{header} must be a non-negative integer.")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs; values decoded as UTF-8."""
    if not value:
        return {}
    if len(value) > MAX_METADATA_HEADER:
        raise TusError(400, "bad_metadata", "Upload-Metadata is too long.")
    out: dict[str, str] = {}
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not re.fullmatch(r"[!-~]+", parts[0]) or parts[0] in out:
            raise TusError(400, "bad_metadata", "Upload-Metadata must be 'key base64', comma-separated, unique keys.")
        try:
            out[parts[0]] = base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) == 2 else ""
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError; non-ASCII raises ValueError
            raise TusError(400, "bad_metadata", f"Upload-Metadata value of '{parts[0]}' is not base64 of UTF-8 text.")
    return out


def encode_metadata(metadata: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in metadata.items())


def parse_checksum(value: str | None) -> tuple[str, bytes] | None:
    """Upload-Checksum: `sha256 <base64 digest>` (or sha1) -> (algorithm, digest); None when absent."""
    if value is None:
        return None
    algorithm, _, digest = value.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS.split(","):
        raise TusError(400, "bad_checksum_algorithm", f"Upload-Checksum supports {CHECKSUM_ALGORITHMS} only.")
    try:
        raw = base64.b64decode(digest.strip(), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise TusError(400, "bad_checksum", "Upload-Checksum digest is not base64.")
    if len(raw) != hashlib.new(algorithm).digest_size:
        raise TusError(400, "bad_checksum", f"Upload-Checksum digest is not a {algorithm} digest.")
    return algorithm, raw


def safe_filename(name: str) -> str:
    """For display only: the last path component, printable characters, at most 255 of them.

    Files are never stored under this name (see services/storage.py).
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\x00")
    name = name.strip().lstrip(".")
    return name[:MAX_FILENAME] or "upload"


def http_date(moment) -> str:
    return format_datetime(moment, usegmt=True)
