"""The resident ID number (公民身份号码, GB 11643-1999): its check character, birth date and sex.

18 characters: a 6-digit region code, the birth date YYYYMMDD, a 3-digit sequence code whose last
digit is odd for a man and even for a woman, and a check character (ISO 7064 MOD 11-2: the weighted
sum of the first 17 digits mod 11 indexes "10X98765432"). No ORM here: parsing only.
"""
import datetime as dt
import re
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
MALE, FEMALE = "M", "F"  # directory.models.Patient.Sex values


class BadResidentId(ValueError):
    """The number is not a valid resident ID; the message says why, for the user."""


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    sex: str  # MALE or FEMALE


def normalise(value: str) -> str:
    """Spaces dropped and a lower-case x made upper-case, as people type it."""
    return value.replace(" ", "").upper()


def check_character(first17: str) -> str:
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def looks_like(value: str) -> bool:
    """18 characters of the right shape (for telling an ID number apart from a name in a search box)."""
    return bool(SHAPE.match(normalise(value)))


def parse(value: str, *, today: dt.date | None = None) -> ResidentId:
    """The ID number's birth date and sex; BadResidentId if its shape, date or check character is wrong."""
    number = normalise(value)
    if not SHAPE.match(number):
        raise BadResidentId("A resident ID number has 17 digits and a last digit or X.")
    if check_character(number[:17]) != number[17]:
        raise BadResidentId("The resident ID number's check character is wrong: check the number for a typing error.")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise BadResidentId("The resident ID number holds no valid birth date.") from None
    if birth.year < 1880 or birth > (today or dt.date.today()):
        raise BadResidentId("The resident ID number holds no valid birth date.")
    return ResidentId(number=number, birth_date=birth, sex=MALE if int(number[16]) % 2 else FEMALE)


def make(region: str, birth: dt.date, serial: int, sex: str) -> str:
    """A valid ID number (demo data and tests): `serial` 0-99 of the day's sequence, its last digit by sex."""
    sequence = f"{serial % 100:02d}{(1 if sex == MALE else 0) + 2 * (serial % 5)}"
    body = f"{region}{birth:%Y%m%d}{sequence}"
    return body + check_character(body)
