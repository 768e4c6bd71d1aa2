"""Property-based tests over the parsers we own (tus headers, multipart) and the ingest parse path."""
import base64

from hypothesis import HealthCheck, given, settings, strategies as st

from studies import tus
from studies.dicomweb.multipart import build_related, content_type_params, parse_related
from studies.errors import InvalidInput
from studies.formats.ecg.measure import CriticalThresholds
from studies.formats.errors import FormatError
from studies.formats.limits import Limits
from studies.parsing import parse_upload
from tests.studies.badfiles import sample_bytes

CT = sample_bytes("CT_small.dcm")
LIMITS = Limits(max_file_bytes=1024 * 1024)


@given(st.text(max_size=300))
def test_metadata_header_either_parses_or_is_a_400(header):
    try:
        parsed = tus.parse_metadata(header)
    except tus.TusError as exc:
        assert exc.status == 400
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())


@given(st.dictionaries(st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.text(max_size=50), max_size=5))
def test_metadata_round_trips(pairs):
    assert tus.parse_metadata(tus.encode_metadata(pairs)) == pairs


@given(st.text(max_size=400))
def test_safe_filename_never_has_separators_nul_or_excess_length(name):
    safe = tus.safe_filename(name)
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe and 0 < len(safe) <= 255
    assert not safe.startswith(".")


@given(st.one_of(st.none(), st.text(max_size=80), st.binary(max_size=40).map(
    lambda b: "sha256 " + base64.b64encode(b).decode())))
def test_checksum_header_parses_to_a_digest_or_is_a_400(value):
    try:
        parsed = tus.parse_checksum(value)
    except tus.TusError as exc:
        assert exc.status == 400
    else:
        assert parsed is None or len(parsed[1]) in (20, 32)


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=4))
def test_multipart_round_trips_any_payloads(payloads):
    body, content_type = build_related([("application/dicom", p) for p in payloads], "application/dicom")
    assert [content for _, content in parse_related(body, content_type)] == payloads


NOT_MULTIPART = "STOW-RS bodies must be multipart/related with a boundary."
NOT_ASCII = "The multipart boundary must be ASCII (RFC 2046)."
NO_PARTS = "The multipart body has no parts."
NO_HEADERS = "A multipart part has no header block."


def _expected_refusal(body: bytes, content_type: str) -> set[str | None]:
    """What the parser must say of this body: the reasons it may give (None: it may parse it)."""
    boundary = content_type_params(content_type)[1].get("boundary")
    if not boundary:
        return {NOT_MULTIPART}
    if not boundary.isascii():
        return {NOT_ASCII}
    if body.count(b"--" + boundary.encode("ascii")) < 2:
        return {NO_PARTS}
    return {None, NO_HEADERS}


@given(st.binary(max_size=500), st.text(max_size=30))
def test_multipart_parser_refuses_garbage_with_a_reason(body, boundary):
    content_type = f"multipart/related; boundary={boundary}"
    expected = _expected_refusal(body, content_type)
    try:
        parts = parse_related(body, content_type)
    except InvalidInput as exc:
        # then the refusal is a 400 naming what is wrong with this body
        assert (exc.status, exc.code) == (400, "bad_multipart")
        assert exc.message in expected, (exc.message, expected)
    else:
        assert None in expected, f"parsed a body that should be refused with {expected}"
        assert all(isinstance(headers, dict) and isinstance(content, bytes) for headers, content in parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(CT) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(132, len(CT)))
def test_mutated_dicom_is_ingestable_or_refused_with_a_format_error(mutations, cut):
    # given the CT file with a few bytes changed and possibly cut short
    data = bytearray(CT)
    for position, value in mutations:
        data[position] = value
    # when ingest parses it, then it either parses or raises a FormatError: nothing else escapes
    try:
        parse_upload(bytes(data[:cut]), kind="auto", limits=LIMITS, thresholds=CriticalThresholds())
    except FormatError as exc:
        assert exc.code and exc.message
