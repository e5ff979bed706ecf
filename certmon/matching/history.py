"""Re-matching stored indicators after a registry change: a join from the registry's side.

`IndicatorHistory` prepares stored indicators once (addresses as sorted integers, domains as
sorted label-reversed keys). Re-matching then walks the *registry* — one bisect per elementary
network interval and two per registered domain — instead of looking up every stored indicator;
only indicators that fall inside something go through the per-item path to build their results.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from functools import partial
from itertools import compress
from typing import TYPE_CHECKING

from certmon.items.schemas import Item
from certmon.matching.domainindex import normalise_domain
from certmon.matching.netindex import FamilyIndex, parse_ip

if TYPE_CHECKING:
    from certmon.matching.engine import MatchEngine
    from certmon.matching.snapshot import MatchResult


def reversed_key(domain: str) -> str:
    """'mail.oslo.kommune.no' → 'no.kommune.oslo.mail.' (a registered domain's key is a prefix)."""
    return ".".join(reversed(domain.split("."))) + "."


class IndicatorHistory:
    """Stored indicators, prepared once for repeated re-matching against new registries."""

    def __init__(self, items: Iterable[Item]) -> None:
        self.items = [item for item in items if not item.revoked]
        addresses: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        domains: list[tuple[str, int]] = []
        self.others: list[int] = []  # cidr, url, email, asn, other kinds: matched item by item
        for pos, item in enumerate(self.items):
            kind, value = item.type, item.value
            parsed = parse_ip(value) if kind in ("ipv4", "ipv6") and value else None
            if parsed is not None:
                addresses[parsed[0]].append((parsed[1], pos))
            elif kind == "domain" and value:
                domains.append((reversed_key(normalise_domain(value)), pos))
            elif item.kind != "indicator" or kind not in ("ipv4", "ipv6", "domain"):
                self.others.append(pos)
        self.addresses: dict[int, tuple[list[int], list[int]]] = {}
        for family, pairs in addresses.items():
            pairs.sort()
            self.addresses[family] = ([a for a, _ in pairs], [p for _, p in pairs])
        domains.sort()
        self.domain_keys = [k for k, _ in domains]
        self.domain_pos = [p for _, p in domains]

    def __len__(self) -> int:
        return len(self.items)

    def candidates(self, engine: MatchEngine) -> list[int]:
        """Positions of the stored items that may match the engine's registry (sorted)."""
        found: set[int] = set(self.others)
        for family in (4, 6):
            found.update(self._network_join(engine.networks.family(family), *self.addresses[family]))
        keys, positions = self.domain_keys, self.domain_pos
        for domain, hits in engine.domains.nodes.items():
            if hits:
                prefix = reversed_key(domain)
                lo = bisect_left(keys, prefix)
                hi = bisect_left(keys, prefix[:-1] + "/", lo)  # '/' sorts right after '.'
                found.update(positions[lo:hi])
        return sorted(found)

    @staticmethod
    def _network_join(index: FamilyIndex, addrs: list[int], positions: list[int]) -> list[int]:
        """Stored addresses inside any elementary interval that has owners."""
        if not addrs:
            return []
        cuts = list(map(partial(bisect_left, addrs), index.starts))
        cuts.append(len(addrs))
        out: list[int] = []
        for i in compress(range(len(index.hits)), index.hits):
            lo, hi = cuts[i], cuts[i + 1]
            if lo < hi:
                out.extend(positions[lo:hi])
        return out

    def rematch(self, engine: MatchEngine) -> list[MatchResult]:
        """Every match of the stored items against the engine's registry (same as match_many)."""
        items, match = self.items, engine.match
        results: list[MatchResult] = []
        for pos in self.candidates(engine):
            results.extend(match(items[pos]))
        return results

