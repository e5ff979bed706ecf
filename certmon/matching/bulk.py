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
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from certmon.items.schemas import Item
from certmon.matching.domainindex import normalise_domain
from certmon.matching.snapshot import MatchResult

if TYPE_CHECKING:
    from certmon.matching.domainranges import DomainRanges
    from certmon.matching.fast import FastResults
    from certmon.matching.netindex import FamilyIndex, NetworkIndex


class MatchEngine(Protocol):
    """What the bulk path needs of `certmon.matching.engine.MatchEngine` (which imports this module)."""

    networks: NetworkIndex
    domain_ranges: DomainRanges
    fast: FastResults

    def match(self, item: Item) -> list[MatchResult]: ...

CHUNK = 1 << 17
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_CODE = {"ipv4": 1, "ipv6": 2, "domain": 3}  # 0: everything else, matched item by item
_POS_MASK = np.uint64(0xFFFFFFFF)
# A batch of ASCII names needs no per-name normalisation unless one holds a byte from this set
# (str.strip() would remove it; NUL cannot be carried), ends in '.', or holds a newline.
_UNCLEAN_BYTES = b" \t\r\x0b\x0c\x1c\x1d\x1e\x1f\x00"


def match_many(engine: MatchEngine, items: Sequence[Item]) -> list[MatchResult]:
    """Match a batch: address and domain indicators in bulk, everything else item by item."""
    results: list[MatchResult] = []
    groups, others = partition(items)
    handlers = {"ipv4": partial(match_addresses, engine, 4), "ipv6": partial(match_addresses, engine, 6),
                "domain": partial(match_domains, engine)}
    for kind, (group, values) in groups.items():
        # Chunks of the values only: a slice of the items would write a reference count into every
        # item, and only the hits are read (by offset).
        count = len(group)
        for start in range(0, count, CHUNK):
            part = values if count <= CHUNK else values[start:start + CHUNK]
            handlers[kind](group, part, start, results)
    match = engine.match
    for item in others:
        results.extend(match(item))
    return results


def partition(items: Sequence[Item]) -> tuple[dict[str, tuple[Sequence[Item], list[str | None]]], list[Item]]:
    """Live address/domain indicators by type with their values, and the rest.

    The items are read in one pass: at this size each item is a cache miss, and one comprehension
    that reads four fields of an item costs about what a C `map` over one field does. A batch of
    one type (the common case) needs nothing else; a mixed one gets a second pass over its values.
    """
    count = len(items)
    if not count:
        return {}, []
    first = items[0].type
    if first in _CODE and items[-1].type == first:  # probably one type: try the one-pass path
        values = [item.value for item in items
                  if item.type == first and item.kind == "indicator" and not item.revoked]
        if len(values) == count:  # one type, all live: no copying
            return {first: (items, values)}, []
    buckets: dict[str, tuple[list[Item], list[str | None]]] = {kind: ([], []) for kind in _CODE}
    adders = {kind: (group.append, values.append) for kind, (group, values) in buckets.items()}
    others: list[Item] = []
    get, other = adders.get, others.append
    for item in items:
        add = get(item.type)  # type: ignore[arg-type]
        if add is not None and item.kind == "indicator" and not item.revoked:
            add[0](item)
            add[1](item.value)
        else:
            other(item)
    return {kind: bucket for kind, bucket in buckets.items() if bucket[0]}, others


def pack_addresses(family: int, values: list[str]) -> bytes | None:
    """The addresses as one big-endian byte string, or None if one is not a canonical literal."""
    try:
        return b"".join(map(socket.inet_pton, repeat(_AF[family]), values))
    except (OSError, TypeError, ValueError):
        return None


def locate_addresses(index: FamilyIndex, packed: bytes) -> tuple[list[int], list[int]]:
    """(positions, intervals) of the packed addresses that fall inside a registered network."""
    if index.family == 4:
        # Address and position in one uint64, sorted: searchsorted then walks the starts in order.
        keys = np.frombuffer(packed, dtype=">u4").astype(np.uint64) << np.uint64(32)
        keys |= np.arange(len(packed) // 4, dtype=np.uint64)
        keys.sort()
        cuts = index.cuts_of(keys >> np.uint64(32))
        hit = index.np_has_hits[cuts]
        positions, cuts = keys[hit] & _POS_MASK, cuts[hit]
        order = np.argsort(positions)
        return positions[order].tolist(), cuts[order].tolist()
    cuts = index.cuts_of(np.frombuffer(packed, dtype="S16"))
    hit = index.np_has_hits[cuts]
    return np.flatnonzero(hit).tolist(), cuts[hit].tolist()


def _at(items: Sequence[Item], offset: int, positions: list[int]) -> list[Item]:
    """The items at chunk positions (a chunk starts at `offset` in `items`)."""
    if offset:
        positions = [offset + pos for pos in positions]
    return list(map(items.__getitem__, positions))


def match_addresses(engine: MatchEngine, family: int, items: Sequence[Item], values: list[str | None],
                    offset: int, out: list[MatchResult]) -> None:
    """Address indicators of one family, appended to `out`: `values` are those of items[offset:…]."""
    packed = pack_addresses(family, values)  # type: ignore[arg-type]
    if packed is None:  # a malformed or mistyped value: sort the chunk out per item
        for item in items[offset:offset + len(values)]:
            out.extend(engine.match(item))
        return
    index = engine.networks.family(family)
    positions, cuts = locate_addresses(index, packed)
    if family == 4:  # inet_pton took them, so they are strings, and canonical dotted quads
        texts = list(map(cast(list[str], values).__getitem__, positions))
    else:
        texts = [socket.inet_ntop(socket.AF_INET6, packed[16 * pos:16 * pos + 16]) for pos in positions]
    hits = _at(items, offset, positions)
    for k in engine.fast.add_address_items(family, index.by_bisect, hits, texts, cuts, out):
        out.extend(engine.match(hits[k]))


def clean_names(values: list[str]) -> tuple[str, list[str] | None] | None:
    """The names as `normalise_domain` gives them, joined by newlines, and as a list if computed.

    A clean ASCII batch is only lower-cased, as one string (the list is None: lower-case a hit's
    value when it is needed); anything else is normalised name by name. None when a name holds a
    newline or NUL, which the batch lookup cannot carry.
    """
    joined = "\n".join(values)
    if (joined.isascii() and not joined.endswith(".") and ".\n" not in joined
            and joined.count("\n") == len(values) - 1):
        raw = joined.encode("ascii")
        if len(raw.translate(None, _UNCLEAN_BYTES)) == len(raw):  # one pass for all of them
            return joined.lower(), None
    names = list(map(normalise_domain, values))
    joined = "\n".join(names)
    if joined.count("\n") != len(names) - 1 or "\x00" in joined:
        return None
    return joined, names


def match_domains(engine: MatchEngine, items: Sequence[Item], values: list[str | None], offset: int,
                  out: list[MatchResult]) -> None:
    """Domain indicators, appended to `out`: `values` are those of items[offset:…]."""
    ranges = engine.domain_ranges
    texts = cast(list[str], values)
    try:
        cleaned = clean_names(texts)
    except TypeError:  # a value is None
        texts = [value or "" for value in values]
        cleaned = clean_names(texts)
    if cleaned is None or not ranges.usable:
        for item in items[offset:offset + len(values)]:
            out.extend(engine.match(item))
        return
    joined, names = cleaned
    positions, cuts = ranges.find(joined, len(texts))
    hits = _at(items, offset, positions)
    hit_names = (list(map(names.__getitem__, positions)) if names is not None
                 else list(map(str.lower, map(texts.__getitem__, positions))))
    for k in engine.fast.add_domain_items(ranges.hits, hits, hit_names, cuts, out):
        out.extend(engine.match(hits[k]))
