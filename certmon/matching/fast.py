"""Lean result building for the hot rules (ip-network and domain on plain indicators).

Most matches come from address and domain indicators, where the index already returns one hit
per constituent. These builders skip the generic Collector and format each explanation by
joining cached halves around the one variable part. They give exactly what the generic path
gives, and step aside (return None) when a supplier relationship needs the generic path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
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

    def __init__(self, constituents: dict[int, ConstituentRef], suppliers: set[int],
                 networks: dict[int, list[Net]] | None = None) -> None:
        self.constituents = constituents
        self.suppliers = suppliers
        self._networks = networks or {4: [], 6: []}  # every registered network, per family, in build order
        self._owners: dict[int, str] = {}
        self._orgs: dict[int, str | None] = {}
        self._ip: dict[int, IpRow] = {}  # the constant part of a result, per network asset
        # The ip-network sentence cut at the address; the halves keep format fields for network and owner.
        head, _, tail = explain("ip-network", ip=_HOLE, network=_NET, owner=_OWNER).partition(_HOLE)
        self._ip_plain = _NET not in head and _OWNER not in head
        self._ip_head, self._ip_tail = (head if self._ip_plain else _fields(head)), _fields(tail)
        # The tail as literal pieces around network and owner, when it names each once in that order:
        # rows for many networks are then made by one comprehension of f-strings.
        net_at, owner_at = tail.find(_NET), tail.find(_OWNER)
        self._ip_pieces: tuple[str, str, str] | None = None
        if self._ip_plain and tail.count(_NET) == tail.count(_OWNER) == 1 and net_at < owner_at:
            self._ip_pieces = (tail[:net_at], tail[net_at + 1:owner_at], tail[owner_at + 1:])
        self._domain: dict[tuple[int, bool], tuple[str, str]] = {}
        self._domain_assets: dict[int, DomainRow] = {}  # the row part of one registered domain
        # Both domain sentences as literal pieces around the names, when each hole occurs once in order.
        exact = explain("domain-exact", domain=_NET, owner=_OWNER)
        head, _, tail = explain("domain-sub", domain=_HOLE, registered=_NET, owner=_OWNER).partition(_HOLE)
        self._domain_pieces: tuple[tuple[str, str, str], str, tuple[str, str, str]] | None = None
        if _NET not in head and _OWNER not in head and _ordered(exact) and _ordered(tail):
            self._domain_pieces = (_pieces(exact), head, _pieces(tail))
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
            if exact:  # the whole sentence; no hole to cut at
                halves = (explain("domain-exact", domain=hit.domain, owner=owner), "")
            else:
                head, _, tail = explain("domain-sub", domain=_HOLE, registered=hit.domain, owner=owner).partition(_HOLE)
                halves = (head, tail)
            self._domain[(hit.asset_id, exact)] = halves
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

    def _ip_rows_for_all(self, family: int) -> None:
        """The row of every network of the family, made in one pass over the networks in build order.

        A re-match after a registry change needs rows for most intervals of a new engine. Made
        interval by interval, each row reads its network at a random place in memory; in build
        order the networks are read one after another.
        """
        nets = self._networks[family]
        for cid in {net.constituent_id for net in nets}.difference(self._orgs):
            self._orgs[cid] = self.org(cid)
            self.owner(cid)
        if self._ip_pieces is None:
            for net in nets:
                self._ip_row(net)
            return
        owners, orgs, head, (first, middle, last) = self._owners, self._orgs, self._ip_head, self._ip_pieces
        self._ip.update({asset_id: (cid, orgs[cid], text, asset_id, conf, head,
                                    f"{first}{text}{middle}{owners[cid]}{last}")
                         for _, _, _, asset_id, cid, text, conf in nets})

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

    def _fill_ip(self, family: int, cache: dict[int, Any], by_cut: Sequence[tuple[Net, ...]], new: list[int]) -> None:
        """Rows for the new intervals `new`, made in bulk (False where a supplier owns one)."""
        if not cache and len(new) * 2 >= len(self._networks[family]) > len(self._ip):
            self._ip_rows_for_all(family)  # a cold engine and a large batch: most rows will be needed
        intervals = list(map(by_cut.__getitem__, new))
        cached, suppliers = self._ip.get, self.suppliers
        if suppliers:
            rows = [False if any(net.constituent_id in suppliers for net in hits)
                    else tuple([cached(net.asset_id) or self._ip_row(net) for net in hits]) for hits in intervals]
        else:
            rows = [tuple([cached(net.asset_id) or self._ip_row(net) for net in hits]) for hits in intervals]
        cache.update(zip(new, rows, strict=True))

    def _fill_domains(self, cache: dict[int, Any], by_cut: Sequence[Sequence[DomainHit]], new: list[int]) -> None:
        """Rows for the new intervals `new` of the domain ranges, made in bulk (False where a supplier owns one)."""
        if self._domain_pieces is None:
            for cut in new:
                cache[cut] = self._domain_row_of(by_cut[cut])
            return
        intervals = list(map(by_cut.__getitem__, new))
        by_asset = self._domain_assets
        missing = list({hit.asset_id: hit for hits in intervals for hit in hits if hit.asset_id not in by_asset}
                       .values())
        if missing:
            for cid in {hit.constituent_id for hit in missing}.difference(self._orgs):
                self._orgs[cid] = self.org(cid)
                self.owner(cid)
            owners, orgs = self._owners, self._orgs
            (e0, e1, e2), head, (t0, t1, t2) = self._domain_pieces
            by_asset.update({asset_id: (cid, orgs[cid], domain, asset_id, f"{e0}{domain}{e1}{owners[cid]}{e2}", head,
                                        f"{t0}{domain}{t1}{owners[cid]}{t2}")
                             for asset_id, cid, domain, _ in missing})
        get, suppliers = by_asset.__getitem__, self.suppliers
        rows = [False if suppliers and any(hit.constituent_id in suppliers for hit in hits)
                else tuple([get(hit.asset_id) for hit in hits]) for hits in intervals]
        cache.update(zip(new, rows, strict=True))

    def _rows(self, cache: dict[int, Any], fill: Callable[[dict[int, Any], Any, list[int]], None],
              by_cut: Sequence[Any], cuts: list[int]) -> tuple[list[Any], list[int]]:
        """Cached rows per interval, and the indexes whose interval a supplier owns (rows empty)."""
        new = list(set(cuts).difference(cache))
        if new:
            fill(cache, by_cut, new)
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
        rows, slow = self._rows(self._ip_rows[family], partial(self._fill_ip, family), by_cut, cuts)
        out += [MatchResult(key, cid, org, "ip-network", text, asset_id, conf, f"{head}{ip}{tail}", severity)
                for key, severity, ip, parts in zip(keys, severities, texts, rows, strict=True)
                for cid, org, text, asset_id, conf, head, tail in parts]
        return slow

    def add_address_items(self, family: int, by_cut: Sequence[tuple[Net, ...]], items: Sequence[Item],
                          texts: Sequence[str], cuts: list[int], out: list[MatchResult]) -> list[int]:
        """As `add_addresses`, reading each hit's key and severity from its item as the result is made.

        One pass over the hit items instead of one per field: they lie scattered in memory.
        """
        rows, slow = self._rows(self._ip_rows[family], partial(self._fill_ip, family), by_cut, cuts)
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
        rows, slow = self._rows(self._domain_rows, self._fill_domains, by_cut, cuts)
        out += [MatchResult(key, cid, org, "domain", domain, asset_id,
                            DOMAIN_EXACT if name == domain else DOMAIN_SUB,
                            exact if name == domain else f"{head}{name}{tail}", severity)
                for key, severity, name, parts in zip(keys, severities, names, rows, strict=True)
                for cid, org, domain, asset_id, exact, head, tail in parts]
        return slow

    def add_domain_items(self, by_cut: Sequence[Sequence[DomainHit]], items: Sequence[Item],
                         names: Sequence[str], cuts: list[int], out: list[MatchResult]) -> list[int]:
        """As `add_domains`, reading each hit's key and severity from its item as the result is made."""
        rows, slow = self._rows(self._domain_rows, self._fill_domains, by_cut, cuts)
        out += [MatchResult(item.key, cid, org, "domain", domain, asset_id,
                            DOMAIN_EXACT if name == domain else DOMAIN_SUB,
                            exact if name == domain else f"{head}{name}{tail}",
                            effective_severity(item) if item.known_exploited or item.extra else item.severity)
                for item, name, parts in zip(items, names, rows, strict=True)
                for cid, org, domain, asset_id, exact, head, tail in parts]
        return slow


def _ordered(text: str) -> bool:
    """The sentence names the registered domain (or network) once, and then the owner once."""
    return text.count(_NET) == text.count(_OWNER) == 1 and text.find(_NET) < text.find(_OWNER)


def _pieces(text: str) -> tuple[str, str, str]:
    """The literal text before, between and after the two holes of an `_ordered` sentence."""
    before, _, rest = text.partition(_NET)
    between, _, after = rest.partition(_OWNER)
    return before, between, after


def _fields(text: str) -> str:
    """A sentence part with the network and owner holes as format fields 0 and 1."""
    return text.replace("{", "{{").replace("}", "}}").replace(_NET, "{0}").replace(_OWNER, "{1}")


def severities(items: Iterable[Item]) -> list[str | None]:
    """Each item's result severity (as `effective_severity`, the common case without a call)."""
    return [effective_severity(item) if item.known_exploited or item.extra else item.severity
            for item in items]
