"""Lean result building for the hot rules (ip-network and domain on plain indicators).

Most matches come from address and domain indicators, where the index already returns one hit
per constituent. These builders skip the generic Collector and format each explanation by
joining cached halves around the one variable part. They give exactly what the generic path
gives, and step aside (return None) when a supplier relationship needs the generic path.
"""

from __future__ import annotations

from certmon.items.schemas import Item
from certmon.matching.collect import display_name, effective_severity
from certmon.matching.domainindex import DomainHit
from certmon.matching.explain import explain
from certmon.matching.netindex import Net
from certmon.matching.rules import DOMAIN_EXACT, DOMAIN_SUB
from certmon.matching.snapshot import ConstituentRef, MatchResult

_HOLE = "\x00"


class FastResults:
    """Caches owner names, org numbers and explanation halves per asset."""

    def __init__(self, constituents: dict[int, ConstituentRef], suppliers: set[int]) -> None:
        self.constituents = constituents
        self.suppliers = suppliers
        self._ip: dict[int, tuple[str, str, str | None]] = {}
        self._domain: dict[tuple[int, bool], tuple[str, str]] = {}

    def owner(self, constituent_id: int) -> str:
        """The owner's name as explanations say it (as Collector.owner)."""
        ref = self.constituents.get(constituent_id)
        return display_name(ref) if ref is not None else f"virksomhet {constituent_id}"

    def org(self, constituent_id: int) -> str | None:
        """The owner's organisation number."""
        ref = self.constituents.get(constituent_id)
        return ref.org_number if ref is not None else None

    def _ip_parts(self, net: Net) -> tuple[str, str, str | None]:
        """Explanation halves and org number for one network, cached per asset."""
        text = explain("ip-network", ip=_HOLE, network=net.text, owner=self.owner(net.constituent_id))
        head, _, tail = text.partition(_HOLE)
        parts = self._ip[net.asset_id] = (head, tail, self.org(net.constituent_id))
        return parts

    def _domain_halves(self, hit: DomainHit, exact: bool) -> tuple[str, str]:
        halves = self._domain.get((hit.asset_id, exact))
        if halves is None:
            owner = self.owner(hit.constituent_id)
            if exact:
                text = explain("domain-exact", domain=hit.domain, owner=owner)
            else:
                text = explain("domain-sub", domain=_HOLE, registered=hit.domain, owner=owner)
            head, _, tail = text.partition(_HOLE)
            halves = self._domain[(hit.asset_id, exact)] = (head, tail)
        return halves

    def addresses(self, item: Item, ip: str, hits: tuple[Net, ...]) -> list[MatchResult] | None:
        """ip-network results for an address indicator (`ip` canonical), or None if a supplier owns one."""
        if self.suppliers and any(net.constituent_id in self.suppliers for net in hits):
            return None
        key = item.key
        severity = effective_severity(item) if item.known_exploited or item.extra else item.severity
        cached = self._ip.get
        out = []
        for net in hits:
            head, tail, org = cached(net.asset_id) or self._ip_parts(net)
            out.append(MatchResult(key, net.constituent_id, org, "ip-network", net.text, net.asset_id,
                                   net.confidence, head + ip + tail, severity))
        return out

    def domains(self, item: Item, domain: str, hits: list[DomainHit]) -> list[MatchResult] | None:
        """domain results for a domain indicator, or None if a supplier is among the owners."""
        if self.suppliers and any(hit.constituent_id in self.suppliers for hit in hits):
            return None
        key = item.key
        severity = effective_severity(item) if item.known_exploited or item.extra else item.severity
        out = []
        for hit in hits:
            exact = hit.domain == domain
            head, tail = self._domain_halves(hit, exact)
            text = head if exact else head + domain + tail
            conf = DOMAIN_EXACT if exact else DOMAIN_SUB
            out.append(MatchResult(key, hit.constituent_id, self.org(hit.constituent_id), "domain",
                                   hit.domain, hit.asset_id, conf, text, severity))
        return out
