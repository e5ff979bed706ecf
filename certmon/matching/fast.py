"""Lean result building for the hot rules (ip-network and domain on plain indicators).

Most matches come from address and domain indicators, where the index already returns one hit
per constituent. These builders skip the generic Collector and format each explanation by
joining cached halves around the one variable part. They give exactly what the generic path
gives, and step aside (return None) when a supplier relationship needs the generic path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from certmon.items.schemas import Item
from certmon.matching.collect import display_name, effective_severity
from certmon.matching.domainindex import DomainHit
from certmon.matching.explain import explain
from certmon.matching.netindex import Net
from certmon.matching.rules import DOMAIN_EXACT, DOMAIN_SUB
from certmon.matching.snapshot import ConstituentRef, MatchResult

_HOLE, _NET, _OWNER = "\x00", "\x01", "\x02"

# One result's constant part per hit of an interval: (constituent, org number, asset text, asset id,
# confidence, explanation head, explanation tail). For domains, a second head/tail pair for the
# exact-match sentence. False when a supplier owns a hit: those items take the generic path.
IpRow = tuple[int, str | None, str, int, int, str, str]
DomainRow = tuple[int, str | None, str, int, str, str, str]
# Hits as columns: item keys, result severities, the address or name as written in explanations,
# and each hit's interval in the index.
Columns = tuple[Sequence[str], Sequence[str | None], Sequence[str], list[int]]


class FastResults:
    """Caches owner names, org numbers and explanation halves per asset."""

    def __init__(self, constituents: dict[int, ConstituentRef], suppliers: set[int]) -> None:
        self.constituents = constituents
        self.suppliers = suppliers
        self._owners: dict[int, str] = {}
        self._orgs: dict[int, str | None] = {}
        self._ip: dict[int, IpRow] = {}  # the constant part of a result, per network asset
        # The ip-network sentence cut at the address; the halves keep format fields for network and owner.
        head, _, tail = explain("ip-network", ip=_HOLE, network=_NET, owner=_OWNER).partition(_HOLE)
        self._ip_plain = _NET not in head and _OWNER not in head
        self._ip_head, self._ip_tail = (head if self._ip_plain else _fields(head)), _fields(tail)
        self._domain: dict[tuple[int, bool], tuple[str, str]] = {}
        self._ip_rows: dict[int, dict[int, tuple[IpRow, ...] | bool]] = {4: {}, 6: {}}
        self._domain_rows: dict[int, tuple[DomainRow, ...] | bool] = {}  # per interval of the ranges

    def owner(self, constituent_id: int) -> str:
        """The owner's name as explanations say it (as Collector.owner), cached per constituent."""
        name = self._owners.get(constituent_id)
        if name is None:
            ref = self.constituents.get(constituent_id)
            name = self._owners[constituent_id] = (display_name(ref) if ref is not None
                                                   else f"virksomhet {constituent_id}")
        return name

    def org(self, constituent_id: int) -> str | None:
        """The owner's organisation number."""
        ref = self.constituents.get(constituent_id)
        return ref.org_number if ref is not None else None

    def _ip_row(self, net: Net) -> IpRow:
        """The constant part of every ip-network result for one network, cached per asset."""
        cid = net.constituent_id
        owner = self._owners.get(cid) or self.owner(cid)
        org = self._orgs[cid] if cid in self._orgs else self._orgs.setdefault(cid, self.org(cid))
        # The plain head is one shared string: every result then reads the same object.
        head = self._ip_head if self._ip_plain else self._ip_head.format(net.text, owner)
        row = self._ip[net.asset_id] = (cid, org, net.text, net.asset_id, net.confidence, head,
                                        self._ip_tail.format(net.text, owner))
        return row

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
            cid, org, text, asset_id, conf, head, tail = cached(net.asset_id) or self._ip_row(net)
            out.append(MatchResult(key, cid, org, "ip-network", text, asset_id, conf, head + ip + tail, severity))
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

    def _ip_row_of(self, hits: tuple[Net, ...]) -> tuple[IpRow, ...] | bool:
        """The constant parts of every result an address inside these networks gets."""
        if self.suppliers and any(net.constituent_id in self.suppliers for net in hits):
            return False
        cached = self._ip.get
        return tuple([cached(net.asset_id) or self._ip_row(net) for net in hits])

    def _domain_row_of(self, hits: Sequence[DomainHit]) -> tuple[DomainRow, ...] | bool:
        """The constant parts of every result a name under these registered domains gets."""
        if self.suppliers and any(hit.constituent_id in self.suppliers for hit in hits):
            return False
        rows = []
        for hit in hits:
            exact, _ = self._domain_halves(hit, True)
            head, tail = self._domain_halves(hit, False)
            rows.append((hit.constituent_id, self.org(hit.constituent_id), hit.domain, hit.asset_id,
                         exact, head, tail))
        return tuple(rows)

    def _rows(self, cache: dict[int, Any], make: Callable[[Any], Any], by_cut: Sequence[Any],
              cuts: list[int]) -> tuple[list[Any], list[int]]:
        """Cached rows per interval, and the indexes whose interval a supplier owns (rows empty)."""
        for cut in set(cuts).difference(cache):
            cache[cut] = make(by_cut[cut])
        rows = list(map(cache.__getitem__, cuts))
        if not self.suppliers:
            return rows, []
        slow = [k for k, row in enumerate(rows) if row is False]
        for k in slow:
            rows[k] = ()
        return rows, slow

    def add_addresses(self, family: int, by_cut: Sequence[tuple[Net, ...]], columns: Columns,
                      out: list[MatchResult]) -> list[int]:
        """ip-network results for hits given as columns (item key, severity, canonical address, interval).

        Returns the indexes of the hits a supplier owns: they take the generic path.
        """
        keys, severities, texts, cuts = columns
        rows, slow = self._rows(self._ip_rows[family], self._ip_row_of, by_cut, cuts)
        out += [MatchResult(key, cid, org, "ip-network", text, asset_id, conf, f"{head}{ip}{tail}", severity)
                for key, severity, ip, parts in zip(keys, severities, texts, rows, strict=True)
                for cid, org, text, asset_id, conf, head, tail in parts]
        return slow

    def add_address_items(self, family: int, by_cut: Sequence[tuple[Net, ...]], items: Sequence[Item],
                          texts: Sequence[str], cuts: list[int], out: list[MatchResult]) -> list[int]:
        """As `add_addresses`, reading each hit's key and severity from its item as the result is made.

        One pass over the hit items instead of one per field: they lie scattered in memory.
        """
        rows, slow = self._rows(self._ip_rows[family], self._ip_row_of, by_cut, cuts)
        out += [MatchResult(item.key, cid, org, "ip-network", text, asset_id, conf, f"{head}{ip}{tail}",
                            effective_severity(item) if item.known_exploited or item.extra else item.severity)
                for item, ip, parts in zip(items, texts, rows, strict=True)
                for cid, org, text, asset_id, conf, head, tail in parts]
        return slow

    def add_domains(self, by_cut: Sequence[Sequence[DomainHit]], columns: Columns,
                    out: list[MatchResult]) -> list[int]:
        """domain results for hits given as columns (item key, severity, normalised name, interval).

        Returns the indexes of the hits a supplier owns: they take the generic path.
        """
        keys, severities, names, cuts = columns
        rows, slow = self._rows(self._domain_rows, self._domain_row_of, by_cut, cuts)
        out += [MatchResult(key, cid, org, "domain", domain, asset_id,
                            DOMAIN_EXACT if name == domain else DOMAIN_SUB,
                            exact if name == domain else f"{head}{name}{tail}", severity)
                for key, severity, name, parts in zip(keys, severities, names, rows, strict=True)
                for cid, org, domain, asset_id, exact, head, tail in parts]
        return slow

    def add_domain_items(self, by_cut: Sequence[Sequence[DomainHit]], items: Sequence[Item],
                         names: Sequence[str], cuts: list[int], out: list[MatchResult]) -> list[int]:
        """As `add_domains`, reading each hit's key and severity from its item as the result is made."""
        rows, slow = self._rows(self._domain_rows, self._domain_row_of, by_cut, cuts)
        out += [MatchResult(item.key, cid, org, "domain", domain, asset_id,
                            DOMAIN_EXACT if name == domain else DOMAIN_SUB,
                            exact if name == domain else f"{head}{name}{tail}",
                            effective_severity(item) if item.known_exploited or item.extra else item.severity)
                for item, name, parts in zip(items, names, rows, strict=True)
                for cid, org, domain, asset_id, exact, head, tail in parts]
        return slow


def _fields(text: str) -> str:
    """A sentence part with the network and owner holes as format fields 0 and 1."""
    return text.replace("{", "{{").replace("}", "}}").replace(_NET, "{0}").replace(_OWNER, "{1}")


def severities(items: Iterable[Item]) -> list[str | None]:
    """Each item's result severity (as `effective_severity`, the common case without a call)."""
    return [effective_severity(item) if item.known_exploited or item.extra else item.severity
            for item in items]
