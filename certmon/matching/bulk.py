"""The bulk path: the same answers as `MatchEngine.match`, with the per-item work in C and numpy.

Addresses are packed with `map(inet_pton)` and one `bytes.join`, read by numpy, sorted together
with their positions (sorted keys make `searchsorted` far cheaper) and placed in the network
index's elementary intervals. Domain names are lower-cased as one string, written backwards, and
placed in the domain ranges (`domainranges.py`) by one `searchsorted`. Only the indicators that hit
something (about one in ten) reach Python: their results are built from per-interval rows cached
by `FastResults`. Chunks bound the memory numpy needs.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from itertools import compress, repeat
from operator import attrgetter, eq, not_
from typing import TYPE_CHECKING

import numpy as np

from certmon.items.schemas import Item
from certmon.matching.domainindex import normalise_domain
from certmon.matching.snapshot import MatchResult

if TYPE_CHECKING:
    from certmon.matching.engine import MatchEngine

CHUNK = 1 << 17
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_BULK_TYPES = ("ipv4", "ipv6", "domain")
_TYPE = attrgetter("type")
_KIND = attrgetter("kind")
_REVOKED = attrgetter("revoked")
_is_bulk = frozenset(_BULK_TYPES).__contains__
_POS_MASK = np.uint64(0xFFFFFFFF)
# A batch of ASCII names needs no per-name normalisation unless one of these occurs in it.
_UNCLEAN = (" ", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x00", ".\n")


def match_many(engine: MatchEngine, items: Sequence[Item]) -> list[MatchResult]:
    """Match a batch: address and domain indicators in bulk, everything else item by item."""
    groups, others = partition(items)
    results: list[MatchResult] = []
    for start in range(0, max(len(items), 1), CHUNK):
        match_addresses(engine, 4, groups["ipv4"][start:start + CHUNK], results)
        match_addresses(engine, 6, groups["ipv6"][start:start + CHUNK], results)
        match_domains(engine, groups["domain"][start:start + CHUNK], results)
    match = engine.match
    for item in others:
        results.extend(match(item))
    return results


def partition(items: Sequence[Item]) -> tuple[dict[str, Sequence[Item]], list[Item]]:
    """Live address/domain indicators by type, and the rest; C loops over the type column."""
    types = list(map(_TYPE, items))
    present = set(types)
    groups: dict[str, Sequence[Item]]
    if len(present) == 1 and types[0] in _BULK_TYPES:  # a batch of one type: no copying
        groups = {kind: [] for kind in _BULK_TYPES}
        groups[types[0]] = items
        others: list[Item] = []
    else:
        groups = {kind: list(compress(items, map(eq, types, repeat(kind)))) if kind in present else []
                  for kind in _BULK_TYPES}
        others = list(compress(items, map(not_, map(_is_bulk, types))))
    for kind, group in groups.items():
        # Empty values need no care here: they fail inet_pton or miss every domain, as per item.
        if any(map(_REVOKED, group)) or not all(map(eq, map(_KIND, group), repeat("indicator"))):
            others.extend(item for item in group if not _plain_indicator(item))
            groups[kind] = [item for item in group if _plain_indicator(item)]
    return groups, others


def _plain_indicator(item: Item) -> bool:
    """A live indicator: what the bulk lookups handle."""
    return item.kind == "indicator" and not item.revoked


def pack_addresses(family: int, values: list[str]) -> bytes | None:
    """The addresses as one big-endian byte string, or None if one is not a canonical literal."""
    try:
        return b"".join(map(socket.inet_pton, repeat(_AF[family]), values))
    except (OSError, TypeError, ValueError):
        return None


def match_addresses(engine: MatchEngine, family: int, items: Sequence[Item], out: list[MatchResult]) -> None:
    """Address indicators of one family, appended to `out`."""
    if not items:
        return
    values = [item.value for item in items]
    packed = pack_addresses(family, values)  # type: ignore[arg-type]
    if packed is None:  # a malformed or mistyped value: sort the batch out per item
        for item in items:
            out.extend(engine.match(item))
        return
    index = engine.networks.family(family)
    if family == 4:
        # Address and position in one uint64, sorted: searchsorted then walks the starts in order.
        keys = np.frombuffer(packed, dtype=">u4").astype(np.uint64) << np.uint64(32)
        keys |= np.arange(len(items), dtype=np.uint64)
        keys.sort()
        cuts = index.cuts_of(keys >> np.uint64(32))
        hit = index.np_has_hits[cuts]
        positions = (keys[hit] & _POS_MASK).tolist()
        texts = [values[pos] for pos in positions]  # inet_pton took them: canonical dotted quads
    else:
        cuts = index.cuts_of(np.frombuffer(packed, dtype="S16"))
        hit = index.np_has_hits[cuts]
        positions = np.flatnonzero(hit).tolist()
        texts = [socket.inet_ntop(socket.AF_INET6, packed[16 * pos:16 * pos + 16]) for pos in positions]
    rows = zip(map(items.__getitem__, positions), texts, cuts[hit].tolist(), strict=True)
    for item in engine.fast.add_addresses(family, index.by_bisect, rows, out):
        out.extend(engine.match(item))


def clean_names(values: list[str]) -> tuple[str, list[str] | None] | None:
    """The names as `normalise_domain` gives them, joined by newlines, and as a list if computed.

    A clean ASCII batch is only lower-cased, as one string (the list is None: lower-case a hit's
    value when it is needed); anything else is normalised name by name. None when a name holds a
    newline or NUL, which the batch lookup cannot carry.
    """
    joined = "\n".join(values)
    if joined.isascii() and not joined.endswith(".") and not any(map(joined.__contains__, _UNCLEAN)):
        return joined.lower(), None
    names = list(map(normalise_domain, values))
    joined = "\n".join(names)
    if joined.count("\n") != len(names) - 1 or "\x00" in joined:
        return None
    return joined, names


def match_domains(engine: MatchEngine, items: Sequence[Item], out: list[MatchResult]) -> None:
    """Domain indicators, appended to `out`."""
    ranges = engine.domain_ranges
    if not items:
        return
    values = [item.value or "" for item in items]
    cleaned = clean_names(values)
    if cleaned is None or not ranges.usable:
        for item in items:
            out.extend(engine.match(item))
        return
    joined, names = cleaned
    positions, cuts = ranges.find(joined, len(values))
    hit_names = (map(names.__getitem__, positions) if names is not None
                 else map(str.lower, map(values.__getitem__, positions)))
    rows = zip(map(items.__getitem__, positions), hit_names, cuts, strict=True)
    for item in engine.fast.add_domains(ranges.hits, rows, out):
        out.extend(engine.match(item))
