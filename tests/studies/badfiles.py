"""Hostile and broken files, made at test time from pydicom's bundled files (nothing third-party committed)."""
import io
import struct
import zlib

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from pydicom.data import get_testdata_file


def sample_bytes(name: str) -> bytes:
    with open(get_testdata_file(name), "rb") as source:
        return source.read()


def truncated_dicom() -> bytes:
    data = sample_bytes("CT_small.dcm")
    return data[: len(data) // 2]


def dicom_without_meta() -> bytes:
    ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
    out = io.BytesIO()
    ds.file_meta = FileMetaDataset()
    ds.preamble = None
    pydicom.dcmwrite(out, ds, enforce_file_format=False, implicit_vr=False, little_endian=True)
    return out.getvalue()


def not_dicom() -> bytes:
    return b"MZ\x90\x00" + b"This program cannot be run in DOS mode.\r\n" * 50


def dicom_with_bad_vr() -> bytes:
    """Number of Frames (IS) reads '1A': the bytes are patched after writing a valid value."""
    ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
    ds.NumberOfFrames = "19"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    data = out.getvalue()
    marker = b"\x28\x00\x08\x00IS\x02\x0019"
    assert data.count(marker) == 1
    return data.replace(marker, b"\x28\x00\x08\x00IS\x02\x001A")


def executable_in_preamble() -> bytes:
    data = sample_bytes("CT_small.dcm")
    preamble = (b"MZ" + b"\x90" * 58 + struct.pack("<I", 64) + b"\x7fELF" + b"\xcc" * 60)[:128]
    return preamble.ljust(128, b"\x00") + data[128:]


def deflate_bomb(inflated_bytes: int = 400 * 1024 * 1024) -> bytes:
    """A deflated-syntax DICOM of a few hundred KB that inflates to `inflated_bytes` of zeros."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7.8.9"
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.3.4"
    head = io.BytesIO()
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    pydicom.dcmwrite(head, ds, enforce_file_format=True)
    body = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunks = [body.compress(struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, inflated_bytes))]
    zeros = bytes(16 * 1024 * 1024)
    for _ in range(inflated_bytes // len(zeros)):
        chunks.append(body.compress(zeros))
    chunks.append(body.flush())
    header = head.getvalue()
    group_length = struct.unpack_from("<I", header, 132 + 8)[0]  # (0002,0000) UL, explicit VR
    meta_end = 132 + 12 + group_length  # pydicom wrote an empty deflated body after the meta: drop it
    return header[:meta_end] + b"".join(chunks)
