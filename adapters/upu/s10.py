"""UPU S10 item identifiers and S9 receptacle identifiers: parse, validate, normalise.

S10: 2-letter service indicator + 8-digit serial + check digit + ISO 3166-1 alpha-2 country,
e.g. ``RR123456785DE``. Check digit: weights 8,6,4,2,3,5,9,7; c = 11 - (sum mod 11); 10 → 0, 11 → 5.

S9 receptacle id (29 characters): origin office (6) + destination office (6) + mail category (1) +
mail subclass (2) + last digit of year (1) + dispatch number (4) + receptacle serial (3) +
highest-receptacle indicator (1) + registered/insured indicator (1) + weight in 0.1 kg (4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pycountry

_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
# re.ASCII: without it \d also matches fullwidth and Arabic-Indic digits, which int() then accepts; every
# pattern is used with fullmatch, since "$" would also accept a trailing newline.
_S10 = re.compile(r"([A-Z]{2})(\d{8})(\d)([A-Z]{2})", re.ASCII)
_S9 = re.compile(r"([A-Z]{2}[A-Z0-9]{4})([A-Z]{2}[A-Z0-9]{4})([A-Z])([A-Z0-9]{2})(\d)(\d{4})(\d{3})(\d)(\d)(\d{4})",
                 re.ASCII)

# Service indicators usable on international items (first letter), and Q[A-M] for IBRS.
_INTERNATIONAL_FIRST = frozenset("CEHLMRUV")
_DOMESTIC_ONLY = re.compile(r"(?:[BDNPZ][A-Z]|A[V-Z]|G[AD])")
_IBRS = re.compile(r"Q[A-M]")


class S10Error(ValueError):
    """An identifier is not a valid S10 (or S9) id; ``str(exc)`` is the reason."""


def check_digit(serial: str) -> int:
    """The S10 check digit of an 8-digit serial number."""
    if len(serial) != 8 or not serial.isdigit() or not serial.isascii():
        raise S10Error(f"serial number must be 8 digits, got {serial!r}")
    s = sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True))
    c = 11 - (s % 11)
    return {10: 0, 11: 5}.get(c, c)


@cache
def _country_codes() -> frozenset[str]:
    # Built on first use, not at import: pycountry loads its database lazily, and node start-up
    # should not pay for it before a document arrives.
    return frozenset(country.alpha_2 for country in pycountry.countries)


@cache
def _currency_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def is_country(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 country code (pycountry's list)."""
    return len(code) == 2 and code.isascii() and code.isupper() and code in _country_codes()


def is_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 alphabetic currency code (pycountry's list)."""
    return len(code) == 3 and code.isascii() and code.isupper() and code in _currency_codes()


@dataclass(frozen=True)
class S10:
    service_indicator: str
    serial: str
    check_digit: int
    country: str

    def __str__(self) -> str:
        return f"{self.service_indicator}{self.serial}{self.check_digit}{self.country}"


def normalise(text: str) -> str:
    """Upper-case and remove spaces and hyphens, as printed on labels (``rr 123 456 785 de``)."""
    return re.sub(r"[\s-]", "", text).upper()


def parse(text: str, *, international: bool = True) -> S10:
    """Parse and validate an S10 id given exactly (use :func:`normalise` first for printed forms).

    ``international`` (default) rejects the domestic-only service indicator ranges.
    """
    m = _S10.fullmatch(text)
    if not m:
        raise S10Error("not an S10 identifier (2 letters, 8 digits, check digit, 2-letter country)")
    indicator, serial, digit, country = m.groups()
    if _DOMESTIC_ONLY.fullmatch(indicator):
        if international:
            raise S10Error(f"service indicator {indicator} is reserved for domestic items")
    elif not (indicator[0] in _INTERNATIONAL_FIRST or _IBRS.fullmatch(indicator)):
        raise S10Error(f"service indicator {indicator} is not an S10 service indicator")
    expected = check_digit(serial)
    if int(digit) != expected:
        raise S10Error(f"check digit is {digit}, expected {expected}")
    if not is_country(country):
        raise S10Error(f"{country} is not an ISO 3166-1 country code")
    return S10(indicator, serial, int(digit), country)


def validate(text: str, *, international: bool = True) -> str | None:
    """The reason ``text`` is not a valid S10 id, or None when it is."""
    try:
        parse(text, international=international)
    except S10Error as exc:
        if text != normalise(text):
            try:
                parse(normalise(text), international=international)
                return f"S10 identifier must be written without spaces, in capitals: {normalise(text)}"
            except S10Error:
                pass
        return str(exc)
    return None


def is_valid(text: str, *, international: bool = True) -> bool:
    return validate(text, international=international) is None


@dataclass(frozen=True)
class ReceptacleId:
    origin_office: str
    destination_office: str
    mail_category: str
    mail_subclass: str
    year_digit: int
    dispatch_number: str
    receptacle_serial: str
    highest_receptacle: bool
    registered_or_insured: str
    weight_kg: str

    @property
    def origin_country(self) -> str:
        return self.origin_office[:2]

    @property
    def destination_country(self) -> str:
        return self.destination_office[:2]


def parse_receptacle(text: str) -> ReceptacleId:
    """Parse and validate a 29-character S9 receptacle identifier."""
    if len(text) != 29:
        raise S10Error(f"receptacle identifier must be 29 characters, got {len(text)}")
    m = _S9.fullmatch(text)
    if not m:
        raise S10Error("not an S9 receptacle identifier (office, office, category, subclass, year, dispatch, "
                       "serial, indicators, weight)")
    orig, dest, cat, sub, year, dispatch, serial, hri, reg, weight = m.groups()
    for office in (orig, dest):
        if not is_country(office[:2]):
            raise S10Error(f"office of exchange {office} does not start with an ISO 3166-1 country code")
    if cat not in "ABCD":
        raise S10Error(f"mail category {cat} is not A, B, C or D")
    if hri not in "01":
        raise S10Error(f"highest-receptacle indicator {hri} is not 0 or 1")
    if reg not in "019":
        raise S10Error(f"registered/insured indicator {reg} is not 0, 1 or 9")
    grams = int(weight) * 100
    return ReceptacleId(orig, dest, cat, sub, int(year), dispatch, serial, hri == "1", reg,
                        f"{grams // 1000}.{(grams % 1000) // 100}")


def validate_receptacle(text: str) -> str | None:
    try:
        parse_receptacle(text)
    except S10Error as exc:
        return str(exc)
    return None
