"""Philips Sierra XML (PageWriter): pydicom's real 12-lead written in the PageWriter layout, XLI-compressed as
PageWriters write it and uncompressed; samples, lead names, device measurements and statements read back
exactly; hostile and broken files refused with a reason."""
import numpy as np
import pytest

from studies.formats import Format, detect
from studies.formats.ecg import read_ecg
from studies.formats.errors import FormatError, InvalidEcg, UnsafeXml
from tests.formats.formats_samples import make_sierra
from tests.formats.rhythm_samples import resampled


@pytest.fixture(scope="module")
def at_500(reference_ecg):
    return resampled(reference_ecg, 500)


@pytest.mark.parametrize("compression", ["XLI", "Uncompressed"])
def test_a_pagewriter_file_reads_back_its_samples_leads_measurements_and_statements(at_500, compression):
    data = make_sierra(at_500, compression=compression, resolution=5.0)
    assert data.startswith(b"\xff\xfe")  # UTF-16, as PageWriters write
    assert detect(data) == Format.SIERRA
    ecg = read_ecg(data)
    assert ecg.source_format == "sierra" and ecg.sampling_rate == 500.0
    assert ecg.lead_names == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    # the stored leads exactly, at 5 uV per unit; the limb leads derived from I and II (Einthoven, Goldberger)
    for name in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"):
        np.testing.assert_array_equal(ecg.leads[name], np.rint(at_500.leads[name] / 5.0).astype(np.int64) * 5)
    assert ecg.derived_leads == ["III", "aVR", "aVL", "aVF"]
    np.testing.assert_array_equal(ecg.leads["III"], ecg.leads["II"] - ecg.leads["I"])
    # Philips's names mapped; the others kept under their own
    m, ref = ecg.device_measurements, at_500.device_measurements
    assert (m["rr_ms"], m["pr_ms"], m["qrs_ms"], m["qt_ms"], m["qtc_ms"]) == (
        ref["rr_ms"], ref["pr_ms"], ref["qrs_ms"], ref["qt_ms"], ref["qtc_ms"])
    assert m["heart_rate_bpm"] == round(60000 / ref["rr_ms"]) and m["qrs_axis_deg"] == ref["qrs_axis_deg"]
    assert m["p_ms"] == 98 and m["qtcf"] == 401 and m["qrshorizaxis"] == -63
    assert ecg.device_statements == ["SINUS RHYTHM"]


def test_the_xli_file_reads_as_the_same_ecg_as_the_uncompressed_one(at_500):
    xli, plain = read_ecg(make_sierra(at_500)), read_ecg(make_sierra(at_500, compression="Uncompressed"))
    for name in xli.lead_names:
        np.testing.assert_array_equal(xli.leads[name], plain.leads[name])


def _replace(data: bytes, old: str, new: str) -> bytes:
    return data.decode("utf-16").replace(old, new, 1).encode("utf-16")


@pytest.mark.parametrize("change, error, code", [
    # an entity bomb's declaration
    (lambda d: _replace(d, '<?xml version="1.0" encoding="utf-16"?>',
                        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'), UnsafeXml, None),
    # the waveform cut short mid-file (an interrupted export)
    (lambda d: d[: len(d) * 2 // 3], InvalidEcg, "sierra_bad_xml"),
    # a version sierraecg does not know
    (lambda d: _replace(d, "<documentversion>1.04</documentversion>", "<documentversion>9.9</documentversion>"),
     InvalidEcg, "sierra_unsupported"),
    # a duration claiming hours of samples
    (lambda d: _replace(d, 'durationperchannel="', 'durationperchannel="9999999'), InvalidEcg, "ecg_too_long"),
    # a duration with hundreds of digits, or a sampling rate of infinity (overflowed into "our error")
    (lambda d: _replace(d, 'durationperchannel="', 'durationperchannel="' + "9" * 400), InvalidEcg, "ecg_too_long"),
    (lambda d: _replace(d, 'samplespersecond="500"', 'samplespersecond="inf"'), InvalidEcg, "ecg_no_samples"),
    # leads that decode far longer than the declared duration (LZW: a few bytes may stand for hundreds):
    # decoding stops at the declared length instead of inflating the whole chunk first
    (lambda d: _replace(d, 'durationperchannel="', 'durationperchannel="100" x="'), InvalidEcg,
     "sierra_bad_waveform"),
    # the control: the same file unchanged reads
    (lambda d: _replace(d, 'compression="XLI"', 'compression="XLI"').decode("utf-16").encode("utf-16"), None, None),
])
def test_a_hostile_or_broken_philips_file_is_refused_with_a_reason(at_500, change, error, code):
    data = change(make_sierra(at_500))
    if error is None:  # the control: unchanged, it reads
        assert read_ecg(data).lead_names[0] == "I"
        return
    with pytest.raises(error) as caught:
        read_ecg(data)
    assert isinstance(caught.value, FormatError) and caught.value.message
    if code:
        assert caught.value.code == code


def test_truncated_xli_chunks_are_refused_not_crashed(at_500):
    import base64
    import re

    text = make_sierra(at_500).decode("utf-16")
    payload = re.search(r'signalsigned="True">([^<]+)<', text).group(1)
    cut = base64.b64encode(base64.b64decode(payload)[:300]).decode()
    with pytest.raises(InvalidEcg) as caught:
        read_ecg(text.replace(payload, cut).encode("utf-16"))
    assert caught.value.code in ("ecg_no_samples", "sierra_bad_waveform")
