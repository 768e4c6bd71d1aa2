"""Test data helpers: real files from the installed pydicom and pydicom-data packages
(never copied into this repository), and writers that turn the real 12-lead ECG of
pydicom's waveform_ecg.dcm into HL7 aECG, WFDB and CSV, so that all four ECG
readers are tested on one real signal."""
import importlib.util
import io
import os
import pathlib
import tempfile
import zipfile

import numpy as np
import pydicom


PYDICOM_FILES = pathlib.Path(pydicom.__file__).parent / "data" / "test_files"
_spec = importlib.util.find_spec("data_store")  # the pydicom-data package
DATA_STORE = pathlib.Path(_spec.origin).parent / "data" if _spec else None


def data_path(name: str) -> pathlib.Path:
    for folder in (PYDICOM_FILES, DATA_STORE):
        if folder is not None and (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{name} is in neither pydicom's test files nor pydicom-data")


def data_bytes(name: str) -> bytes:
    return data_path(name).read_bytes()


def make_aecg(ecg, *, leads=None, doctype: str = "") -> bytes:
    """A minimal HL7 aECG document in the FDA layout, scale 1 uV."""
    leads = leads or ecg.lead_names
    seqs = [
        '<component><sequence><code code="TIME_ABSOLUTE" codeSystem="2.16.840.1.113883.5.4"/>'
        '<value xsi:type="GLIST_TS"><head value="20130125105919.000"/>'
        f'<increment value="{1.0 / ecg.sampling_rate:.6f}" unit="s"/></value></sequence></component>'
    ]
    for name in leads:
        code = "MDC_ECG_LEAD_" + (name.upper() if not name.startswith("a") else "a" + name[1:].upper())
        digits = " ".join(map(str, ecg.leads[name].tolist()))
        seqs.append(
            f'<component><sequence><code code="{code}" codeSystem="2.16.840.1.113883.6.24"/>'
            '<value xsi:type="SLIST_PQ"><origin value="0" unit="uV"/><scale value="1" unit="uV"/>'
            f"<digits>{digits}</digits></value></sequence></component>"
        )
    annotations = "".join(
        f'<component><annotation><code code="{code}" codeSystem="2.16.840.1.113883.6.24"/>'
        f'<value xsi:type="PQ" value="{ecg.device_measurements[key]:g}" unit="ms"/></annotation></component>'
        for code, key in (("MDC_ECG_TIME_PD_QT", "qt_ms"), ("MDC_ECG_TIME_PD_QRS", "qrs_ms"),
                          ("MDC_ECG_TIME_PD_PR", "pr_ms"), ("MDC_ECG_TIME_PD_RR", "rr_ms"))
    )
    statements = "".join(
        f'<component><annotation><code code="MDC_ECG_INTERPRETATION_STATEMENT" codeSystem="2.16.840.1.113883.6.24"/>'
        f'<value xsi:type="ST">{text}</value></annotation></component>'
        for text in ecg.device_statements
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        '<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<id root="1.2.3"/><code code="93000" codeSystem="2.16.840.1.113883.6.12"/>'
        "<component><series><code code=\"RHYTHM\" codeSystem=\"2.16.840.1.113883.5.4\"/>"
        f"<component><sequenceSet>{''.join(seqs)}</sequenceSet></component>"
        f"<subjectOf><annotationSet>{annotations}{statements}</annotationSet></subjectOf>"
        "</series></component></AnnotatedECG>"
    )
    return xml.encode("utf-8")


def make_wfdb_zip(ecg, *, fmt: str = "16", units: str = "uV", gain: float = 1.0) -> bytes:
    """Write the ECG with the wfdb package itself, then zip .hea + .dat."""
    import wfdb

    names = ecg.lead_names
    microvolts = np.column_stack([ecg.leads[n] for n in names]).astype(np.float64)
    per_unit = 1.0 if units == "uV" else 1000.0
    digital = np.rint(microvolts / per_unit * gain).astype(np.int32)
    with tempfile.TemporaryDirectory() as folder:
        wfdb.wrsamp("rec1", fs=ecg.sampling_rate, units=[units] * len(names), sig_name=names,
                    d_signal=digital, fmt=[fmt] * len(names), adc_gain=[gain] * len(names),
                    baseline=[0] * len(names), write_dir=folder)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(os.listdir(folder)):
                zf.write(os.path.join(folder, name), arcname=name)
        return buf.getvalue()


def make_csv(ecg, *, units: str = "uV", header_line: str | None = None) -> bytes:
    names = ecg.lead_names
    table = np.column_stack([ecg.leads[n] for n in names])
    lines = [header_line if header_line is not None else f"# sampling_rate={ecg.sampling_rate:g}; units={units}",
             ",".join(names)]
    if units == "mV":
        lines += [",".join(f"{v / 1000:.3f}" for v in row) for row in table]
    else:
        lines += [",".join(map(str, row)) for row in table.tolist()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def make_edf(ecg, *, labels=None, plus: bool = True, extra_channels=(), units: str = "uV") -> bytes:
    """Write the ECG with pyedflib's own EdfWriter (EDF+ by default): one channel per lead, labelled
    like monitors do ("ECG II"), 16-bit over +-10 mV, plus any `extra_channels` (label, values, rate)."""
    import pyedflib

    names = ecg.lead_names
    labels = labels or [f"ECG {name}" for name in names]
    per_unit = 1.0 if units == "uV" else 1000.0
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ecg.edf")
        n = len(names) + len(extra_channels)
        writer = pyedflib.EdfWriter(path, n, file_type=pyedflib.FILETYPE_EDFPLUS if plus else pyedflib.FILETYPE_EDF)
        headers = [{"label": label, "dimension": units, "sample_frequency": ecg.sampling_rate,
                    "physical_min": -10000.0 / per_unit, "physical_max": 10000.0 / per_unit,
                    "digital_min": -32768, "digital_max": 32767, "transducer": "AgAgCl electrode",
                    "prefilter": "HP:0.05Hz LP:150Hz"} for label in labels]
        signals = [ecg.leads[name].astype(np.float64) / per_unit for name in names]
        for label, values, rate in extra_channels:
            headers.append({"label": label, "dimension": "%", "sample_frequency": rate, "physical_min": 0.0,
                            "physical_max": 100.0, "digital_min": -32768, "digital_max": 32767})
            signals.append(np.asarray(values, dtype=np.float64))
        writer.setSignalHeaders(headers)
        writer.writeSamples(signals)
        writer.close()
        with open(path, "rb") as handle:
            return handle.read()


def make_muse(ecg, *, per_bit: float = 4.88, doctype: bool = True) -> bytes:
    """A GE MUSE RestingECG XML document in MUSE's layout (no GE writer ships in a package): the eight
    stored leads as base64 int16 at `per_bit` uV per bit, a median waveform ahead of the rhythm one,
    GE's measurement names and diagnosis statements."""
    import base64

    def lead_xml(name):
        digital = np.rint(ecg.leads[name] / per_bit).astype("<i2")
        return (f"<LeadData><LeadByteCountTotal>{digital.nbytes}</LeadByteCountTotal><LeadSampleCountTotal>"
                f"{len(digital)}</LeadSampleCountTotal><LeadAmplitudeUnitsPerBit>{per_bit}</LeadAmplitudeUnitsPerBit>"
                f"<LeadAmplitudeUnits>MICROVOLTS</LeadAmplitudeUnits><LeadID>{name}</LeadID><LeadSampleSize>2"
                f"</LeadSampleSize><WaveFormData>{base64.b64encode(digital.tobytes()).decode()}</WaveFormData></LeadData>")

    m = ecg.device_measurements
    stored = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    median = "<Waveform><WaveformType>Median</WaveformType><SampleBase>500</SampleBase></Waveform>"
    rhythm = (f"<Waveform><WaveformType>Rhythm</WaveformType><WaveformStartTime>0</WaveformStartTime>"
              f"<NumberofLeads>8</NumberofLeads><SampleType>CONTINUOUS_SAMPLES</SampleType>"
              f"<SampleBase>{ecg.sampling_rate:g}</SampleBase><SampleExponent>0</SampleExponent>"
              f"{''.join(lead_xml(n) for n in stored)}</Waveform>")
    measurements = (f"<RestingECGMeasurements><VentricularRate>{round(60000 / m['rr_ms'])}</VentricularRate>"
                    f"<AtrialRate>{round(60000 / m['rr_ms'])}</AtrialRate><PRInterval>{m['pr_ms']:g}</PRInterval>"
                    f"<QRSDuration>{m['qrs_ms']:g}</QRSDuration><QTInterval>{m['qt_ms']:g}</QTInterval>"
                    f"<QTCorrected>{m['qtc_ms']:g}</QTCorrected><PAxis>{m['p_axis_deg']:g}</PAxis>"
                    f"<RAxis>{m['qrs_axis_deg']:g}</RAxis><TAxis>{m['t_axis_deg']:g}</TAxis>"
                    f"<QTcFrederica>369</QTcFrederica><QRSCount>10</QRSCount></RestingECGMeasurements>")
    statements = "".join(f"<DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>{s}</StmtText>"
                         "</DiagnosisStatement>" for s in ecg.device_statements)
    xml = ('<?xml version="1.0" encoding="ISO-8859-1"?>'
           + ('<!DOCTYPE RestingECG SYSTEM "restecg.dtd">' if doctype else "")
           + "<RestingECG><MuseInfo><MuseVersion>9.0.9.18167</MuseVersion></MuseInfo>"
           "<TestDemographics><DataType>RESTING</DataType><AcquisitionDevice>MAC2000</AcquisitionDevice>"
           f"</TestDemographics>{measurements}<Diagnosis><Modality>RESTING</Modality>{statements}</Diagnosis>"
           f"{median}{rhythm}</RestingECG>")
    return xml.encode("iso-8859-1")


# --- Philips Sierra XML --------------------------------------------------------------------------------
# No Philips writer ships in a package: these write the PageWriter layout (Sierra ECG 1.04, UTF-16, the
# Philips namespace) with the 12 leads uncompressed or XLI-compressed, the encoding that sierraecg's
# decoder (xli.py, lzw.py) undoes: per lead, second differences packed as high bytes then low bytes,
# LZW with 10-bit codes, after an 8-byte header (chunk size, and the third sample's prediction error).

def _lzw_10bit(data: bytes) -> bytes:
    table = {bytes([i]): i for i in range(256)}
    next_code, max_code, codes, word = 256, (1 << 10) - 2, [], b""
    for value in data:
        grown = word + bytes([value])
        if grown in table:
            word = grown
            continue
        codes.append(table[word])
        if next_code <= max_code:
            table[grown] = next_code
            next_code += 1
        word = bytes([value])
    if word:
        codes.append(table[word])
    bits = "".join(format(code, "010b") for code in codes)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def xli_encode(leads: list[np.ndarray]) -> bytes:
    out = b""
    for samples in leads:
        s = [int(v) for v in samples]
        deltas = [s[0], s[1]] + [0] * (len(s) - 2)
        for i in range(3, len(s)):
            deltas[i - 1] = 2 * s[i - 1] - s[i - 2] - s[i] + 64
        deltas[-1] = 64
        start = 2 * s[1] - s[0] - s[2]
        packed = np.array(deltas, dtype=np.int16).astype(np.uint16)
        chunk = _lzw_10bit(bytes((packed >> 8).astype(np.uint8)) + bytes((packed & 0xFF).astype(np.uint8)))
        out += len(chunk).to_bytes(4, "little") + b"\x00\x00" + start.to_bytes(2, "little", signed=True) + chunk
    return out


SIERRA_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def make_sierra(ecg, *, compression: str = "XLI", resolution: float = 5.0, statements=None) -> bytes:
    """A Philips Sierra ECG 1.04 document of `ecg` at `resolution` uV per unit (12 leads; for XLI, III and
    the augmented leads are stored as what is left after predicting them from I and II, as PageWriters do)."""
    import base64

    units = {n: np.rint(ecg.leads[n] / resolution).astype(np.int64) for n in SIERRA_LEADS}
    one, two = units["I"], units["II"]
    if compression == "XLI":  # what sierraecg's read_file adds back: III = II - I - stored, ...
        units["III"] = two - one - units["III"]
        units["aVR"] = -units["aVR"] - np.floor((one + two) / 2).astype(np.int64)
        units["aVL"] = np.floor((one - units["III"]) / 2).astype(np.int64) - units["aVL"]
        units["aVF"] = np.floor((two + units["III"]) / 2).astype(np.int64) - units["aVF"]
        payload = xli_encode([units[n] for n in SIERRA_LEADS])
    else:
        payload = b"".join(units[n].astype("<i2").tobytes() for n in SIERRA_LEADS)
    rate = int(ecg.sampling_rate)
    duration_ms = int(round(ecg.n_samples * 1000 / rate))
    m = ecg.device_measurements
    measurements = "".join(f'<{tag} editedflag="False">{value:g}</{tag}>' for tag, value in (
        ("heartrate", round(60000 / m["rr_ms"])), ("rrint", m["rr_ms"]), ("atrialrate", round(60000 / m["rr_ms"])),
        ("pdur", 98), ("print", m["pr_ms"]), ("qrsdur", m["qrs_ms"]), ("qtint", m["qt_ms"]), ("qtcb", m["qtc_ms"]),
        ("qtcf", 401), ("pfrontaxis", m["p_axis_deg"]), ("qrsfrontaxis", m["qrs_axis_deg"]),
        ("tfrontaxis", m["t_axis_deg"]), ("qrshorizaxis", -63)))
    statements = statements if statements is not None else [("SR", "SINUS RHYTHM", "normal P axis, V-rate 60-99")]
    statement_xml = "".join(f'<statement editedflag="False"><statementcode>{code}</statementcode><leftstatement>{left}'
                            f"</leftstatement><rightstatement>{right}</rightstatement></statement>"
                            for code, left, right in statements)
    xml = ('<?xml version="1.0" encoding="utf-16"?>\n'
           '<restingecgdata xmlns="http://www3.medical.philips.com" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" status="Await confirm" lang="en">'
           "<documentinfo><documenttype>PhilipsECG</documenttype><documentversion>1.04</documentversion></documentinfo>"
           '<dataacquisition date="2010-01-19" time="15:19:22"><machine machineid="EKG1715">PageWriter Touch</machine>'
           f"<signalcharacteristics><samplingrate>{rate}</samplingrate><resolution>{resolution:g}</resolution>"
           "<acquisitiontype>10-WIRE</acquisitiontype><bitspersample>16</bitspersample><signaloffset>0</signaloffset>"
           "<signalsigned>True</signalsigned><numberchannelsallocated>12</numberchannelsallocated>"
           "<numberchannelsvalid>12</numberchannelsvalid></signalcharacteristics></dataacquisition>"
           '<interpretations><interpretation date="2010-01-19" time="15:19:22">'
           f'<globalmeasurements editedflag="False">{measurements}</globalmeasurements>'
           f"{statement_xml}</interpretation></interpretations>"
           f'<waveforms><parsedwaveforms dataencoding="Base64" compression="{compression}" numberofleads="12" '
           f'leadlabels="{" ".join(SIERRA_LEADS)}" durationperchannel="{duration_ms}" samplespersecond="{rate}" '
           f'resolution="{resolution:g}" signalsigned="True">{base64.b64encode(payload).decode()}</parsedwaveforms>'
           "</waveforms></restingecgdata>")
    return xml.encode("utf-16")


# --- SCP-ECG (EN 1064) -----------------------------------------------------------------------------------
# No SCP-ECG writer ships in a package: this writes the standard's layout (record CRC and length, Section 0
# pointers, each section's 16-byte header and CRC-CCITT), the rhythm as second differences encoded with the
# default Huffman table (Section 2 = 19999) or as plain 16-bit values.

SCP_CODES = {"I": 1, "II": 2, "V1": 3, "V2": 4, "V3": 5, "V4": 6, "V5": 7, "V6": 8, "III": 61, "aVR": 62, "aVL": 63,
             "aVF": 64}


def _scp_section(number: int, body: bytes, reserved: bytes = bytes(6)) -> bytes:
    from studies.formats.ecg.scp import crc_ccitt

    rest = number.to_bytes(2, "little") + (16 + len(body)).to_bytes(4, "little") + bytes([20, 20]) + reserved + body
    return crc_ccitt(rest).to_bytes(2, "little") + rest


def _scp_huffman(values) -> bytes:
    bits = []
    for v in values:
        v = int(v)
        if v == 0:
            bits.append("0")
        elif -8 <= v <= 8:
            bits.append("1" * abs(v) + "0" + ("0" if v > 0 else "1"))
        elif -128 <= v <= 127:
            bits.append("1111111110" + format(v & 0xFF, "08b"))
        else:
            bits.append("1111111111" + format(v & 0xFFFF, "016b"))
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return int(text, 2).to_bytes(len(text) // 8, "big")


def make_scp(ecg, *, huffman: bool = True, nanovolts: int = 5000, leads=None, statements=("Sinus rhythm",),
             flags: int = 0b0000_0100, section2: int = 19999, span_end=None) -> bytes:
    """An SCP-ECG record of `ecg` at `nanovolts` per unit; `flags` is Section 3's (bit 0: reference beat
    subtracted), `span_end` overrides each lead's last sample number (a file claiming more than it holds)."""
    from studies.formats.ecg.scp import crc_ccitt

    leads = leads or [n for n in SCP_CODES if n in ecg.leads]
    n = ecg.n_samples
    lead_def = bytes([len(leads), flags]) + b"".join(
        (1).to_bytes(4, "little") + (span_end or n).to_bytes(4, "little") + bytes([SCP_CODES[name]]) for name in leads)
    streams = []
    for name in leads:
        units = np.rint(ecg.leads[name] * 1000.0 / nanovolts).astype(np.int64)
        if huffman:
            second = units.copy()
            second[2:] = units[2:] - 2 * units[1:-1] + units[:-2]
            streams.append(_scp_huffman(second))
        else:
            streams.append(units.astype("<i2").tobytes())
    rhythm = (nanovolts.to_bytes(2, "little") + int(round(1e6 / ecg.sampling_rate)).to_bytes(2, "little")
              + bytes([2 if huffman else 0, 0]) + b"".join(len(s).to_bytes(2, "little") for s in streams)
              + b"".join(streams))
    m = ecg.device_measurements
    p_on, qrs_on = 400, 400 + int(m["pr_ms"])
    measurements = (bytes([2, 0]) + int(m["rr_ms"]).to_bytes(2, "little") + int(m["rr_ms"]).to_bytes(2, "little")
                    + b"".join(int(v).to_bytes(2, "little") for v in (p_on, p_on + 98, qrs_on, qrs_on + int(m["qrs_ms"]),
                                                                     qrs_on + int(m["qt_ms"])))
                    + b"".join(int(v).to_bytes(2, "little", signed=True) for v in (m["p_axis_deg"], m["qrs_axis_deg"],
                                                                                   m["t_axis_deg"])))
    texts = [s.encode("utf-8") + b"\x00" for s in statements]
    interpretation = (bytes([1]) + (2026).to_bytes(2, "little") + bytes([3, 2, 9, 30, 0, len(texts)])
                      + b"".join(bytes([i + 1]) + len(t).to_bytes(2, "little") + t for i, t in enumerate(texts)))
    bodies = {1: bytes([255, 0, 0]), 3: lead_def, 6: rhythm, 7: measurements, 8: interpretation}
    if huffman:
        bodies[2] = section2.to_bytes(2, "little")
    # Section 0 lists sections 0-11, then the others follow it in order
    pointer_size = 16 + 12 * 10
    offset = 6 + pointer_size
    placed, pointers = [], b""
    for number in range(12):
        if number == 0:
            pointers += (0).to_bytes(2, "little") + pointer_size.to_bytes(4, "little") + (7).to_bytes(4, "little")
        elif number in bodies:
            section = _scp_section(number, bodies[number])
            pointers += number.to_bytes(2, "little") + len(section).to_bytes(4, "little") + (offset + 1).to_bytes(4, "little")
            placed.append(section)
            offset += len(section)
        else:
            pointers += number.to_bytes(2, "little") + bytes(8)
    record = _scp_section(0, pointers, b"SCPECG") + b"".join(placed)
    body = (6 + len(record)).to_bytes(4, "little") + record
    return crc_ccitt(body).to_bytes(2, "little") + body
