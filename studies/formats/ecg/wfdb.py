"""ECG from a WFDB record uploaded as one zip archive.

The zip holds exactly one header (NAME.hea) and the signal file(s) it names
(e.g. NAME.dat, format 16 or 212), at the top level. Members are extracted by
their base name only (no paths) into a private temporary folder, within the
member-count and inflated-size limits, then read with the `wfdb` package.
"""
import io
import os
import re
import tempfile
import zipfile
import zlib

import numpy as np

from ..errors import DecompressionBomb, InvalidEcg
from ..limits import DEFAULT_LIMITS, Limits, check_size
from .model import Ecg, build_ecg, unit_factor

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def read_wfdb_zip(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    check_size(data, limits)
    with tempfile.TemporaryDirectory(prefix="wfdb-") as folder:
        record = _extract(data, folder, limits)
        return _read_record(os.path.join(folder, record), limits)


def _extract(data: bytes, folder: str, limits: Limits) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InvalidEcg("The WFDB upload is not a readable zip archive.", code="wfdb_bad_zip") from exc
    if len(members) > limits.max_archive_members:
        raise InvalidEcg("The WFDB zip holds too many files; put only NAME.hea and its .dat in it.",
                         code="wfdb_bad_zip")
    headers = [m for m in members if m.filename.lower().endswith(".hea")]
    if len(headers) != 1:
        raise InvalidEcg("The WFDB zip must hold exactly one .hea header.", code="wfdb_bad_zip")
    budget = limits.max_inflated_bytes
    for member in members:
        name = os.path.basename(member.filename)
        if not _SAFE_NAME.match(name):
            raise InvalidEcg(f"The WFDB zip member name {name!r} is not allowed.", code="wfdb_bad_zip")
        budget -= _copy_bounded(archive, member, os.path.join(folder, name), budget)
    return os.path.basename(headers[0].filename)[:-4]


def _copy_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: str, budget: int) -> int:
    written = 0
    try:
        with archive.open(member) as src, open(target, "wb") as dst:
            while chunk := src.read(1024 * 1024):
                written += len(chunk)
                if written > budget:
                    raise DecompressionBomb("The WFDB zip expands beyond the size limit.")
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise InvalidEcg(f"The WFDB zip member {member.filename!r} cannot be read.",
                         code="wfdb_bad_zip") from exc
    return written


def _read_record(path: str, limits: Limits) -> Ecg:
    import wfdb

    try:
        header = wfdb.rdheader(path)
        if header.n_sig is None or not header.n_sig or not header.sig_len:
            raise InvalidEcg("The WFDB header declares no signals.", code="ecg_no_samples")
        if header.n_sig * header.sig_len > limits.max_ecg_samples:
            raise InvalidEcg("The ECG is too long to read here.", code="ecg_too_long")
        record = wfdb.rdrecord(path, physical=False)
    except InvalidEcg:
        raise
    except Exception as exc:  # wfdb raises many types on a bad header or short signal file
        raise InvalidEcg(f"The WFDB record cannot be read ({type(exc).__name__}: {str(exc)[:120]}).",
                         code="wfdb_bad_record") from exc
    digital = np.asarray(record.d_signal, dtype=np.float64)
    gains = np.array([g if g else 200.0 for g in record.adc_gain])  # WFDB default gain: 200/mV
    factors = np.array([unit_factor(u or "mV") for u in record.units])
    microvolts = (digital - np.asarray(record.baseline)) / gains * factors
    return build_ecg(names=list(record.sig_name), microvolts=microvolts, sampling_rate=record.fs,
                     source_format="wfdb")
