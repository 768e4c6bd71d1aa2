"""ECG samples as compact JSON for the viewer."""
import json

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from studies.formats.ecg.serve import decode_samples, ecg_samples_json
from studies.formats.errors import InvalidEcg


def test_full_resolution_subset_and_range_is_exact(reference_ecg):
    body = ecg_samples_json(reference_ecg, leads=["II", "V5"], start_s=2.0, end_s=3.5)
    json.dumps(body)  # JSON-ready
    assert list(body["leads"]) == ["II", "V5"]
    assert body["sampling_rate"] == 1000 and body["n_samples"] == 1500 and body["start_s"] == 2.0
    for name in ("II", "V5"):
        decoded = decode_samples(body["leads"][name], body["encoding"])
        assert np.array_equal(decoded, reference_ecg.leads[name][2000:3500])


def test_int_list_encoding_round_trips(reference_ecg):
    body = ecg_samples_json(reference_ecg, leads=["I"], encoding="int-list")
    assert decode_samples(body["leads"]["I"], "int-list").tolist() == reference_ecg.leads["I"].tolist()


def test_overview_is_decimated_with_anti_aliasing(reference_ecg):
    body = ecg_samples_json(reference_ecg, overview=True)
    assert body["overview"] and 100 <= body["sampling_rate"] <= 125
    signal = reference_ecg.leads["II"].astype(float)
    overview = decode_samples(body["leads"]["II"], body["encoding"]).astype(float)
    step = int(reference_ecg.sampling_rate / body["sampling_rate"])
    assert len(overview) == body["n_samples"] == -(-len(signal) // step)
    # the overview follows the low-passed signal (< 50 Hz), not aliased noise
    lowpassed = sosfiltfilt(butter(8, 50, fs=reference_ecg.sampling_rate, output="sos"), signal)[::step]
    assert np.corrcoef(overview, lowpassed)[0, 1] > 0.98
    # and is about 8x smaller than full resolution
    full = ecg_samples_json(reference_ecg)
    assert len(json.dumps(body)) * 6 < len(json.dumps(full))


@pytest.mark.parametrize("kwargs", [{"leads": ["V7"]}, {"start_s": 5, "end_s": 4}, {"start_s": 12}, {"encoding": "hex"}])
def test_bad_requests_are_refused(reference_ecg, kwargs):
    with pytest.raises(InvalidEcg):
        ecg_samples_json(reference_ecg, **kwargs)
