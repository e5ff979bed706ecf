"""The domain index as sorted ranges, for looking up many names at once with numpy.

Write every name backwards with a dot at the end: `mail.oslo.kommune.no` becomes
`on.enummok.olso.liam.`. A registered domain *d* then covers exactly the names whose key starts
with *d*'s key. Those keys form one range, from `on.enummok.olso.` up to but not including
`on.enummok.olso/` ('/' is the character after '.'). Ranges of nested domains nest, and the others
do not overlap. So a sweep cuts the key space into elementary intervals, as the network index does,
and each interval keeps the owners any name inside it gets: the most specific registered domain per
constituent. A batch lookup is then one `numpy.searchsorted` over UTF-8 bytes (byte order is code
point order) instead of a Python walk per name.

Large batches skip the searchsorted: `suffix_pattern` is one regular expression, the trie of the
reversed registered domains, that finds each name's longest registered domain in one scan of the
whole batch written backwards; that domain's key starts an interval holding its owners.
"""

from __future__ import annotations

import re
from typing import cast

import numpy as np

from certmon.matching.domainindex import DomainHit

_BOUNDARY_UNSAFE = ("\x00", "\n")  # numpy drops trailing NULs; '\n' separates names in a batch
PATTERN_MIN = 4096  # batches this large use the suffix pattern


def range_key(domain: str) -> str:
    """'mail.oslo.kommune.no' → 'on.enummok.olso.liam.' (a registered domain's key is a prefix)."""
    return domain[::-1] + "."


class DomainRanges:
    """Elementary intervals of the reversed-name key space, with their owners."""

    def __init__(self, nodes: dict[str, tuple[DomainHit, ...]]) -> None:
        registered = sorted((range_key(domain), hits) for domain, hits in nodes.items() if hits)
        events: list[tuple[str, int, int]] = []
        for i, (key, _) in enumerate(registered):
            events.append((key, 1, i))
            events.append((key[:-1] + "/", 0, i))  # removals sort before additions at one key
        events.sort()
        bounds: list[str] = [""]
        self.hits: list[tuple[DomainHit, ...]] = [()]  # owners per interval, most specific first
        live: set[int] = set()
        memo: dict[frozenset[int], tuple[DomainHit, ...]] = {frozenset(): ()}
        j = 0
        while j < len(events):
            key = events[j][0]
            while j < len(events) and events[j][0] == key:
                _, add, i = events[j]
                (live.add if add else live.discard)(i)
                j += 1
            chain = frozenset(live)
            owners = memo.get(chain)
            if owners is None:
                owners = memo[chain] = _owners([registered[i][1] for i in chain])
            if key == bounds[-1]:
                self.hits[-1] = owners
            else:
                bounds.append(key)
                self.hits.append(owners)
        self.usable = not any(ch in key for key in bounds for ch in _BOUNDARY_UNSAFE)
        self.bounds = np.array([key.encode("utf-8") for key in bounds] if self.usable else [b""], dtype=bytes)
        self.covered = np.array([bool(h) for h in self.hits], dtype=bool)
        # First level: the distinct 8-byte prefixes of the bounds (as big-endian integers) and where
        # each starts. A name whose prefix is none of them is placed by that small array alone.
        prefixes = _prefixes(self.bounds)
        self.prefixes, self.first = np.unique(prefixes, return_index=True)
        self.first = np.append(self.first, len(self.bounds))
        # Large batches: one regular expression over the names written backwards (`suffix_pattern`)
        # finds the longest registered domain of each name in one C scan. The interval that starts at
        # a registered domain's key holds that domain's owners. Compiling it takes about 0.5 s for
        # 20,000 domains, so it is built on the first batch of PATTERN_MIN names or more; smaller
        # batches (the service matches 2,000 items at a time) use the sorted bounds.
        self.cut_of: dict[bytes, int] = {}
        if self.usable and registered:
            at = {key: cut for cut, key in enumerate(bounds)}
            self.cut_of = {hits[0].domain.encode("utf-8")[::-1]: at[key] for key, hits in registered}
        self._pattern: re.Pattern[bytes] | bool | None = False  # False: not compiled yet

    @property
    def pattern(self) -> re.Pattern[bytes] | None:
        """The suffix pattern over the registered domains (compiled on first use), or None if unusable."""
        if self._pattern is False:
            self._pattern = suffix_pattern(list(self.cut_of)) if self.cut_of else None
        return self._pattern  # type: ignore[return-value]

    def cuts_of(self, keys: np.ndarray) -> np.ndarray:
        """The interval of each key (a bytes array of `range_key`s, UTF-8)."""
        prefixes = _prefixes(keys)
        k = np.searchsorted(self.prefixes, prefixes)
        # No bound shares the prefix: exactly the bounds before prefixes[k] are below the key.
        cuts = self.first[k] - 1
        shared = np.flatnonzero(self.prefixes[np.minimum(k, len(self.prefixes) - 1)] == prefixes)
        cuts[shared] = np.searchsorted(self.bounds, keys[shared], side="right") - 1
        return cuts

    def find(self, joined: str, count: int) -> tuple[list[int], list[int]]:
        """(positions, intervals) of the names under a registered domain.

        `joined` is `count` normalised names joined by newlines; none may hold a NUL.
        """
        if not count:
            return [], []
        if count >= PATTERN_MIN and self.cut_of and (pattern := self.pattern) is not None:
            return self.find_pattern(pattern, joined, count)
        return self.find_sorted(joined, count)

    def find_pattern(self, pattern: re.Pattern[bytes], joined: str, count: int) -> tuple[list[int], list[int]]:
        """`find` by the suffix pattern: the UTF-8 bytes of the whole batch, backwards, one scan."""
        backwards = b"\n" + joined.encode("utf-8")[::-1]  # the last name first, each after a newline
        found = [(m.start(), m.group(1)) for m in pattern.finditer(backwards)]
        if not found:
            return [], []
        found.reverse()  # the first name first: the caller then reads its items in memory order
        starts, domains = zip(*found, strict=True)
        lines = np.flatnonzero(np.frombuffer(backwards, dtype=np.uint8) == 10)
        positions = cast(list[int], (count - 1 - np.searchsorted(lines, starts)).tolist())
        return positions, list(map(self.cut_of.__getitem__, domains))

    def find_sorted(self, joined: str, count: int) -> tuple[list[int], list[int]]:
        """`find` by one `searchsorted` of the reversed names over the interval bounds."""
        if not count:
            return [], []
        backwards = ("." + joined.replace("\n", "\n."))[::-1].encode("utf-8")  # the last name first
        keys = np.array(backwards.split(b"\n"), dtype=bytes)
        cuts = self.cuts_of(keys)
        rows = np.flatnonzero(self.covered[cuts])
        return (count - 1 - rows).tolist(), cuts[rows].tolist()


_BOUNDARY = rb"(?![^.\n])"  # the next byte of a reversed name ends the label: '.', newline or the end


def suffix_pattern(domains: list[bytes]) -> re.Pattern[bytes] | None:
    """A regular expression for `\n` + a name written backwards (UTF-8 bytes reversed).

    Group 1 is the longest registered domain (also reversed) that the name is, or lies under, on a
    label boundary. The alternatives form the trie of the reversed domains: each branch starts with
    a different byte, which `re` tests before it tries the branch, and runs without branches are
    one literal. A node that ends a domain tries its children first, so the longest one wins.
    None when the pattern is too deep for `re` (nesting grows with the branch points on one path).
    """
    root: dict[int, dict] = {}  # type: ignore[type-arg]
    for domain in domains:
        node = root
        for byte in domain:
            node = node.setdefault(byte, {})
        node[-1] = {}  # a registered domain ends here

    def emit(node: dict[int, dict]) -> bytes:  # type: ignore[type-arg]
        branches = []
        for byte in sorted(key for key in node if key >= 0):
            child, run = node[byte], bytearray([byte])
            while len(child) == 1 and -1 not in child:
                ((next_byte, child),) = child.items()
                run.append(next_byte)
            branches.append(re.escape(bytes(run)) + emit(child))
        if -1 in node:
            branches.append(_BOUNDARY)
        return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"

    try:
        return re.compile(b"\n(" + emit(root) + b")")
    except (RecursionError, re.error, OverflowError):
        return None


def _prefixes(keys: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each key (zero-padded) as a big-endian unsigned integer."""
    return keys.astype("S8").view(">u8").astype(np.uint64)


def _owners(levels: list[tuple[DomainHit, ...]]) -> tuple[DomainHit, ...]:
    """The most specific hit per constituent over nested registered domains."""
    seen: set[int] = set()
    best = []
    for hits in sorted(levels, key=lambda hits: -len(hits[0].domain)):
        for hit in hits:
            if hit.constituent_id not in seen:
                seen.add(hit.constituent_id)
                best.append(hit)
    return tuple(best)
