"""Re-matching stored indicators after a registry change: a join from the registry's side.

`IndicatorHistory` prepares stored indicators once: addresses as sorted numpy arrays (uint64 for
IPv4, 16-byte big-endian strings for IPv6) with their canonical text, and domains as sorted
reversed-name keys (`domainranges.range_key`). Re-matching then walks the *registry*: one
`searchsorted` places every elementary interval of the network index, and every interval of the
domain ranges, among the stored keys. Only intervals that have owners and hold stored indicators
are visited, and only those indicators build results, from the rows `FastResults` caches per
interval. The cost grows with the registry and the number of hits, not with the history's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from certmon.items.schemas import Item
from certmon.matching.domainindex import normalise_domain
from certmon.matching.domainranges import range_key
from certmon.matching.fast import Columns, severities
from certmon.matching.netindex import format_ip, parse_ip

if TYPE_CHECKING:
    from certmon.matching.engine import MatchEngine
    from certmon.matching.snapshot import MatchResult


class _Column:
    """Stored indicators of one kind, sorted by key: positions in `items`, item keys, severities, texts."""

    def __init__(self, rows: list[tuple[object, int, str]], items: list[Item], dtype: str | type) -> None:
        rows.sort()
        self.keys = np.array([key for key, _, _ in rows], dtype=dtype)
        self.positions = [pos for _, pos, _ in rows]
        chosen = [items[pos] for pos in self.positions]
        # Fresh copies of the strings, made in key order: a re-match reads them in that order, and
        # strings that lie together in memory cost far fewer cache misses than the items' own.
        self.texts = _copies([text for _, _, text in rows])
        self.item_keys = _copies([item.key for item in chosen])
        self.severities = severities(chosen)

    def columns(self, bounds: np.ndarray, owned: np.ndarray, shift: int) -> tuple[list[int], Columns]:
        """Stored rows inside intervals with owners: their row numbers, and the hit columns.

        One `searchsorted` places every interval start among the stored keys; interval i of
        `bounds` is interval i + shift of the index's hit lists.
        """
        cuts = np.searchsorted(self.keys, bounds, side="left")
        ends = np.append(cuts[1:], len(self.positions))
        chosen = np.flatnonzero(owned[:len(cuts)] & (ends > cuts))
        lengths = ends[chosen] - cuts[chosen]
        offsets = np.cumsum(lengths) - lengths
        rows = (np.arange(int(lengths.sum())) - np.repeat(offsets - cuts[chosen], lengths)).tolist()
        intervals = (np.repeat(chosen, lengths) + shift).tolist()
        return (rows,
                (list(map(self.item_keys.__getitem__, rows)), list(map(self.severities.__getitem__, rows)),
                 list(map(self.texts.__getitem__, rows)), intervals))

    def positions_of(self, rows: list[int], chosen: list[int]) -> list[int]:
        """Positions in `items` of the chosen hits (indexes into `rows`)."""
        return [self.positions[rows[k]] for k in chosen]


def _copies(texts: list[str]) -> list[str]:
    """New string objects with the same text, allocated one after another."""
    joined = "\n".join(texts)
    if joined.count("\n") == len(texts) - 1 and texts:
        return joined.split("\n")
    return list(map(bytes.decode, map(str.encode, texts)))


class IndicatorHistory:
    """Stored indicators, prepared once for repeated re-matching against new registries."""

    def __init__(self, items: Iterable[Item]) -> None:
        self.items = [item for item in items if not item.revoked]
        addresses: dict[int, list[tuple[object, int, str]]] = {4: [], 6: []}
        domains: list[tuple[object, int, str]] = []
        self.others: list[int] = []  # cidr, url, email, asn, other kinds: matched item by item
        for pos, item in enumerate(self.items):
            kind, value = item.type, item.value
            if item.kind != "indicator" or kind not in ("ipv4", "ipv6", "domain"):
                self.others.append(pos)
            elif kind == "domain":
                name = normalise_domain(value or "")
                domains.append((range_key(name).encode("utf-8"), pos, name))
            elif (parsed := parse_ip(value or "")) is not None:
                family, number = parsed
                key = number if family == 4 else number.to_bytes(16, "big")
                addresses[family].append((key, pos, format_ip(family, number)))
        self.addresses = {4: _Column(addresses[4], self.items, np.uint64),
                          6: _Column(addresses[6], self.items, "S16")}
        self.domains = _Column(domains, self.items, bytes)

    def __len__(self) -> int:
        return len(self.items)

    def rematch(self, engine: MatchEngine) -> list[MatchResult]:
        """Every match of the stored items against the engine's registry (as match_many gives)."""
        out: list[MatchResult] = []
        slow: list[int] = []
        for family in (4, 6):
            column = self.addresses[family]
            if column.positions:
                index = engine.networks.family(family)
                # Interval i of np_keys is by_bisect[i + 1] (by_bisect[0] is below every start).
                rows, columns = column.columns(index.np_keys, index.np_has_hits[1:], 1)
                slow += column.positions_of(rows, engine.fast.add_addresses(family, index.by_bisect, columns, out))
        ranges = engine.domain_ranges
        if self.domains.positions and ranges.usable:
            rows, columns = self.domains.columns(ranges.bounds, ranges.covered, 0)
            slow += self.domains.positions_of(rows, engine.fast.add_domains(ranges.hits, columns, out))
        elif self.domains.positions:
            slow += self.domains.positions
        match, items = engine.match, self.items
        for pos in [*slow, *self.others]:
            out.extend(match(items[pos]))
        return out
