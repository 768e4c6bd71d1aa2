"""SCP-ECG (EN 1064): pydicom's real 12-lead written in the standard's layout (default Huffman table and second
differences, as carts write it, and plain 16-bit); samples, leads, measurements and statements read back
exactly; damaged, truncated and hostile files refused with a code and a reason, before decoding."""
import numpy as np
import pytest

from studies.formats import Format, detect
from studies.formats.ecg import read_ecg
from studies.formats.errors import InvalidEcg
from studies.formats.ecg.scp import crc_ccitt
from tests.formats.formats_samples import make_scp
from tests.formats.rhythm_samples import resampled


@pytest.fixture(scope="module")
def at_500(reference_ecg):
    return resampled(reference_ecg, 500)


def test_crc_ccitt_is_the_standards_check():
    assert crc_ccitt(b"123456789") == 0x29B1  # CRC-CCITT (0xFFFF) check value


@pytest.mark.parametrize("huffman", [True, False])
def test_an_scp_ecg_file_reads_back_its_samples_leads_measurements_and_statements(at_500, huffman):
    data = make_scp(at_500, huffman=huffman, nanovolts=5000, statements=("Sinus rhythm", "窦性心律", "Normal ECG"))
    assert detect(data) == Format.SCP
    ecg = read_ecg(data)
    assert ecg.source_format == "scp" and ecg.sampling_rate == 500.0
    assert ecg.lead_names == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert ecg.derived_leads == []  # all twelve stored
    for name in ecg.lead_names:
        np.testing.assert_array_equal(ecg.leads[name], np.rint(at_500.leads[name] / 5.0).astype(np.int64) * 5)
    ref = at_500.device_measurements
    assert ecg.device_measurements == {
        "rr_ms": ref["rr_ms"], "heart_rate_bpm": round(60000 / ref["rr_ms"]), "pp_ms": ref["rr_ms"], "p_ms": 98.0,
        "pr_ms": float(int(ref["pr_ms"])), "qrs_ms": float(int(ref["qrs_ms"])), "qt_ms": float(int(ref["qt_ms"])),
        "p_axis_deg": ref["p_axis_deg"], "qrs_axis_deg": ref["qrs_axis_deg"], "t_axis_deg": ref["t_axis_deg"]}
    assert ecg.device_statements == ["Sinus rhythm", "窦性心律", "Normal ECG"]


def test_an_eight_lead_cart_file_gets_its_limb_leads_derived(at_500):
    ecg = read_ecg(make_scp(at_500, leads=["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]))
    assert ecg.derived_leads == ["III", "aVR", "aVL", "aVF"]
    np.testing.assert_array_equal(ecg.leads["III"], ecg.leads["II"] - ecg.leads["I"])


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _listing_the_rhythm_twice(ecg) -> bytes:
    """A record whose Section 0 names Section 6 (the samples, its largest) twice, in a slot left empty: a
    hostile file could name it thousands of times, each costing a checksum pass over the whole section."""
    from studies.formats.ecg.scp import crc_ccitt

    data = bytearray(make_scp(ecg))
    size = int.from_bytes(data[10:14], "little")  # Section 0 starts at byte 6: CRC, id, then its size
    body = 6 + 16
    entries = [bytes(data[body + at:body + at + 10]) for at in range(0, size - 16, 10)]
    rhythm = next(e for e in entries if int.from_bytes(e[:2], "little") == 6)
    spare = next(i for i, e in enumerate(entries) if int.from_bytes(e[:2], "little") == 11)
    data[body + 10 * spare:body + 10 * spare + 10] = rhythm
    data[6:8] = crc_ccitt(bytes(data[8:6 + size])).to_bytes(2, "little")
    data[0:2] = crc_ccitt(bytes(data[2:])).to_bytes(2, "little")
    return bytes(data)


@pytest.mark.parametrize("make, code", [
    (_listing_the_rhythm_twice, "scp_bad_pointer"),
    (lambda e: make_scp(e)[:4000], "scp_truncated"),  # cut mid-transfer: shorter than its record length
    (lambda e: make_scp(e)[:30], "scp_truncated"),
    (lambda e: _flip(make_scp(e), 3000), "scp_bad_crc"),  # a damaged byte
    (lambda e: make_scp(e, flags=0b0000_0101), "scp_unsupported"),  # reference beat subtracted
    (lambda e: make_scp(e, section2=1), "scp_unsupported"),  # Huffman tables of its own
    (lambda e: make_scp(e, span_end=2_000_000_000), "ecg_too_long"),  # claims 2e9 samples per lead
    (lambda e: make_scp(e, span_end=e.n_samples + 400), "scp_truncated"),  # more samples claimed than stored
])
def test_a_damaged_or_hostile_scp_file_is_refused_with_a_code_and_reason(at_500, make, code):
    with pytest.raises(InvalidEcg) as caught:
        read_ecg(make(at_500))
    assert caught.value.code == code and caught.value.message
