"""DICOM JSON (PS3.18 F.2) for QIDO-RS results and WADO-RS metadata (no ORM)."""
import datetime as dt


def attr(vr: str, *values) -> dict:
    values = [v for v in values if v not in (None, "")]
    if not values:
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": str(v)} for v in values]}
    if vr in ("IS", "US", "UL"):
        return {"vr": vr, "Value": [int(v) for v in values]}
    return {"vr": vr, "Value": [str(v) for v in values]}


def da(value: dt.date | None) -> str | None:
    return value.strftime("%Y%m%d") if value else None


def sequence(items: list[dict]) -> dict:
    return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
