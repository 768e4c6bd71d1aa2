"""Benchmark of the formats library; prints one JSON object.

    .venv/bin/python bench/formats_bench.py [--runs N] [--only rhythm]

- ecg: milliseconds per 10 s 12-lead record (pydicom's waveform_ecg.dcm) for
  read_ecg + measure_ecg, with bare pydicom dcmread (+ waveform_array) of the same
  bytes as the baseline, medians over N runs; also each reader alone.
- dicom_index: index_dicom per instance versus bare pydicom dcmread over the same
  files (pydicom's and pydicom-data's test files that index cleanly), same run.
- render: render_frame (PNG) per frame for a few sizes.
- rhythm: analyse_ecg (beats, rhythm, statements, intervals, criticals) of a 10 s 12-lead at 500 Hz
  (the real record resampled) and at its own 1000 Hz, p50/p95, against pydicom's read (dcmread +
  waveform_array) of the same file; the machine's load average beside it (other engineers share it);
  and the agreement of our rhythm with the device's statements on every file that carries them.
Everything runs from memory (files read once before timing).
"""
import argparse
import io
import json
import pathlib
import statistics
import sys
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "formats"))  # the real-signal aECG/WFDB/CSV writers

import pydicom  # noqa: E402

from formats_samples import DATA_STORE, PYDICOM_FILES, data_bytes, make_aecg, make_csv, make_wfdb_zip  # noqa: E402
from studies.formats import index_dicom, read_dicom, render_frame  # noqa: E402
from studies.formats.ecg import read_aecg, read_csv_ecg, read_dicom_ecg, read_ecg, read_wfdb_zip  # noqa: E402
from studies.formats.ecg.measure import measure_ecg  # noqa: E402
from studies.formats.errors import FormatError  # noqa: E402


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def bench_ecg(runs: int) -> dict:
    data = data_bytes("waveform_ecg.dcm")
    ecg = read_dicom_ecg(data)
    others = {"aecg": (read_aecg, make_aecg(ecg)), "wfdb": (read_wfdb_zip, make_wfdb_zip(ecg)),
              "csv": (read_csv_ecg, make_csv(ecg))}
    measure_ecg(ecg)  # warm-up: imports neurokit2 (about 2 s, once per process)
    baseline = median_ms(lambda: pydicom.dcmread(io.BytesIO(data)).waveform_array(0), runs)
    return {
        "record": "waveform_ecg.dcm: 12 leads x 10 s at 1000 Hz",
        "runs": runs,
        "read_and_measure_ms": median_ms(lambda: measure_ecg(read_ecg(data)), runs),
        "read_only_ms": {"dicom": median_ms(lambda: read_ecg(data), runs),
                         **{k: median_ms(lambda f=f, d=d: f(d), runs) for k, (f, d) in others.items()}},
        "measure_only_ms": median_ms(lambda: measure_ecg(ecg), runs),
        "baseline_pydicom_dcmread_plus_waveform_array_ms": baseline,
    }


def percentiles_ms(fn, runs: int) -> dict:
    """Wall-clock p50/p95, and the process's own CPU time p50 (what a loaded machine inflates least)."""
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 1), "p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
            "cpu_p50": round(statistics.median(cpu), 1)}


DEVICE_RHYTHM = {"RITMO SINUSALE": "sinus", "SINUS RHYTHM": "sinus", "NORMAL SINUS RHYTHM": "sinus",
                 "ATRIAL FIBRILLATION": "AF", "FIBRILLAZIONE ATRIALE": "AF"}
OUR_RHYTHM = {"sinus_rhythm": "sinus", "sinus_bradycardia": "sinus", "sinus_tachycardia": "sinus",
              "atrial_fibrillation": "AF", "af_rvr": "AF", "atrial_flutter": "AF", "atrial_flutter_2to1": "AF"}


def bench_rhythm(runs: int) -> dict:
    import os

    from formats_samples import make_edf, make_muse, make_scp, make_sierra
    from rhythm_samples import resampled
    from studies.formats.ecg.measure import analyse_ecg

    data = data_bytes("waveform_ecg.dcm")
    ecg = read_dicom_ecg(data)
    at_500 = resampled(ecg, 500)
    analyse_ecg(ecg)  # warm-up (neurokit2 import)
    load_before = os.getloadavg()
    result = {
        "record": "waveform_ecg.dcm: 12 leads x 10 s (1000 Hz; resampled to 500 Hz)", "runs": runs,
        "analyse_500hz_ms": percentiles_ms(lambda: analyse_ecg(at_500), runs),
        "analyse_1000hz_ms": percentiles_ms(lambda: analyse_ecg(ecg), runs),
        "baseline_pydicom_read_ms": percentiles_ms(lambda: pydicom.dcmread(io.BytesIO(data)).waveform_array(0), runs),
        # what the QT's T-wave ends cost before (neurokit2's whole dwt delineation, also Q/S peaks and P waves),
        # against the steps of it kept (measure.dwt_t_offsets), on the 500 Hz record's lead II, R peaks found in both
        "t_ends_neurokit2_ecg_delineate_dwt_ms": percentiles_ms(lambda: _full_dwt(at_500), runs),
        "t_ends_kept_steps_ms": percentiles_ms(lambda: _kept_dwt(at_500), runs),
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    files = {"waveform_ecg.dcm": data, "waveform_ecg as aECG": make_aecg(ecg), "waveform_ecg as GE MUSE XML": make_muse(ecg),
             "waveform_ecg as EDF+ (no statements)": make_edf(ecg),
             "waveform_ecg at 500 Hz as Philips Sierra XML (XLI)": make_sierra(at_500),
             "waveform_ecg at 500 Hz as SCP-ECG (default Huffman)": make_scp(at_500)}
    table = []
    for name, content in files.items():
        record = read_ecg(content)
        if not record.device_statements:
            continue
        device = next((DEVICE_RHYTHM[s.upper()] for s in record.device_statements if s.upper() in DEVICE_RHYTHM), "other")
        ours = OUR_RHYTHM.get(analyse_ecg(record).statements[0].code, "other")
        table.append({"file": name, "device": device, "computed": ours, "agree": device == ours})
    result["agreement_with_device_statements"] = table
    return result


def _peaks(ecg):
    from studies.formats.ecg.measure import r_peaks

    return r_peaks(ecg.leads["II"].astype(float), ecg.sampling_rate)


def _full_dwt(ecg):
    import neurokit2 as nk

    cleaned, rpeaks = _peaks(ecg)
    return nk.ecg_delineate(cleaned, rpeaks, sampling_rate=ecg.sampling_rate, method="dwt")


def _kept_dwt(ecg):
    from studies.formats.ecg.measure import dwt_t_offsets

    cleaned, rpeaks = _peaks(ecg)
    return dwt_t_offsets(cleaned, rpeaks, ecg.sampling_rate)


def bench_index(max_files: int) -> dict:
    paths = sorted(PYDICOM_FILES.glob("*.dcm")) + (sorted(DATA_STORE.glob("*.dcm")) if DATA_STORE else [])
    files = []
    for path in paths:
        data = path.read_bytes()
        try:
            index_dicom(data)
        except FormatError:
            continue
        files.append(data)
        if len(files) >= max_files:
            break
    ours, bare = [], []
    for data in files:
        ours.append(median_ms(lambda: index_dicom(data), 3))
        bare.append(median_ms(lambda: pydicom.dcmread(io.BytesIO(data)), 3))
    return {
        "instances": len(files),
        "total_mb": round(sum(map(len, files)) / 1e6, 1),
        "index_dicom_median_ms": round(statistics.median(ours), 3),
        "bare_dcmread_median_ms": round(statistics.median(bare), 3),
        "index_dicom_total_ms": round(sum(ours), 1),
        "bare_dcmread_total_ms": round(sum(bare), 1),
        "note": "index_dicom = one structural pass over every element (dicom_header) + index, or, where that "
                "pass steps aside (deflated, big endian, waveforms, anything odd), dcmread + every element "
                "converted + truncation/VR/size checks + index",
    }


def bench_render(runs: int) -> dict:
    out = {}
    for name in ("MR_small.dcm", "CT_small.dcm", "MR_small_jp2klossless.dcm", "US1_J2KR.dcm", "RG3_UNCI.dcm"):
        ds = read_dicom(data_bytes(name))
        out[f"{name} ({ds.Rows}x{ds.Columns}, {ds.file_meta.TransferSyntaxUID.name})"] = median_ms(
            lambda ds=ds: render_frame(ds), runs)
    return {"render_frame_png_ms": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--max-files", type=int, default=150)
    parser.add_argument("--only", choices=["rhythm"], help="run one part only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import logging
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    started = time.perf_counter()
    if args.only == "rhythm":
        print(json.dumps({"rhythm": bench_rhythm(max(20, args.runs))}, indent=2))
        return
    result = {"python": sys.version.split()[0], "pydicom": pydicom.__version__,
              "ecg": bench_ecg(args.runs), "dicom_index": bench_index(args.max_files),
              "render": bench_render(max(3, args.runs // 3)), "rhythm": bench_rhythm(max(20, args.runs))}
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
