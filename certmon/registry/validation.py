"""Pure validators for registry data: organisation numbers (MOD11), municipality numbers, rows."""

from __future__ import annotations

import re

_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_ORG_RE = re.compile(r"^\d{9}$")
_KNR_RE = re.compile(r"^\d{4}$")
# County numbers valid from 2024-01-01 (Kartverket); municipality numbers start with one of these.
COUNTY_NUMBERS = frozenset(
    {"03", "11", "15", "18", "31", "32", "33", "34", "39", "40", "42", "46", "50", "55", "56"}
)


def normalise_org_number(value: str) -> str:
    """Strip spaces and the 'NO'/'MVA' decorations people paste: `NO 958 935 420 MVA` → `958935420`."""
    text = value.strip().upper().removeprefix("NO").removesuffix("MVA")
    return re.sub(r"[\s.\-]", "", text)


def org_number_problem(value: str) -> str | None:
    """None if `value` is a valid Norwegian organisation number, else why not (in bokmål)."""
    if not _ORG_RE.match(value):
        return "organisasjonsnummeret må ha 9 siffer"
    total = sum(int(d) * w for d, w in zip(value[:8], _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(value[8]):
        return "kontrollsifferet (MOD11) stemmer ikke"
    return None


def municipality_number_problem(value: str) -> str | None:
    """None if `value` is a 4-digit municipality number in a current county, else why not."""
    if not _KNR_RE.match(value):
        return "kommunenummeret må ha 4 siffer"
    if value[:2] not in COUNTY_NUMBERS:
        return f"kommunenummeret begynner med {value[:2]}, som ikke er et gyldig fylkesnummer"
    return None


def normalise_domain(value: str) -> str:
    """Lower-case, strip scheme/`www.`/path/trailing dot, IDN to A-label: `Bærum.kommune.no` → xn--…"""
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    try:
        return text.encode("idna").decode("ascii") if text and not text.isascii() else text
    except UnicodeError:
        return text
