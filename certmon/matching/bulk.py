"""The bulk path: the same answers as `MatchEngine.match`, with the per-item work in C loops.

Address indicators are parsed with `map(inet_pton)` and looked up with the bucketed
`map(bisect_right)` of the network index; domain indicators share one inlined suffix walk. Only
items that hit something build results, through the same builders the per-item path uses.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from functools import partial
from itertools import compress, repeat
from operator import attrgetter, eq, not_
from typing import TYPE_CHECKING

import numpy as np

from certmon.items.schemas import Item
from certmon.matching.domainindex import normalise_domain
from certmon.matching.netindex import format_ip
from certmon.matching.snapshot import MatchResult

if TYPE_CHECKING:
    from certmon.matching.engine import MatchEngine

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_BULK_TYPES = ("ipv4", "ipv6", "domain")
_TYPE = attrgetter("type")
_KIND_REVOKED = attrgetter("kind", "revoked")
_is_bulk = frozenset(_BULK_TYPES).__contains__


def match_many(engine: MatchEngine, items: Sequence[Item]) -> list[MatchResult]:
    """Match a batch: address and domain indicators in bulk, everything else item by item."""
    groups, others = partition(items)
    results: list[MatchResult] = []
    match_addresses(engine, 4, groups["ipv4"], results)
    match_addresses(engine, 6, groups["ipv6"], results)
    match_domains(engine, groups["domain"], results)
    match = engine.match
    for item in others:
        results.extend(match(item))
    return results


def partition(items: Sequence[Item]) -> tuple[dict[str, list[Item]], list[Item]]:
    """Live address/domain indicators by type, and the rest; C loops over the type column."""
    types = list(map(_TYPE, items))
    present = set(types)
    if len(present) == 1 and types[0] in _BULK_TYPES:  # a batch of one type: no copying
        groups: dict[str, list[Item]] = {kind: [] for kind in _BULK_TYPES}
        groups[types[0]] = list(items)
        others: list[Item] = []
    else:
        groups = {kind: list(compress(items, map(eq, types, repeat(kind)))) if kind in present else []
                  for kind in _BULK_TYPES}
        others = list(compress(items, map(not_, map(_is_bulk, types))))
    for kind, group in groups.items():
        # Empty values need no care here: they fail inet_pton or miss every domain, as per item.
        if not all(map(eq, map(_KIND_REVOKED, group), repeat(("indicator", False)))):
            others.extend(item for item in group if not _plain_indicator(item))
            groups[kind] = [item for item in group if _plain_indicator(item)]
    return groups, others


def _plain_indicator(item: Item) -> bool:
    """A live indicator: what the bulk lookups handle."""
    return item.kind == "indicator" and not item.revoked


def match_addresses(engine: MatchEngine, family: int, items: list[Item], out: list[MatchResult]) -> None:
    """Address indicators of one family, appended to `out`."""
    if not items:
        return
    index = engine.networks.family(family)
    try:
        packed = map(partial(socket.inet_pton, _AF[family]), [item.value for item in items])
        if family == 4:
            array = np.fromiter(map(int.from_bytes, packed), dtype=np.uint64, count=len(items))
            found = index.hits_many(array)
            texts = [items[pos].value or "" for pos, _ in found]  # inet_pton took it: canonical
        else:
            values = list(map(int.from_bytes, packed))
            hits = list(index.containing_many(values))
            found = [(pos, hits[pos]) for pos in compress(range(len(items)), hits)]
            texts = [format_ip(6, values[pos]) for pos, _ in found]
    except (OSError, TypeError, ValueError):  # a malformed or mistyped value: sort it out per item
        for item in items:
            out.extend(engine.match(item))
        return
    fast = engine.fast
    for (pos, nets), text in zip(found, texts, strict=True):
        results = fast.addresses(items[pos], text, nets)
        out.extend(results if results is not None else engine.match(items[pos]))


def match_domains(engine: MatchEngine, items: list[Item], out: list[MatchResult]) -> None:
    """Domain indicators, appended to `out`; the suffix walk inlined for the misses."""
    get = engine.domains.nodes.get
    for item in items:
        name = item.value or ""
        if not name.isascii() or not name.islower() or name.endswith(".") or name != name.strip():
            name = normalise_domain(name)
        end = len(name)
        while True:
            dot = name.rfind(".", 0, end)
            hits = get(name[dot + 1:])
            if hits is None:
                break
            if hits:
                found = engine.fast.domains(item, name, engine.domains.owners(name))
                out.extend(found if found is not None else engine.match(item))
                break
            if dot < 0:
                break
            end = dot
