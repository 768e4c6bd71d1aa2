"""The room socket's wire protocol (docs/signalling.md): strict parsing of client frames, the
per-connection rate limit, error frames. Speaks JSON, not the domain: imports no ORM."""
import json
import time
from dataclasses import dataclass

from . import ecg_wire

MAX_MESSAGE_BYTES = 64 * 1024
MAX_CHAT_CHARS = 2000
MAX_SDP_CHARS = 60 * 1024
MAX_ID = 2**53  # ids travel as JSON numbers; anything larger is not one of ours


class ProtocolError(Exception):
    """A frame the server refuses; nothing was changed. `code` is machine-readable."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


def _bool(value) -> bool:
    return isinstance(value, bool)


def _id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < MAX_ID


def _seq(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_ID


def _sdp(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_SDP_CHARS


def _pc_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and value.isalnum()


def _chat(value) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= MAX_CHAT_CHARS


def _fraction(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _rtt(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 60_000


def _media_state(value) -> bool:
    return value in ("lost", "restored")


def _units(value) -> bool:
    return value in ecg_wire.UNITS


def _ecg_leads(value) -> bool:
    ecg_wire.decode_leads(value)  # raises ChunkError (a ValueError) saying what is wrong
    return True


# type -> {field: (check, required, what the field must be)}; a check may raise ValueError(what)
SCHEMA: dict[str, dict[str, tuple]] = {
    "join": {"last_seq": (_seq, False, "a whole number >= 0, the last seq you received"),
             "ecg_seq": (_seq, False, "a whole number >= 0, the last chunk seq you received of the live ECG")},
    "leave": {},
    "ping": {},
    "publish": {"sdp": (_sdp, True, f"the offer's SDP text (at most {MAX_SDP_CHARS} characters)"),
                "id": (_id, False, "a positive whole number; the publish_answer repeats it")},
    "subscribe_answer": {"pc_id": (_pc_id, True, "the pc_id of the subscribe_offer"),
                         "sdp": (_sdp, True, f"the answer's SDP text (at most {MAX_SDP_CHARS} characters)")},
    "mute": {"audio": (_bool, True, "true or false"), "video": (_bool, True, "true or false")},
    "audio_only": {"enabled": (_bool, True, "true or false")},
    "media": {"state": (_media_state, True, '"lost" (my media connection died; reconnecting) or "restored"')},
    "chat": {"text": (_chat, True, f"1 to {MAX_CHAT_CHARS} characters of text")},
    "admit": {"participant": (_id, True, "a participant id")},
    "remove": {"participant": (_id, True, "a participant id")},
    "quality": {"loss": (_fraction, True, "a fraction between 0 and 1"),
                "rtt_ms": (_rtt, True, "milliseconds between 0 and 60000")},
    "ecg_start": {"leads": (ecg_wire.check_leads, True, "a list of 1 to 12 distinct lead names among "
                            "I, II, III, aVR, aVL, aVF, V1-V6"),
                  "sampling_rate": (ecg_wire.check_rate, True, f"samples per second per lead, "
                                    f"{ecg_wire.MIN_RATE} to {ecg_wire.MAX_RATE}"),
                  "units": (_units, True, '"uV" (int16 microvolts)')},
    "ecg_chunk": {"stream": (_id, True, "the stream id of the ecg.started event"),
                  "seq": (_seq, True, "the chunk's number in its stream: 0, 1, 2..."),
                  "leads": (_ecg_leads, True, "an object of lead name -> base64 int16 samples")},
    "ecg_stop": {"stream": (_id, True, "the stream id of the ecg.started event")},
    "ecg_replay": {"ecg": (_id, True, "the id of an ECG study of this consultation")},
}


def parse_frame(text: str | None, binary: bytes | None) -> dict:
    """One client frame -> a validated message dict. Raises ProtocolError with the reason."""
    if binary is not None:
        raise ProtocolError("binary_unsupported", "Send JSON text frames; binary frames are not accepted.")
    if text is None:
        raise ProtocolError("malformed", "Empty frame.")
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode()) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"A message may be at most {MAX_MESSAGE_BYTES} bytes.")
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError("malformed", "The frame is not valid JSON.") from None
    return validate(message)


def validate(message) -> dict:
    if not isinstance(message, dict):
        raise ProtocolError("malformed", "A message is a JSON object with a 'type'.")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in SCHEMA:
        raise ProtocolError("unknown_type", f"Unknown message type {str(kind)[:40]!r}; see docs/signalling.md.")
    fields = SCHEMA[kind]
    unknown = sorted(set(message) - set(fields) - {"type"})
    if unknown:
        raise ProtocolError("invalid", f"'{kind}' does not take field(s): {', '.join(unknown)[:200]}.")
    for name, (check, required, what) in fields.items():
        if name not in message:
            if required:
                raise ProtocolError("invalid", f"'{kind}' needs '{name}': {what}.")
            continue
        try:
            ok = check(message[name])
        except ValueError as exc:
            ok, what = False, str(exc)
        if not ok:
            raise ProtocolError("invalid", f"'{kind}.{name}' must be {what}.")
    return message


def error_frame(code: str, detail: str, **extra) -> dict:
    return {"type": "error", "code": code, "detail": detail, **extra}


@dataclass
class TokenBucket:
    """Per-connection rate limit: `capacity` messages at once, `rate` per second sustained.

    A message that finds the bucket empty is refused (a strike); `max_strikes` refusals
    before the bucket has refilled mark the connection as abusive (the consumer closes it)."""

    capacity: float = 40
    rate: float = 20
    max_strikes: int = 20

    def __post_init__(self):
        self.tokens = self.capacity
        self.strikes = 0
        self.updated = time.monotonic()

    def take(self, cost: float = 1) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            if self.tokens >= self.capacity / 2:
                self.strikes = 0
            return True
        self.strikes += 1
        return False

    @property
    def abusive(self) -> bool:
        return self.strikes >= self.max_strikes
