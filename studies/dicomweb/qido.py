"""QIDO-RS: query parameters to querysets, rows to DICOM JSON (PS3.18 10.6)."""
from django.db.models import Q

from ..errors import InvalidInput
from .dicomjson import attr, da

TAG_KEYWORDS = {
    "0020000D": "StudyInstanceUID", "00100020": "PatientID", "00100010": "PatientName", "00080020": "StudyDate",
    "00080050": "AccessionNumber", "00080061": "ModalitiesInStudy", "0020000E": "SeriesInstanceUID",
    "00080060": "Modality", "00080018": "SOPInstanceUID", "00200011": "SeriesNumber", "00200013": "InstanceNumber",
    "00080016": "SOPClassUID",
}
MAX_LIMIT = 1000
MAX_OFFSET = 2**63 - 1  # PostgreSQL's OFFSET is a bigint


def params(query) -> dict[str, str]:
    out = {}
    for key, value in query.items():
        out[TAG_KEYWORDS.get(key.upper(), key)] = value
    return out


def page(rows, query):
    p = params(query)
    try:
        offset = int(p.get("offset", 0))
        limit = min(int(p.get("limit", 100)), MAX_LIMIT)
    except ValueError:
        raise InvalidInput("limit and offset must be integers.", code="bad_query")
    if offset > MAX_OFFSET:
        raise InvalidInput(f"offset must be at most {MAX_OFFSET}.", code="bad_query")
    return list(rows[max(offset, 0):max(offset, 0) + max(limit, 0)])


def _uids(value: str) -> list[str]:
    return [v.strip() for v in value.replace("\\", ",").split(",") if v.strip()]


def _text(field: str, value: str) -> Q:
    if "*" in value or "?" in value:
        if value.endswith("*") and "*" not in value[:-1] and "?" not in value:
            return Q(**{f"{field}__istartswith": value[:-1]})
        pattern = "^" + "".join(".*" if c == "*" else "." if c == "?" else _escape(c) for c in value) + "$"
        return Q(**{f"{field}__iregex": pattern})
    return Q(**{f"{field}__iexact": value})


def _escape(ch: str) -> str:
    return "\\" + ch if ch in ".^$+{}[]|()\\" else ch


def _date_range(field: str, value: str) -> Q:
    import datetime as dt

    def parse(text):
        try:
            return dt.datetime.strptime(text, "%Y%m%d").date() if text else None
        except ValueError:
            raise InvalidInput(f"Dates are YYYYMMDD or YYYYMMDD-YYYYMMDD, not {value!r}.", code="bad_query")

    if "-" in value:
        start, _, end = value.partition("-")
        q = Q()
        if start:
            q &= Q(**{f"{field}__gte": parse(start)})
        if end:
            q &= Q(**{f"{field}__lte": parse(end)})
        return q
    return Q(**{field: parse(value)})


def filter_studies(rows, query):
    p = params(query)
    if p.get("StudyInstanceUID"):
        rows = rows.filter(study_instance_uid__in=_uids(p["StudyInstanceUID"]))
    if p.get("PatientID"):
        rows = rows.filter(_text("dicom_patient_id", p["PatientID"]) | _text("patient__health_record_no", p["PatientID"]))
    if p.get("PatientName"):
        rows = rows.filter(_text("dicom_patient_name", p["PatientName"]) | _text("patient__name", p["PatientName"]))
    if p.get("StudyDate"):
        rows = rows.filter(_date_range("study_date", p["StudyDate"]))
    if p.get("AccessionNumber"):
        rows = rows.filter(accession_number=p["AccessionNumber"])
    if p.get("ModalitiesInStudy"):
        rows = rows.filter(series__modality__in=_uids(p["ModalitiesInStudy"]))
    return rows.order_by("-study_date", "-id")


def filter_series(rows, query):
    p = params(query)
    if p.get("SeriesInstanceUID"):
        rows = rows.filter(series_instance_uid__in=_uids(p["SeriesInstanceUID"]))
    if p.get("StudyInstanceUID"):
        rows = rows.filter(study__study_instance_uid__in=_uids(p["StudyInstanceUID"]))
    if p.get("Modality"):
        rows = rows.filter(modality__in=_uids(p["Modality"]))
    if p.get("SeriesNumber"):
        rows = rows.filter(series_number=_int(p["SeriesNumber"]))
    return rows.order_by("series_number", "id")


def filter_instances(rows, query):
    p = params(query)
    if p.get("SOPInstanceUID"):
        rows = rows.filter(sop_instance_uid__in=_uids(p["SOPInstanceUID"]))
    if p.get("SeriesInstanceUID"):
        rows = rows.filter(series__series_instance_uid__in=_uids(p["SeriesInstanceUID"]))
    if p.get("StudyInstanceUID"):
        rows = rows.filter(series__study__study_instance_uid__in=_uids(p["StudyInstanceUID"]))
    if p.get("SOPClassUID"):
        rows = rows.filter(sop_class_uid__in=_uids(p["SOPClassUID"]))
    if p.get("InstanceNumber"):
        rows = rows.filter(instance_number=_int(p["InstanceNumber"]))
    return rows.order_by("instance_number", "id")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a number.", code="bad_query")


def _study_attrs(study) -> dict:
    return {
        "00080020": attr("DA", da(study.study_date)), "00080030": attr("TM", study.study_time),
        "00080050": attr("SH", study.accession_number),
        "00100010": attr("PN", study.dicom_patient_name or (study.patient.name if study.patient else "")),
        "00100020": attr("LO", study.dicom_patient_id or (study.patient.health_record_no if study.patient else "")),
        "0020000D": attr("UI", study.study_instance_uid), "00081030": attr("LO", study.description),
    }


def study_json(study, base: str) -> dict:
    out = _study_attrs(study)
    out["00080061"] = attr("CS", *sorted({s.modality for s in study.series.all() if s.modality}))
    out["00201206"] = attr("IS", study.n_series)
    out["00201208"] = attr("IS", study.n_instances)
    out["00081190"] = attr("UR", f"{base}/studies/{study.study_instance_uid}")
    return dict(sorted(out.items()))


def series_json(series, base: str) -> dict:
    study = series.study
    out = {
        "00080060": attr("CS", series.modality), "0020000E": attr("UI", series.series_instance_uid),
        "00200011": attr("IS", series.series_number), "0008103E": attr("LO", series.description),
        "0020000D": attr("UI", study.study_instance_uid), "00201209": attr("IS", series.n_instances),
        "00081190": attr("UR", f"{base}/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"),
    }
    return dict(sorted(out.items()))


def instance_json(instance, base: str) -> dict:
    series, study = instance.series, instance.series.study
    out = {
        "00080016": attr("UI", instance.sop_class_uid), "00080018": attr("UI", instance.sop_instance_uid),
        "00200013": attr("IS", instance.instance_number), "00280010": attr("US", instance.rows),
        "00280011": attr("US", instance.columns), "00280008": attr("IS", instance.number_of_frames or None),
        "0020000E": attr("UI", series.series_instance_uid), "0020000D": attr("UI", study.study_instance_uid),
        "00080060": attr("CS", series.modality),
        "00081190": attr("UR", f"{base}/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
                               f"/instances/{instance.sop_instance_uid}"),
    }
    return dict(sorted(out.items()))
