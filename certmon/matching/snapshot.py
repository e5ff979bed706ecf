"""What the matching engine sees: a frozen snapshot of the registry, and what it says back.

The integrator builds a `RegistrySnapshot` from the database; the engine never touches the
database itself. msgspec Structs because the engine creates one `MatchResult` per hit in hot loops
and msgspec constructs (and JSON-encodes) them far faster than dataclasses.
"""

from __future__ import annotations

import msgspec

RULES = ("ip-network", "cidr-overlap", "domain", "email-domain", "asn", "product", "name", "supplier")
ASSET_TYPES = ("network", "asn", "domain", "email_domain", "product", "supplier")


class ConstituentRef(msgspec.Struct, frozen=True):
    """A constituent as the engine knows it; `names` are extra names to recognise in text."""

    id: int
    org_number: str | None
    name: str
    kind: str  # kommune | fylkeskommune | rhf | hf | other
    names: tuple[str, ...] = ()


class AssetRef(msgspec.Struct, frozen=True):
    """One registered asset. For `supplier`, `value` is the supplier constituent's id as a string."""

    id: int
    constituent_id: int
    type: str
    value: str


class RegistrySnapshot(msgspec.Struct, frozen=True):
    """The whole registry at one moment; `version` changes whenever the registry does."""

    version: str
    constituents: list[ConstituentRef]
    assets: list[AssetRef]


class MatchResult(msgspec.Struct, frozen=True, gc=False):
    """Why one item concerns one constituent (unique per item_key, constituent_id and rule).

    `gc=False`: a result holds only strings, ints and None, so it can never be part of a reference
    cycle, and the collector need not track the hundreds of thousands a batch makes.
    """

    item_key: str
    constituent_id: int
    org_number: str | None
    rule: str
    asset: str
    asset_id: int | None
    confidence: int
    explanation: str
    severity: str | None = None
    status: str | None = None  # product matches: affected | under_investigation (the vendor's word)
