"""Re-matching stored indicators after a registry change: a join from the registry's side.

`IndicatorHistory` prepares stored indicators once (addresses as sorted integers with their
canonical text, domains as sorted label-reversed keys). Re-matching then walks the *registry*:
one `searchsorted` of all elementary network intervals into the sorted addresses, and two
bisects per registered domain (or a suffix walk per stored domain, whichever side is smaller).
Only indicators inside something build results, with the per-item path's own builders.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from functools import partial
from itertools import compress
from typing import TYPE_CHECKING

import numpy as np

from certmon.items.schemas import Item
from certmon.matching.domainindex import normalise_domain
from certmon.matching.netindex import FamilyIndex, format_ip, parse_ip

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
        domains: list[tuple[str, int, str]] = []
        self.others: list[int] = []  # cidr, url, email, asn, other kinds: matched item by item
        for pos, item in enumerate(self.items):
            kind, value = item.type, item.value
            if item.kind != "indicator" or kind not in ("ipv4", "ipv6", "domain"):
                self.others.append(pos)
            elif kind == "domain":
                name = normalise_domain(value or "")
                domains.append((reversed_key(name), pos, name))
            elif (parsed := parse_ip(value or "")) is not None:
                addresses[parsed[0]].append((parsed[1], pos))
        self.addresses: dict[int, tuple[list[int], list[int], list[str]]] = {}
        for family, pairs in addresses.items():
            pairs.sort()
            values = [a for a, _ in pairs]
            self.addresses[family] = (values, [p for _, p in pairs], [format_ip(family, a) for a in values])
        self.v4_array = np.array(self.addresses[4][0], dtype=np.uint64)
        domains.sort()
        self.domain_keys = [k for k, _, _ in domains]
        self.domain_pos = [p for _, p, _ in domains]
        self.domain_names = [n for _, _, n in domains]

    def __len__(self) -> int:
        return len(self.items)

    def rematch(self, engine: MatchEngine) -> list[MatchResult]:
        """Every match of the stored items against the engine's registry (as match_many gives)."""
        out: list[MatchResult] = []
        for family in (4, 6):
            self._join_addresses(engine, family, out)
        self._join_domains(engine, out)
        match = engine.match
        for pos in self.others:
            out.extend(match(self.items[pos]))
        return out

    def _cuts(self, index: FamilyIndex) -> list[int]:
        """For each elementary interval start, the first stored address at or after it."""
        values = self.addresses[index.family][0]
        if index.family == 4:
            cuts: list[int] = np.searchsorted(self.v4_array, index.np_starts, side="left").tolist()
        else:
            cuts = list(map(partial(bisect_left, values), index.starts))
        cuts.append(len(values))
        return cuts

    def _join_addresses(self, engine: MatchEngine, family: int, out: list[MatchResult]) -> None:
        """Stored addresses inside intervals that have owners, with their results."""
        _, positions, texts = self.addresses[family]
        if not positions:
            return
        index = engine.networks.family(family)
        cuts, items, fast = self._cuts(index), self.items, engine.fast
        for i in compress(range(len(index.hits)), index.hits):
            for j in range(cuts[i], cuts[i + 1]):
                item = items[positions[j]]
                found = fast.addresses(item, texts[j], index.hits[i])
                out.extend(found if found is not None else engine.match(item))

    def _join_domains(self, engine: MatchEngine, out: list[MatchResult]) -> None:
        """Stored domains equal to or under a registered one, with their results."""
        registered = [domain for domain, hits in engine.domains.nodes.items() if hits]
        if len(registered) < len(self.domain_keys):
            keys, candidates = self.domain_keys, set[int]()
            for domain in registered:
                prefix = reversed_key(domain)
                lo = bisect_left(keys, prefix)
                candidates.update(range(lo, bisect_left(keys, prefix[:-1] + "/", lo)))  # '/' follows '.'
        else:
            candidates = set(range(len(self.domain_keys)))
        for j in sorted(candidates):
            owners = engine.domains.owners(self.domain_names[j])
            if owners:
                item = self.items[self.domain_pos[j]]
                found = engine.fast.domains(item, self.domain_names[j], owners)
                out.extend(found if found is not None else engine.match(item))
