"""ECG from an SCP-ECG file (EN 1064 / ISO 11073-91064, v2.x-3.0), the binary format of many ECG carts sold in China.

Layout read: the record's CRC-CCITT and length; Section 0's pointers (id, length, 1-based index) to the
others, each with its own 16-byte header and CRC; Section 3 the leads (first and last sample, SCP lead
code); Section 6 the rhythm data: amplitude multiplier (nV per unit), sample interval (µs), difference
encoding (none, first, second), per lead its byte count then its samples, either 16-bit or encoded with
the standard's default Huffman table (Section 2 giving table 19999); Section 7's global measurements
(RR, PP, P and QRS onsets and offsets, T offset, axes) as device measurements; Section 8's statements.
Refused by name, as a 4xx: a file cut short or whose CRC or pointers do not hold, reference-beat
subtraction (Sections 4-5), bimodal compression, a Huffman table of the file's own. Every length is
checked against the file and the sample limit before anything is decoded.
"""
import binascii
import struct

import numpy as np

from ..errors import InvalidEcg
from ..limits import DEFAULT_LIMITS, Limits, check_size
from .model import Ecg, build_ecg

LEADS = {1: "I", 2: "II", 3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6", 9: "V7", 10: "V2R", 11: "V3R",
         12: "V4R", 13: "V5R", 14: "V6R", 15: "V7R", 16: "X", 17: "Y", 18: "Z", 61: "III", 62: "aVR", 63: "aVL",
         64: "aVF", 66: "V8", 67: "V9", 68: "V8R", 69: "V9R"}  # SCP lead codes (EN 1064 table 5)
DEFAULT_HUFFMAN = 19999
UNDEFINED = 29999
# Samples (all leads) decoded here at most: the Huffman decoder runs in Python, about 10 us a sample, so a
# file of a few kB that claims millions of samples would hold a worker for minutes. SCP-ECG carries resting
# ECGs (10 s; 12 leads x 30 s at 1000 Hz is 360,000).
MAX_SAMPLES = 400_000
MAX_POINTERS = 64  # sections a record may list (the standard defines 12; manufacturers add a few)
# The default Huffman table: codes 0, 100, 101, 1100, 1101, ... 1111111101 for 0, 1, -1, 2, -2 ... 8, -8;
# 1111111110 then the value in 8 bits, 1111111111 then 16 bits (two's complement, most significant first).
_DEFAULT_CODES = {"0": 0, **{"1" * (n - 1) + "0" + sign: (n - 1) * (1 if sign == "0" else -1)
                             for n in range(2, 10) for sign in "01"}}


def read_scp(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Ecg:
    check_size(data, limits)
    sections = _sections(data)
    if 3 not in sections or 6 not in sections:
        raise InvalidEcg("The SCP-ECG file has no lead definition (Section 3) or rhythm data (Section 6).",
                         code="scp_no_rhythm")
    huffman = _huffman(sections.get(2))
    names, spans, subtracted = _leads(sections[3])
    if subtracted:
        raise InvalidEcg("This SCP-ECG file stores its rhythm with the reference beat subtracted (Sections 4-5), "
                         "which we do not read; export it without beat subtraction.", code="scp_unsupported")
    lengths = {stop - start + 1 for start, stop in spans}
    most = min(limits.max_ecg_samples, MAX_SAMPLES)
    if lengths and len(names) * max(lengths) > most:
        raise InvalidEcg(f"The SCP-ECG file claims {len(names) * max(lengths):,} samples; resting ECGs of up to "
                         f"{most:,} (all leads) are read here.", code="ecg_too_long")
    if len(lengths) != 1 or min(lengths) < 2:
        raise InvalidEcg("The SCP-ECG leads are of different lengths, or empty.", code="ecg_no_samples")
    rate, values = _rhythm(sections[6], len(names), lengths.pop(), huffman)
    return build_ecg(names=names, microvolts=values, sampling_rate=rate, source_format="scp",
                     device_measurements=_measurements(sections.get(7)), device_statements=_statements(sections.get(8)))


def crc_ccitt(data: bytes) -> int:
    """CRC-CCITT (polynomial 0x1021, initial 0xFFFF), the check of an SCP-ECG record and of each section."""
    return binascii.crc_hqx(data, 0xFFFF)


def _sections(data: bytes) -> dict[int, bytes]:
    """Section id -> its body (after the 16-byte header), every length and CRC checked."""
    if len(data) < 6 + 16:
        raise InvalidEcg("The SCP-ECG file is cut short.", code="scp_truncated")
    crc, length = struct.unpack_from("<HI", data, 0)
    if length > len(data):
        raise InvalidEcg(f"The SCP-ECG file is cut short: {len(data)} of its {length} bytes.", code="scp_truncated")
    if length < 22 or crc_ccitt(data[2:length]) != crc:
        raise InvalidEcg("The SCP-ECG file's checksum does not match: it is damaged.", code="scp_bad_crc")
    record = data[:length]
    pointers = _section(record, 6, 0)
    if len(pointers) > 10 * MAX_POINTERS:
        raise InvalidEcg(f"The SCP-ECG file lists more than {MAX_POINTERS} sections.", code="scp_bad_pointer")
    places: list[tuple[int, int, int]] = []
    for at in range(0, len(pointers) - 9, 10):
        section, size, index = struct.unpack_from("<HII", pointers, at)
        if size == 0 or section == 0:
            continue
        if index < 1 or index - 1 + size > length or size < 16:
            raise InvalidEcg(f"The SCP-ECG file points to Section {section} outside itself.", code="scp_bad_pointer")
        places.append((index - 1, size, section))
    # Each section once and none inside another: every byte is checked at most once, however the pointers
    # are written (a hostile file naming one large section over and over would cost a CRC pass each time).
    places.sort()
    end, seen = 6 + len(pointers) + 16, set()
    for offset, size, section in places:
        if section in seen or offset < end:
            raise InvalidEcg(f"The SCP-ECG file's Section {section} is listed twice or overlaps another.",
                             code="scp_bad_pointer")
        seen.add(section)
        end = offset + size
    out = {0: pointers}
    for offset, size, section in places:
        out[section] = _section(record, offset, section)
    return out


def _section(record: bytes, offset: int, expected: int) -> bytes:
    if offset + 16 > len(record):
        raise InvalidEcg(f"The SCP-ECG file is cut short in Section {expected}.", code="scp_truncated")
    crc, section, size = struct.unpack_from("<HHI", record, offset)
    if section != expected or size < 16 or offset + size > len(record):
        raise InvalidEcg(f"The SCP-ECG file's Section {expected} header does not hold.", code="scp_bad_pointer")
    if crc_ccitt(record[offset + 2:offset + size]) != crc:
        raise InvalidEcg(f"The SCP-ECG file's Section {expected} checksum does not match.", code="scp_bad_crc")
    return record[offset + 16:offset + size]


def _huffman(body: bytes | None) -> bool:
    if body is None:
        return False
    if len(body) < 2 or struct.unpack_from("<H", body, 0)[0] != DEFAULT_HUFFMAN:
        raise InvalidEcg("This SCP-ECG file encodes its samples with Huffman tables of its own, which we do not "
                         "read; the standard's default table or no Huffman encoding are read.", code="scp_unsupported")
    return True


def _leads(body: bytes) -> tuple[list[str], list[tuple[int, int]], bool]:
    if len(body) < 2:
        raise InvalidEcg("The SCP-ECG lead definition (Section 3) is empty.", code="scp_no_rhythm")
    count, flags = body[0], body[1]
    if len(body) < 2 + 9 * count or count == 0:
        raise InvalidEcg("The SCP-ECG lead definition (Section 3) is cut short.", code="scp_truncated")
    names, spans = [], []
    for i in range(count):
        start, stop, code = struct.unpack_from("<IIB", body, 2 + 9 * i)
        names.append(LEADS.get(code, f"SCP lead {code}"))
        spans.append((start, stop))
    return names, spans, bool(flags & 1)


def _rhythm(body: bytes, leads: int, samples: int, huffman: bool) -> tuple[float, np.ndarray]:
    if len(body) < 6 + 2 * leads:
        raise InvalidEcg("The SCP-ECG rhythm data (Section 6) is cut short.", code="scp_truncated")
    nanovolts, interval_us, difference, bimodal = struct.unpack_from("<HHBB", body, 0)
    if bimodal or difference > 2:
        raise InvalidEcg("This SCP-ECG file uses bimodal compression or an unknown difference encoding, which we "
                         "do not read.", code="scp_unsupported")
    if not nanovolts or not interval_us:
        raise InvalidEcg("The SCP-ECG rhythm data gives no amplitude unit or sample interval.", code="ecg_bad_units")
    sizes = struct.unpack_from(f"<{leads}H", body, 6)
    offset, columns = 6 + 2 * leads, []
    for size in sizes:
        chunk = body[offset:offset + size]
        if len(chunk) != size:
            raise InvalidEcg("The SCP-ECG rhythm data is shorter than its leads say.", code="scp_truncated")
        offset += size
        encoded = _decode_huffman(chunk, samples) if huffman else _decode_plain(chunk, samples)
        columns.append(_undifference(encoded, difference))
    return 1e6 / interval_us, np.column_stack(columns) * (nanovolts / 1000.0)


def _decode_plain(chunk: bytes, samples: int) -> np.ndarray:
    if len(chunk) < 2 * samples:
        raise InvalidEcg("An SCP-ECG lead holds fewer samples than Section 3 says.", code="scp_truncated")
    return np.frombuffer(chunk[:2 * samples], dtype="<i2").astype(np.int64)


def _decode_huffman(chunk: bytes, samples: int) -> np.ndarray:
    bits = "".join(format(byte, "08b") for byte in chunk)
    out, at, end = np.zeros(samples, dtype=np.int64), 0, len(bits)
    for i in range(samples):
        if at >= end:  # (the last byte's padding zeros read as zero values, as the standard leaves them)
            raise InvalidEcg("An SCP-ECG lead holds fewer samples than Section 3 says.", code="scp_truncated")
        ones = 0
        while at + ones < end and bits[at + ones] == "1" and ones < 10:
            ones += 1
        if ones < 9:  # 0, or 1..8 ones, a 0 and the sign: a value from -8 to 8
            if ones == 0:
                value, at = 0, at + 1
            elif at + ones + 2 <= end:
                value, at = _DEFAULT_CODES[bits[at:at + ones + 2]], at + ones + 2
            else:
                raise InvalidEcg("An SCP-ECG lead's Huffman data ends early.", code="scp_truncated")
        else:  # 1111111110 + 8 bits, 1111111111 + 16 bits
            width, start = (8 if ones == 9 else 16), at + 10
            if start + width > end:
                raise InvalidEcg("An SCP-ECG lead's Huffman data ends early.", code="scp_truncated")
            raw = int(bits[start:start + width], 2)
            value, at = raw - (1 << width) if raw >> (width - 1) else raw, start + width
        out[i] = value
    return out


def _undifference(values: np.ndarray, difference: int) -> np.ndarray:
    if difference == 0:
        return values
    if difference == 1:
        return np.cumsum(values)
    out = values.copy()
    for n in range(2, len(out)):
        out[n] = values[n] + 2 * out[n - 1] - out[n - 2]
    return out


def _measurements(body: bytes | None) -> dict:
    """Section 7: RR and PP, and the first measurement block's wave limits and axes (ms, degrees)."""
    if body is None or len(body) < 6 + 16:
        return {}
    rr, pp = struct.unpack_from("<HH", body, 2)
    p_on, p_off, qrs_on, qrs_off, t_off = struct.unpack_from("<5H", body, 6)
    p_axis, qrs_axis, t_axis = struct.unpack_from("<3h", body, 16)
    defined = lambda *v: all(x != UNDEFINED for x in v)  # noqa: E731
    out: dict = {}
    if defined(rr) and rr:
        out.update(rr_ms=float(rr), heart_rate_bpm=round(60000.0 / rr))
    if defined(pp) and pp:
        out["pp_ms"] = float(pp)
    if defined(p_on, qrs_on):
        out["pr_ms"] = float(qrs_on - p_on)
    if defined(p_on, p_off):
        out["p_ms"] = float(p_off - p_on)
    if defined(qrs_on, qrs_off):
        out["qrs_ms"] = float(qrs_off - qrs_on)
    if defined(qrs_on, t_off):
        out["qt_ms"] = float(t_off - qrs_on)
    for key, value in (("p_axis_deg", p_axis), ("qrs_axis_deg", qrs_axis), ("t_axis_deg", t_axis)):
        if value != 999:  # 999: undefined axis
            out[key] = float(value)
    return out


def _statements(body: bytes | None) -> list[str]:
    """Section 8: the interpretive statements, each as its text."""
    if body is None or len(body) < 9:
        return []
    count, at, out = body[8], 9, []
    for _ in range(count):
        if at + 3 > len(body):
            break
        size = struct.unpack_from("<H", body, at + 1)[0]
        text = body[at + 3:at + 3 + size].split(b"\x00", 1)[0]
        out.append(text.decode("latin-1" if not _is_utf8(text) else "utf-8").strip())
        at += 3 + size
    return [s for s in out if s]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
