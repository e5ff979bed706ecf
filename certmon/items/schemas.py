"""The normalised item every feed adapter yields (the `certmon parse` JSON Lines format).

A msgspec Struct rather than a pydantic model: adapters produce hundreds of thousands of these per
run, and msgspec constructs and encodes them an order of magnitude faster. Still typed and validated
at the edge (`Item` is what leaves an adapter; see docs/formats.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import repeat
from operator import itemgetter
from typing import Any

import msgspec

KINDS = ("advisory", "vulnerability", "indicator", "exposure")
INDICATOR_TYPES = ("ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256", "asn")


PRODUCT_STATUSES = ("affected", "fixed", "not_affected", "under_investigation", "recommended")


class Product(msgspec.Struct, omit_defaults=True, frozen=True):
    """A product an item names, with what the publisher says of it (lower-cased keys are built by matching).

    `status` is the vendor's word for the versions given (CSAF product status, VEX): `affected`
    (also when None: feeds without VEX name affected products), `fixed`, `not_affected`,
    `under_investigation` or `recommended`. `version` is one version, `range` a range as published
    (vers, VLS, NVD prose); neither means every version. `cves` are the vulnerabilities the status
    is for (empty: all of the item's). `platform`/`relation` come from a CSAF relationship
    (`default_component_of`, `installed_on`, …).
    """

    vendor: str
    product: str
    version: str | None = None
    cpe: str | None = None
    range: str | None = None
    purl: str | None = None
    status: str | None = None
    cves: tuple[str, ...] = ()
    justification: str | None = None
    platform: str | None = None
    relation: str | None = None
    product_id: str | None = None
    name: str | None = None


class Item(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One normalised item. Fields beyond the four common ones are filled per kind."""

    kind: str
    key: str
    tlp: str
    source_format: str
    # advisory / vulnerability
    title: str | None = None
    summary: str | None = None  # sanitised HTML or plain text, never raw feed HTML
    url: str | None = None
    published: str | None = None  # ISO 8601
    updated: str | None = None
    cves: list[str] = msgspec.field(default_factory=list)
    products: list[Product] = msgspec.field(default_factory=list)
    severity: str | None = None  # low | medium | high | critical
    cve: str | None = None
    known_exploited: bool | None = None
    vendor: str | None = None
    product: str | None = None
    cvss: float | None = None
    ransomware: bool | None = None
    due_date: str | None = None
    # indicator
    type: str | None = None
    value: str | None = None
    labels: list[str] = msgspec.field(default_factory=list)
    confidence: int | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    revoked: bool = False
    # exposure
    ip: str | None = None
    port: int | None = None
    protocol: str | None = None
    report_type: str | None = None
    observed_at: str | None = None
    hostname: str | None = None
    asn: int | None = None
    # anything else worth keeping (source-specific fields), JSON-serialisable
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


# Fields that must appear in JSON Lines output for each kind even when empty (INTERFACES.md).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "advisory": ("title", "url", "published", "cves", "products"),
    "vulnerability": ("cve", "known_exploited", "vendor", "product"),
    "indicator": ("type", "value", "labels", "confidence", "valid_until"),
    "exposure": ("ip", "port", "report_type", "observed_at"),
}

_encoder = msgspec.json.Encoder()
# Per kind: each required field, and what a record says when `omit_defaults` left it out (the
# field's default; an unknown `known_exploited` is written as false).
_DEFAULTS: dict[str, tuple[tuple[str, Any], ...]] = {
    kind: tuple((name, False if name == "known_exploited" else [] if name in ("cves", "products", "labels")
                 else None) for name in names)
    for kind, names in REQUIRED_FIELDS.items()
}


def item_to_dict(item: Item) -> dict[str, Any]:
    """Plain dict with the kind's required fields present (null or empty where unknown)."""
    data: dict[str, Any] = msgspec.to_builtins(item)
    _complete(item, data)
    return data


def _complete(item: Item, data: dict[str, Any]) -> None:
    """Add the kind's required fields that `to_builtins` left out as defaults, at the end."""
    for name, default in _DEFAULTS.get(item.kind, ()):
        if name not in data:  # a list of its own: the caller may change the record
            data[name] = [] if type(default) is list else default


def item_to_json(item: Item) -> bytes:
    """One JSON Lines record (without the newline)."""
    return _encoder.encode(item_to_dict(item))


def items_to_json_lines(items: Iterable[Item]) -> bytes:
    """JSON Lines records, each with its newline: the bytes of `item_to_json` + b"\\n" per item, in one encode
    (and one `to_builtins` call for the whole batch)."""
    batch = items if isinstance(items, list) else list(items)
    records: list[dict[str, Any]] = msgspec.to_builtins(batch)
    _complete_all(batch, records)
    return _encoder.encode_lines(records)


_KIND = itemgetter("kind")


def _complete_all(batch: list[Item], records: list[dict[str, Any]]) -> None:
    """`_complete` for every record of a batch; for a batch of one kind in C, a field at a time."""
    kinds = set(map(_KIND, records))
    if len(kinds) != 1:
        for item, data in zip(batch, records, strict=True):
            _complete(item, data)
        return
    count = len(records)
    for name, default in _DEFAULTS.get(kinds.pop(), ()):
        deque(map(dict.setdefault, records, repeat(name, count), repeat(default, count)), maxlen=0)


def item_from_dict(data: dict[str, Any]) -> Item:
    """Validate a JSON Lines record back into an Item (raises msgspec.ValidationError)."""
    return msgspec.convert(data, Item)
