"""Product index: the technology inventory keyed by normalised (vendor, product).

Inventory values are `vendor:product[:version-range]` or CPE 2.3 (`cpe:2.3:a:vendor:product:version:…`).
Keys are lower case with spaces, underscores, hyphens, dots and commas folded away, and common
corporate suffixes/aliases reduced ("Microsoft Corporation" → "microsoft"), so the NVD's
`microsoft:exchange_server` and an advisory's "Microsoft Exchange Server" meet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from certmon.matching.versions import has_version, parse_range, ranges_overlap

_FOLD = re.compile(r"[\s_\-.,/()]+")
_CPE_SPLIT = re.compile(r"(?<!\\):")
_SUFFIXES = ("corporation", "corp", "incorporated", "inc", "limited", "ltd", "llc", "gmbh", "ag",
             "asa", "as", "ab", "oy", "bv", "sa", "plc", "co", "company")
_ALIASES = {
    "theapachesoftwarefoundation": "apache", "apachesoftwarefoundation": "apache",
    "ciscosystems": "cisco", "vmwarebybroadcom": "vmware",
    "fortinetinc": "fortinet", "citrixsystems": "citrix", "hewlettpackardenterprise": "hpe",
    "hewlettpackard": "hp", "junipernetworks": "juniper", "googlellc": "google",
    "progresssoftware": "progress", "ivantisoftware": "ivanti", "oraclecorporation": "oracle",
}

CONFIDENCE_IN_RANGE = 90
CONFIDENCE_UNVERSIONED = 60


def product_key(text: str) -> str:
    """Normalised product name: lower case, separators folded away."""
    return _FOLD.sub("", text.lower())


def vendor_key(text: str) -> str:
    """Normalised vendor name: as `product_key`, without corporate suffixes, aliases resolved."""
    words = [w for w in _FOLD.split(text.lower()) if w]
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words.pop()
    key = "".join(words)
    return _ALIASES.get(key, key)


def parse_cpe(text: str) -> tuple[str, str, str | None] | None:
    """(vendor, product, version or None) from a CPE 2.3 or 2.2 URI string, None if it is not one."""
    lowered = text.strip().lower()
    if lowered.startswith("cpe:2.3:"):
        parts = _CPE_SPLIT.split(text.strip())[3:6]
    elif lowered.startswith("cpe:/"):
        parts = text.strip()[5:].split(":")[1:4]
    else:
        return None
    if len(parts) < 2:
        return None
    vendor, product = (p.replace("\\", "") for p in parts[:2])
    version = parts[2].replace("\\", "") if len(parts) > 2 else None
    return vendor, product, version if has_version(version) else None


def parse_inventory(value: str) -> tuple[str, str, str | None]:
    """(vendor, product, range or None) from an inventory value; raises ValueError if unreadable."""
    cpe = parse_cpe(value)
    if cpe is not None:
        return cpe
    parts = value.split(":", 2)
    if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
        raise ValueError(f"not vendor:product[:range] or CPE: {value!r}")
    rng = parts[2].strip() if len(parts) == 3 else None
    if rng is not None and has_version(rng):
        parse_range(rng)  # raises ValueError if unreadable
    else:
        rng = None
    return parts[0].strip(), parts[1].strip(), rng


class InventoryEntry(NamedTuple):
    """One inventory line of one constituent."""

    asset_id: int
    constituent_id: int
    value: str
    version_range: str | None


class ProductHit(NamedTuple):
    """An inventory entry matched by a product, with the confidence and whether versions met."""

    entry: InventoryEntry
    confidence: int
    versioned: bool


class ProductIndex:
    """Inventory lookup by normalised (vendor, product); product alone when the item has no vendor."""

    def __init__(self) -> None:
        self.by_pair: dict[tuple[str, str], list[InventoryEntry]] = {}
        self.by_product: dict[str, list[InventoryEntry]] = {}
        self.rejected: list[tuple[int, str]] = []

    @classmethod
    def build(cls, assets: Iterable[tuple[int, int, str]]) -> ProductIndex:
        """Index (asset_id, constituent_id, value) triples; unreadable values go to `rejected`."""
        index = cls()
        for asset_id, constituent_id, value in assets:
            try:
                vendor, product, rng = parse_inventory(value)
            except ValueError as exc:
                index.rejected.append((asset_id, str(exc)))
                continue
            entry = InventoryEntry(asset_id, constituent_id, value, rng)
            index.by_pair.setdefault((vendor_key(vendor), product_key(product)), []).append(entry)
            index.by_product.setdefault(product_key(product), []).append(entry)
        return index

    def lookup(self, vendor: str, product: str, version: str | None) -> list[ProductHit]:
        """Inventory entries this product concerns; a known version outside the range excludes."""
        pkey = product_key(product)
        if not pkey:
            return []
        vkey = vendor_key(vendor) if vendor else ""
        entries = self.by_pair.get((vkey, pkey), []) if vkey else self.by_product.get(pkey, [])
        hits = []
        for entry in entries:
            hit = _judge(entry, version)
            if hit is not None:
                hits.append(hit)
        return hits


def _judge(entry: InventoryEntry, version: str | None) -> ProductHit | None:
    """Compare versions when both sides have one; an unreadable item version counts as none."""
    if entry.version_range is None or not has_version(version):
        return ProductHit(entry, CONFIDENCE_UNVERSIONED, False)
    assert version is not None
    try:
        inside = ranges_overlap(version.strip(), entry.version_range)
    except ValueError:
        return ProductHit(entry, CONFIDENCE_UNVERSIONED, False)
    return ProductHit(entry, CONFIDENCE_IN_RANGE, True) if inside else None
