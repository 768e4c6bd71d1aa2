"""multipart/related bodies for DICOMweb, read and written (RFC 2387; no ORM).

Read in memory: STOW bodies are bounded by the upload size limit before parsing.
"""
import uuid

from ..errors import InvalidInput


def content_type_params(value: str) -> tuple[str, dict[str, str]]:
    media_type, *params = [p.strip() for p in value.split(";")]
    out = {}
    for param in params:
        key, _, val = param.partition("=")
        out[key.strip().lower()] = val.strip().strip('"')
    return media_type.lower(), out


def parse_related(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/related body as (lower-cased headers, content)."""
    media_type, params = content_type_params(content_type)
    if media_type != "multipart/related" or not params.get("boundary"):
        raise InvalidInput("STOW-RS bodies must be multipart/related with a boundary.", code="bad_multipart")
    try:
        delimiter = b"--" + params["boundary"].encode("ascii")
    except UnicodeEncodeError:
        raise InvalidInput("The multipart boundary must be ASCII (RFC 2046).", code="bad_multipart")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise InvalidInput("The multipart body has no parts.", code="bad_multipart")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise InvalidInput("A multipart part has no header block.", code="bad_multipart")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        parts.append((headers, content))
    return parts


def build_related(parts: list[tuple[str, bytes]], part_type: str) -> tuple[bytes, str]:
    """(body, Content-Type) for a multipart/related response; each part is (content type, content)."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for content_type, content in parts:
        out += f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode()
        out += content
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f'multipart/related; type="{part_type}"; boundary={boundary}'
