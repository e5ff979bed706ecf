"""Recognise CVE ids, vendor/product names, severity words and exploitation claims in free text.

The product list is curated in `feeds/data/products.yaml`; matching is whole-word and
case-insensitive, longest alias first, so "Cisco IOS XE" is not also reported as "Cisco IOS".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from certmon.items.schemas import Product

_PRODUCTS_FILE = Path(__file__).parent / "data" / "products.yaml"
_CVE = re.compile(r"(?<![\w-])CVE-(\d{4})-(\d{4,7})(?!\d)", re.IGNORECASE)
_SCAN_MAX = 500_000  # characters of text looked at; a longer text is scanned only at its start

_SEVERITY = (
    ("critical", re.compile(r"\b(critical|kritisk|kritiske)\b", re.IGNORECASE)),
    ("high", re.compile(r"\b(high[- ]severity|high[- ]risk|severity:? high|alvorlig|høy alvorlighet)\b",
                        re.IGNORECASE)),
    ("medium", re.compile(r"\b(medium[- ]severity|moderate[- ]severity|severity:? medium)\b", re.IGNORECASE)),
    ("low", re.compile(r"\b(low[- ]severity|severity:? low)\b", re.IGNORECASE)),
)
_EXPLOITED = re.compile(
    r"\b(actively exploited|exploited in the wild|under active exploitation|known exploited|"
    r"utnyttes aktivt|aktivt utnyttet|aktiv utnyttelse)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Catalogue:
    pattern: re.Pattern[str]
    by_alias: dict[str, tuple[str, str]]


def find_cves(text: str) -> list[str]:
    """CVE ids in `text`, upper case, sorted, unique."""
    if not text:
        return []
    found = {f"CVE-{m.group(1)}-{m.group(2)}" for m in _CVE.finditer(text[:_SCAN_MAX])}
    return sorted(found)


def find_products(text: str) -> list[Product]:
    """Products from the curated list named in `text`, in first-mention order, unique."""
    if not text:
        return []
    cat = _catalogue()
    seen: dict[tuple[str, str], Product] = {}
    for m in cat.pattern.finditer(text[:_SCAN_MAX]):
        vendor, product = cat.by_alias[_norm(m.group(0))]
        seen.setdefault((vendor, product), Product(vendor=vendor, product=product))
    return list(seen.values())


def severity_from_text(text: str) -> str | None:
    """`critical`/`high`/`medium`/`low` when the wording says so plainly, else None."""
    head = text[:_SCAN_MAX]
    for level, pattern in _SEVERITY:
        if pattern.search(head):
            return level
    return None


def says_actively_exploited(text: str) -> bool:
    """True when the text states active or known exploitation (English or Norwegian)."""
    return bool(_EXPLOITED.search(text[:_SCAN_MAX]))


def _norm(alias: str) -> str:
    return " ".join(alias.lower().split())


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    import yaml  # on first use: a STIX bundle without reports never needs the product list

    entries = yaml.safe_load(_PRODUCTS_FILE.read_text(encoding="utf-8")) or []
    by_alias: dict[str, tuple[str, str]] = {}
    for entry in entries:
        vendor, product = str(entry["vendor"]), str(entry["product"])
        names = [f"{vendor} {product}", *[str(a) for a in entry.get("aliases") or []]]
        if not entry.get("strict"):
            names.append(product)
        for name in names:
            by_alias.setdefault(_norm(name), (vendor, product))
    alternatives = sorted(by_alias, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(word) for word in alias.split()) for alias in alternatives)
    pattern = re.compile(rf"(?<![\w.-])(?:{body})(?![\w-])", re.IGNORECASE)
    return _Catalogue(pattern=pattern, by_alias=by_alias)
