"""The matching engine: registry snapshot in, (item → constituents, rule, why) out. No database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from certmon.items.schemas import Item
from certmon.matching import bulk, rules
from certmon.matching.collect import Collector
from certmon.matching.domainindex import DomainIndex, normalise_domain, url_host
from certmon.matching.domainranges import DomainRanges
from certmon.matching.fast import FastResults
from certmon.matching.names import NameIndex
from certmon.matching.netindex import NetworkIndex, format_ip, parse_ip
from certmon.matching.products import ProductIndex
from certmon.matching.snapshot import ConstituentRef, MatchResult, RegistrySnapshot

_TEXT_KINDS = ("advisory", "vulnerability")
_FAST_TYPES = ("ipv4", "ipv6", "domain")


class MatchEngine:
    """In-memory indexes over one registry snapshot; immutable, rebuild it when the registry changes."""

    def __init__(self, snapshot: RegistrySnapshot) -> None:
        self.version = snapshot.version
        self.constituents: dict[int, ConstituentRef] = {c.id: c for c in snapshot.constituents}
        by_type: dict[str, list[tuple[int, int, str]]] = {}
        for asset in snapshot.assets:
            by_type.setdefault(asset.type, []).append((asset.id, asset.constituent_id, asset.value))
        self.networks = NetworkIndex.build(by_type.get("network", []))
        self.domains = DomainIndex.build(by_type.get("domain", []))
        self.domain_ranges = DomainRanges(self.domains.nodes)  # the domain index for batches
        self.email_domains = DomainIndex.build(by_type.get("email_domain", []))
        self.products = ProductIndex.build(by_type.get("product", []))
        self.names = NameIndex(snapshot.constituents)
        self.asns: dict[int, list[tuple[int, int]]] = {}
        self.dependents: dict[int, list[tuple[int, int]]] = {}
        self.rejected: list[tuple[int, str]] = [*self.networks.rejected, *self.products.rejected]
        for asset_id, constituent_id, value in by_type.get("asn", []):
            asn = rules.parse_asn(value)
            if asn is None:
                self.rejected.append((asset_id, f"not an AS number: {value!r}"))
            else:
                self.asns.setdefault(asn, []).append((asset_id, constituent_id))
        for asset_id, constituent_id, value in by_type.get("supplier", []):
            supplier = int(value) if value.strip().isdigit() else None
            if supplier is None or supplier not in self.constituents:
                self.rejected.append((asset_id, f"unknown supplier: {value!r}"))
            else:
                self.dependents.setdefault(supplier, []).append((constituent_id, asset_id))
        self.fast = FastResults(self.constituents, set(self.dependents),
                                {4: self.networks.v4.nets, 6: self.networks.v6.nets})

    @classmethod
    def build(cls, snapshot: RegistrySnapshot) -> MatchEngine:
        """Build every index from the snapshot."""
        return cls(snapshot)

    def match(self, item: Item) -> list[MatchResult]:
        """Every constituent the item concerns, one result per (constituent, rule)."""
        if item.revoked:
            return []
        if item.kind == "indicator" and item.type in _FAST_TYPES and item.value:
            fast = self._fast(item, item.value)
            if fast is not None:
                return fast
        col = Collector(item, self.constituents)
        if item.kind == "indicator":
            self._indicator(item, col)
        elif item.kind == "exposure":
            self._exposure(item, col)
        elif item.kind in _TEXT_KINDS:
            rules.match_products(self.products, col, item)
            rules.match_names(self.names, col, item)
        if col.best and self.dependents:
            rules.propagate_suppliers(self.dependents, col)
        return col.results()

    def cleared(self, item: Item) -> dict[int, str]:
        """Constituents whose product the item says is fixed or not affected, with the vendor's words."""
        if item.revoked or item.kind not in _TEXT_KINDS or not (item.products or item.product):
            return {}
        col = Collector(item, self.constituents)
        rules.match_products(self.products, col, item)
        return col.cleared

    def match_many(self, items: Iterable[Item]) -> list[MatchResult]:
        """The same results as `match` on each item, faster for large batches (order not kept)."""
        return bulk.match_many(self, items if isinstance(items, Sequence) else list(items))

    def _fast(self, item: Item, value: str) -> list[MatchResult] | None:
        """Address and domain indicators without the generic collector; None means take the long way."""
        if item.type == "domain":
            domain = normalise_domain(value)
            owners = self.domains.owners(domain)
            return self.fast.domains(item, domain, owners) if owners else []
        parsed = parse_ip(value)
        if parsed is None:
            return []
        hits = self.networks.family(parsed[0]).containing(parsed[1])
        if not hits:
            return []
        # inet_pton accepts only canonical dotted quads, so an IPv4 literal already is its text.
        text = value.strip().strip("[]") if parsed[0] == 4 else format_ip(6, parsed[1])
        return self.fast.addresses(item, text, hits)

    def _indicator(self, item: Item, col: Collector) -> None:
        """Dispatch an indicator on its type."""
        kind, value = item.type, (item.value or "").strip()
        if not value:
            return
        if kind in ("ipv4", "ipv6"):
            self._address(value, col)
        elif kind == "cidr":
            rules.match_cidr(self.networks, col, value)
        elif kind == "domain":
            rules.match_domain(self.domains, col, normalise_domain(value))
        elif kind == "url":
            host = url_host(value)
            parsed = parse_ip(host) if host else None
            if parsed is not None:
                rules.match_address(self.networks, col, parsed[0], parsed[1], url=value)
            elif host:
                rules.match_domain(self.domains, col, normalise_domain(host), url=value)
        elif kind == "email":
            rules.match_email(self.domains, self.email_domains, col, value)
        elif kind == "asn":
            asn = rules.parse_asn(value)
            if asn is not None:
                rules.match_asn(self.asns, col, asn, exposure=False)

    def _address(self, value: str, col: Collector) -> None:
        """ip-network for an address literal."""
        parsed = parse_ip(value)
        if parsed is not None:
            rules.match_address(self.networks, col, parsed[0], parsed[1])

    def _exposure(self, item: Item, col: Collector) -> None:
        """An exposure: its ip, hostname and AS number."""
        if item.ip:
            self._address(item.ip, col)
        if item.hostname:
            host = normalise_domain(item.hostname)
            if host and parse_ip(host) is None:
                rules.match_domain(self.domains, col, host)
        if item.asn is not None:
            rules.match_asn(self.asns, col, item.asn, exposure=True)
