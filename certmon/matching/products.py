"""Product matching: the technology inventory against what a publisher says of its products.

Inventory values are `vendor:product[:version or range]`, CPE 2.3 / 2.2 (`cpe:2.3:a:vendor:product:version:…`)
or a purl (`pkg:deb/debian/openssl@3.0.11-1`). Keys are lower case with spaces, underscores, hyphens,
dots and commas folded away, and common corporate suffixes/aliases reduced ("Microsoft Corporation"
→ "microsoft"), so the NVD's `microsoft:exchange_server` and an advisory's "Microsoft Exchange
Server" meet.

`judge` decides, for one inventory line and everything an item says of that product, what the
publisher says of the organisation's version (docs/matching.md):
- per vulnerability, the most specific statement that covers the version wins (one version over a
  range over "every version"); a version nobody lists is not a match;
- affected for any vulnerability → a match; otherwise under investigation → a possible match (low
  confidence, never sent automatically); otherwise fixed / not affected / recommended → *cleared*
  (no match; an open match for it is retired with the vendor's words);
- where the organisation's version is unknown or a range, or the publisher's range cannot be read,
  the match stands with lower confidence and the explanation says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from certmon.items.schemas import Product
from certmon.matching.vers import GENERIC, Spec, VersionError, has_version, parse_spec, scheme_of

_FOLD = re.compile(r"[\s_\-.,/()]+")
_CPE_SPLIT = re.compile(r"(?<!\\):")
_PURL = re.compile(r"^pkg:(?P<type>[^/]+)/(?:(?P<ns>.+)/)?(?P<name>[^/@?#]+)(?:@(?P<ver>[^?#]+))?")
_SUFFIXES = ("corporation", "corp", "incorporated", "inc", "limited", "ltd", "llc", "gmbh", "ag",
             "asa", "as", "ab", "oy", "bv", "sa", "plc", "co", "company")
_ALIASES = {
    "theapachesoftwarefoundation": "apache", "apachesoftwarefoundation": "apache",
    "ciscosystems": "cisco", "vmwarebybroadcom": "vmware",
    "fortinetinc": "fortinet", "citrixsystems": "citrix", "hewlettpackardenterprise": "hpe",
    "hewlettpackard": "hp", "junipernetworks": "juniper", "googlellc": "google",
    "progresssoftware": "progress", "ivantisoftware": "ivanti", "oraclecorporation": "oracle",
    "siemensag": "siemens", "redhatinc": "redhat",
}

CONFIDENCE_IN_RANGE = 90  # versions compared on both sides, the organisation's wholly affected
CONFIDENCE_PARTLY = 70  # the organisation's range overlaps the affected versions in part
CONFIDENCE_UNVERSIONED = 60  # one side names no version
CONFIDENCE_UNCOMPARABLE = 50  # the publisher's version text cannot be compared
CONFIDENCE_INVESTIGATING = 40  # under investigation: a possible match only

AFFECTED, INVESTIGATING = "affected", "under_investigation"
CLEARED = ("fixed", "not_affected", "recommended")


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


def parse_purl(text: str) -> tuple[str, str, str, str | None] | None:
    """(type, namespace, name, version or None) of a package URL, None if it is not one."""
    from urllib.parse import unquote

    m = _PURL.match(text.strip())
    if not m:
        return None
    return (m["type"].lower(), unquote(m["ns"] or ""), unquote(m["name"]),
            unquote(m["ver"]) if m["ver"] else None)


def parse_inventory(value: str) -> tuple[str, str, str | None, str]:
    """(vendor, product, version or range or None, scheme) from an inventory value; ValueError if unreadable."""
    cpe = parse_cpe(value)
    if cpe is not None:
        return (*cpe, GENERIC)
    if value.strip().startswith("pkg:"):
        purl = parse_purl(value)
        if purl is None:
            raise ValueError(f"ikke en gyldig purl: {value!r}")
        return purl[1] or purl[0], purl[2], purl[3], scheme_of(purl[0])
    parts = value.split(":", 2)
    if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
        raise ValueError(f"ikke leverandør:produkt[:versjon] eller CPE: {value!r}")
    rng = parts[2].strip() if len(parts) == 3 else None
    if rng is not None and has_version(rng):
        try:
            parse_spec(rng)
        except VersionError as exc:
            raise ValueError(f"{value!r}: {exc}") from None
    else:
        rng = None
    return parts[0].strip(), parts[1].strip(), rng, GENERIC


class InventoryEntry(NamedTuple):
    """One inventory line of one constituent; `version_range` is its version or range, None if unknown."""

    asset_id: int
    constituent_id: int
    value: str
    version_range: str | None
    scheme: str = GENERIC


class Verdict(NamedTuple):
    """What the item says of one inventory line."""

    status: str  # affected | under_investigation | fixed | not_affected | recommended
    confidence: int
    how: str  # point | within | partly | unversioned | uncomparable
    claim: Product  # the statement that decided it
    cves: tuple[str, ...]  # the vulnerabilities this holds for (empty: the item's own)


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
                vendor, product, rng, scheme = parse_inventory(value)
            except ValueError as exc:
                index.rejected.append((asset_id, str(exc)))
                continue
            entry = InventoryEntry(asset_id, constituent_id, value, rng, scheme)
            index.by_pair.setdefault((vendor_key(vendor), product_key(product)), []).append(entry)
            index.by_product.setdefault(product_key(product), []).append(entry)
        return index

    def entries(self, vendor: str, product: str) -> list[InventoryEntry]:
        """Inventory lines for this vendor and product (any vendor when none is given)."""
        pkey = product_key(product)
        if not pkey:
            return []
        vkey = vendor_key(vendor) if vendor else ""
        return self.by_pair.get((vkey, pkey), []) if vkey else self.by_product.get(pkey, [])

    def claims(self, products: Sequence[Product]) -> dict[InventoryEntry, list[Product]]:
        """Each inventory line any of the products concerns, with the statements about it."""
        out: dict[InventoryEntry, list[Product]] = {}
        for p in products:
            seen: set[InventoryEntry] = set()
            for vendor, name in identities(p):
                for entry in self.entries(vendor, name):
                    if entry not in seen:
                        seen.add(entry)
                        out.setdefault(entry, []).append(p)
        return out


def identities(p: Product) -> list[tuple[str, str]]:
    """The (vendor, product) names a statement goes by: its tree names, its CPE, its purl."""
    found = []
    if p.product:
        found.append((p.vendor, p.product))
    if p.cpe and (cpe := parse_cpe(p.cpe)) is not None:
        found.append((cpe[0], cpe[1]))
    if p.purl and (purl := parse_purl(p.purl)) is not None:
        found.append((purl[1] or purl[0], purl[2]))
    return list(dict.fromkeys(found))


def claim_text(p: Product) -> str | None:
    """The versions a statement is about, as written (None: every version)."""
    if has_version(p.range):
        return p.range
    if has_version(p.version):
        return p.version
    if p.cpe and (cpe := parse_cpe(p.cpe)) is not None and cpe[2]:
        return cpe[2]
    if p.purl and (purl := parse_purl(p.purl)) is not None and purl[3]:
        return purl[3]
    return None


def _scheme(p: Product) -> str:
    if p.purl and (purl := parse_purl(p.purl)) is not None:
        return scheme_of(purl[0])
    return GENERIC


_SPECIFIC = {"point": 3, "range": 2, "all": 1}


def _claim_spec(p: Product) -> tuple[str, Spec | None]:
    """('point'|'range'|'all'|'unreadable', spec)."""
    text = claim_text(p)
    if text is None:
        return "all", None
    try:
        spec = parse_spec(text, _scheme(p))
    except VersionError:
        return "unreadable", None
    if spec.is_all:
        return "all", None
    return ("point" if spec.point is not None else "range"), spec


def _rank(status: str | None) -> int:
    return {AFFECTED: 0, INVESTIGATING: 1, "fixed": 2, "not_affected": 3, "recommended": 4}.get(status or AFFECTED, 0)


def _judge_one(inv: Spec | None, claims: list[Product]) -> Verdict | None:
    """The verdict of the statements about one vulnerability on the organisation's versions."""
    typed = [(*_claim_spec(p), p) for p in claims]
    point = inv.point if inv is not None else None
    if point is not None:  # one known version: the most specific statement covering it decides
        covering = [(kind, p) for kind, spec, p in typed
                    if kind == "all" or (spec is not None and spec.contains(point))]
        if covering:
            kind, p = min(covering, key=lambda c: (-_SPECIFIC[c[0]], _rank(c[1].status)))
            how = "point" if kind != "all" else "unversioned"
            conf = CONFIDENCE_IN_RANGE if kind != "all" else CONFIDENCE_UNVERSIONED
            return Verdict(p.status or AFFECTED, conf, how, p, p.cves)
    else:  # a range or an unknown version: what could hold for some version the organisation runs
        hits = [(kind, spec, p) for kind, spec, p in typed
                if kind == "all" or (spec is not None and (inv is None or spec.overlaps(inv)))]
        bad = [h for h in hits if (h[2].status or AFFECTED) in (AFFECTED, INVESTIGATING)]
        good = [h for h in hits if (h[2].status or AFFECTED) in CLEARED]
        if inv is not None:  # a specific clearing that covers the whole range beats a general claim
            covered = [h for h in good if h[0] == "all" or (h[1] is not None and inv.within(h[1]))]
            if covered:
                best = max(_SPECIFIC[h[0]] for h in covered)
                bad = [h for h in bad if _SPECIFIC[h[0]] > best]
                if not bad:
                    p = min(covered, key=lambda h: -_SPECIFIC[h[0]])[2]
                    return Verdict(p.status or "fixed", CONFIDENCE_IN_RANGE, "within", p, p.cves)
        if bad:
            kind, spec, p = min(bad, key=lambda h: (_rank(h[2].status), -_SPECIFIC[h[0]]))
            if inv is None or kind == "all":
                return Verdict(p.status or AFFECTED, CONFIDENCE_UNVERSIONED, "unversioned", p, p.cves)
            assert spec is not None
            whole = inv.within(spec)
            return Verdict(p.status or AFFECTED, CONFIDENCE_IN_RANGE if whole else CONFIDENCE_PARTLY,
                           "within" if whole else "partly", p, p.cves)
        if inv is None and good and all(h[0] == "all" for h in good):
            p = good[0][2]
            return Verdict(p.status or "fixed", CONFIDENCE_UNVERSIONED, "unversioned", p, p.cves)
    unreadable = [p for kind, _, p in typed
                  if kind == "unreadable" and (p.status or AFFECTED) in (AFFECTED, INVESTIGATING)]
    if unreadable:
        p = min(unreadable, key=lambda c: _rank(c.status))
        return Verdict(p.status or AFFECTED, CONFIDENCE_UNCOMPARABLE, "uncomparable", p, p.cves)
    return None


def judge(entry: InventoryEntry, claims: list[Product]) -> Verdict | None:
    """What the item says of this inventory line, over all its vulnerabilities (None: nothing)."""
    try:
        inv = parse_spec(entry.version_range, entry.scheme) if entry.version_range else None
    except VersionError:
        inv = None
    if inv is not None and inv.is_all:
        inv = None
    labels = list(dict.fromkeys(c for p in claims for c in p.cves)) or [""]
    verdicts = []
    for label in labels:
        relevant = [p for p in claims if not p.cves or label in p.cves]
        v = _judge_one(inv, relevant)
        if v is not None:
            verdicts.append(v._replace(cves=(label,) if label else ()))
    for wanted in (AFFECTED, INVESTIGATING):
        hits = [v for v in verdicts if v.status == wanted]
        if hits:
            best = max(hits, key=lambda v: v.confidence)
            cves = tuple(c for v in hits for c in v.cves)
            conf = min(best.confidence, CONFIDENCE_INVESTIGATING) if wanted == INVESTIGATING else best.confidence
            return best._replace(cves=cves, confidence=conf)
    if verdicts:  # cleared wherever it is listed: no match, and the vendor's words retire an open one
        return verdicts[0]._replace(cves=tuple(c for v in verdicts for c in v.cves))
    return None
