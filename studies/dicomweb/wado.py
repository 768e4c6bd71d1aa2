"""WADO-RS payloads: metadata as DICOM JSON with BulkDataURI, native frames, bulk data; STOW-RS replies."""
import json
import os
import uuid

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pixel_array
from pydicom.tag import Tag

from ..errors import InvalidInput, InvalidStudy, NotAcceptable, NotFound
from ..formats import read_dicom
from ..formats.errors import FormatError
from ..formats.transcode import EXPLICIT_VR_LITTLE_ENDIAN, to_explicit_little_endian
from ..selectors import instance_bytes
from ..services.storage import media_path
from .dicomjson import attr, sequence
from .multipart import content_type_params

AS_STORED = "*"

BULK_THRESHOLD = 1024  # values larger than this are served by BulkDataURI, not inline


def instance_url(instance, base: str) -> str:
    series, study = instance.series, instance.series.study
    return (f"{base}/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
            f"/instances/{instance.sop_instance_uid}")


def _dataset(instance):
    try:
        return read_dicom(instance_bytes(instance))
    except FormatError as exc:
        raise InvalidStudy(exc.message, code=exc.code)


def _header(instance):
    """The stored file up to its pixel data, read from disk as far as that (a 512 x 512 CT slice: a few KB of
    its 0.5 MB). Stored files passed the safe read (read_dicom) when they were ingested. What follows the
    pixels is left out: in practice only Data Set Trailing Padding (FFFC,FFFC), meaningless by PS3.10."""
    try:
        return dcmread(media_path(instance.file), stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise InvalidStudy(f"The stored instance cannot be read: {exc}", code="unreadable")


# A series' metadata is mostly pydicom turning each header into DICOM JSON (a CT slice's 260 elements: ~5 ms;
# a 300-slice CT's series 1.5-2.5 s, most of OHIF's wait for its first image). Stored files never change, so
# each instance's JSON is kept beside its file the first time it is asked for, with a placeholder where its
# BulkDataURIs name the instance's URL (which depends on the request's host), and later reads join the texts.
METADATA_SUFFIX = ".metadata-1.json"  # a new number when metadata_json's output changes
_URL_PLACEHOLDER = "@instance-url@"
_BULK_KEY = '"BulkDataURI": "'  # json.dumps' own spelling; a quote inside a DICOM value is always escaped


def metadata_json_text(instance, base: str) -> str:
    """metadata_json(instance, base) as JSON text, through the cache beside the stored file."""
    cache = media_path(instance.file + METADATA_SUFFIX)
    try:
        text = cache.read_text(encoding="utf-8")
    except OSError:
        text = ""
    if not text.endswith("}"):  # none yet (or one cut by a crash: it is written again)
        text = json.dumps(_metadata(instance, _URL_PLACEHOLDER))
        temporary = cache.with_name(f"{cache.name}.{uuid.uuid4().hex}.tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, cache)  # readers see the whole text or none
        except OSError:
            temporary.unlink(missing_ok=True)  # a read-only or full disk: answered all the same, uncached
    url = json.dumps(instance_url(instance, base))[1:-1]
    return text.replace(_BULK_KEY + _URL_PLACEHOLDER, _BULK_KEY + url)


def metadata_json(instance, base: str) -> dict:
    return _metadata(instance, instance_url(instance, base))


def _metadata(instance, url: str) -> dict:
    ds = _header(instance)

    def bulk(element) -> str:
        return f"{url}/bulkdata/{int(element.tag):08X}"

    out = ds.to_json_dict(bulk_data_threshold=BULK_THRESHOLD, bulk_data_element_handler=bulk)
    if instance.rows:  # the pixel data, left unread: by reference, as any value over the threshold
        native_words = not ds.file_meta.TransferSyntaxUID.is_compressed and ds.get("BitsAllocated", 8) > 8
        out["7FE00010"] = {"vr": "OW" if native_words else "OB", "BulkDataURI": f"{url}/bulkdata/7FE00010"}
    out["00083002"] = attr("UI", str(ds.file_meta.TransferSyntaxUID))  # Available Transfer Syntax UID
    out["00020010"] = attr("UI", str(ds.file_meta.TransferSyntaxUID))
    return out


def retrieve_syntax(accept: str) -> str:
    """The transfer syntax an instance retrieve's Accept asks for (PS3.18 8.7.3.5.2): AS_STORED for
    transfer-syntax=*, Explicit VR Little Endian when none is named; 406 if no media range allows DICOM."""
    for media_range in (accept or "*/*").split(","):
        media_type, params = content_type_params(media_range)
        part_type = params.get("type", "application/dicom").lower()
        if media_type in ("*/*", "multipart/*", "application/dicom") or (
                media_type == "multipart/related" and part_type in ("application/dicom", "*/*")):
            return params.get("transfer-syntax", EXPLICIT_VR_LITTLE_ENDIAN)
    raise NotAcceptable("Instances are sent as multipart/related; type=\"application/dicom\".")


def instance_in_syntax(instance, syntax: str) -> tuple[bytes, str]:
    """(the instance's bytes, their transfer syntax) as asked: as stored, or transcoded to Explicit VR LE."""
    stored = instance.transfer_syntax_uid
    if syntax in (AS_STORED, stored):
        return instance_bytes(instance), stored
    if syntax != EXPLICIT_VR_LITTLE_ENDIAN:
        raise NotAcceptable(f"Transfer syntax {syntax} is not offered: ask for {EXPLICIT_VR_LITTLE_ENDIAN} or * "
                            "(as stored).")
    try:
        return to_explicit_little_endian(instance_bytes(instance)), syntax
    except FormatError as exc:
        raise NotAcceptable(f"{exc.message} Ask for transfer-syntax=* to have it as stored ({stored}).")


def frame_numbers(text: str, frames: int) -> list[int]:
    try:
        numbers = [int(v) for v in text.split(",")]
    except ValueError:
        raise InvalidInput("Frame numbers are a comma-separated list of integers from 1.", code="bad_frame")
    last = max(frames, 1)
    if not numbers or any(n < 1 or n > last for n in numbers):
        raise NotFound(f"This instance has frames 1 to {last}.")
    return numbers


def native_frame(instance, number: int) -> bytes:
    """One frame, uncompressed (Explicit VR Little Endian pixel layout)."""
    ds = _dataset(instance)
    if "PixelData" not in ds:
        raise NotFound("This instance has no pixel data.")
    try:
        if not ds.file_meta.TransferSyntaxUID.is_compressed and int(ds.BitsAllocated) >= 8:
            size = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * (int(ds.BitsAllocated) // 8)
            return bytes(ds.PixelData[(number - 1) * size: number * size])
        return pixel_array(ds, index=number - 1).tobytes()
    except Exception as exc:  # noqa: BLE001 - codecs raise many types on damaged data
        raise InvalidStudy(f"The frame could not be decoded ({type(exc).__name__}).", code="cannot_decode")


def bulk_value(instance, tag_hex: str) -> bytes:
    try:
        tag = Tag(int(tag_hex, 16))
    except ValueError:
        raise NotFound("No such bulk data.")
    ds = _dataset(instance)
    if tag not in ds or not isinstance(ds[tag].value, (bytes, bytearray)):
        raise NotFound("No such bulk data.")
    return bytes(ds[tag].value)


def stow_reply(stored, failed, base: str) -> dict:
    out = {}
    if stored:
        study = stored[0].series.study
        out["00081190"] = attr("UR", f"{base}/studies/{study.study_instance_uid}")
        out["00081199"] = sequence([{
            "00081150": attr("UI", i.sop_class_uid), "00081155": attr("UI", i.sop_instance_uid),
            "00081190": attr("UR", instance_url(i, base))} for i in stored])
    if failed:
        out["00081198"] = sequence([{
            "00081150": attr("UI", uids.get("class")), "00081155": attr("UI", uids.get("instance")),
            "00081197": attr("US", reason), "00090010": attr("LO", "TELECLINIC"),
            "00091001": attr("LT", message[:1000])} for uids, reason, message in failed])
    return out
