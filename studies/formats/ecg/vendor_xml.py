"""What the two vendors' XML readers (GE MUSE, muse.py; Philips Sierra, sierra.py) share: parsing with DTDs
allowed and never fetched, entities refused (defusedxml), and reading the device's measurements block."""
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import InvalidEcg, UnsafeXml
from .model import measurement_key


def parse_vendor_xml(data: bytes, *, vendor: str, bad_xml_code: str) -> Element:
    """The document's root element; `vendor` names the file in the messages ("MUSE", "Philips")."""
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXml(f"The {vendor} XML declares entities, which we refuse for safety.") from exc
    except (ParseError, ValueError) as exc:
        raise InvalidEcg(f"The {vendor} XML is not well-formed ({exc}).", code=bad_xml_code) from exc


def local_name(tag: str) -> str:
    """A tag without its namespace: "{http://www3.medical.philips.com}heartrate" -> "heartrate"."""
    return tag.rsplit("}", 1)[-1]


def device_measurements(block: Element | None, vendor: str) -> dict[str, float]:
    """Each child of the measurements block that holds a number, by its canonical key (the vendor's name
    mapped, others kept as they came); of a name given twice the first value is kept."""
    out: dict[str, float] = {}
    for child in block if block is not None else []:
        try:
            value = float((child.text or "").strip())
        except ValueError:
            continue
        name = local_name(child.tag)
        out.setdefault(measurement_key(name, vendor) or name, value)
    return out
