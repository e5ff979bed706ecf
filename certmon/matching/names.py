"""Name index: constituents named in advisory text, as whole words, in one pass over the tokens.

Text is cut into lower-case word tokens (`\\w` understands æøå; a hyphenated word stays one token,
so "Helse Nord" never matches inside "Helse Nord-Trøndelag"). Patterns are token sequences indexed
by their first token; at each position the longest pattern wins and the scan jumps past it — an
Aho–Corasick-like single pass without a regex alternation of a thousand names.

Single-word names ("Nes", "Os", "Hå", "Vik", "Bø", "Hemit") only match with their designator
("Nes kommune", "Os herad", "Hemit HF"), because many are ordinary words on their own. Multiword
names ("Østre Toten", "Helse Bergen", "Sykehuset Innlandet") also match bare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from certmon.matching.snapshot import ConstituentRef

_TOKEN = re.compile(r"\w+(?:-\w+)*")
_DESIGNATORS = {"kommune", "herad", "fylkeskommune", "hf", "rhf", "sf"}
_CONTEXT = {
    "kommune": ("kommune", "herad"),
    "fylkeskommune": ("fylkeskommune",),
    "hf": ("hf",),
    "rhf": ("rhf",),
}
_BARE_SINGLE_MIN = 12  # kind "other": a single long word ("Helsedirektoratet") is distinctive enough

CONFIDENCE = 50
CONFIDENCE_AMBIGUOUS = 40  # the same words name several constituents (e.g. two "Herøy kommune")


class NameHit(NamedTuple):
    """A constituent named in the text, with the words as they were written."""

    constituent_id: int
    text: str
    confidence: int


def tokens(text: str) -> list[str]:
    """Lower-case word tokens (hyphenated words kept whole)."""
    return _TOKEN.findall(text.lower())


def name_patterns(ref: ConstituentRef) -> set[tuple[str, ...]]:
    """The token sequences that name this constituent (genitive -s forms included)."""
    found: set[tuple[str, ...]] = set()
    for name in (ref.name, *ref.names):
        words = tokens(name)
        if not words:
            continue
        base = words[:-1] if words[-1] in _DESIGNATORS and len(words) > 1 else words
        if len(words) >= 2:
            found.add(tuple(words))
        if len(base) >= 2:
            found.add(tuple(base))
        for context in _CONTEXT.get(ref.kind.lower(), ()):
            found.add((*base, context))
        if ref.kind.lower() == "other" and len(base) == 1 and len(base[0]) >= _BARE_SINGLE_MIN:
            found.add(tuple(base))
    return found | {(*p[:-1], p[-1] + "s") for p in found}


class NameIndex:
    """First-token dict of name patterns, longest first."""

    def __init__(self, constituents: Iterable[ConstituentRef]) -> None:
        owners: dict[tuple[str, ...], set[int]] = {}
        for ref in constituents:
            for pattern in name_patterns(ref):
                owners.setdefault(pattern, set()).add(ref.id)
        self.first: dict[str, list[tuple[tuple[str, ...], tuple[int, ...]]]] = {}
        for pattern, ids in owners.items():
            self.first.setdefault(pattern[0], []).append((pattern, tuple(sorted(ids))))
        for entries in self.first.values():
            entries.sort(key=lambda entry: -len(entry[0]))

    def find(self, text: str) -> list[NameHit]:
        """Constituents named in the text (leftmost-longest, one hit per constituent)."""
        found = list(_TOKEN.finditer(text))
        words = [m.group().lower() for m in found]
        hits: dict[int, NameHit] = {}
        first = self.first
        i, count = 0, len(words)
        while i < count:
            entries = first.get(words[i])
            step = 1
            if entries:
                for pattern, ids in entries:
                    size = len(pattern)
                    if tuple(words[i:i + size]) == pattern:
                        conf = CONFIDENCE if len(ids) == 1 else CONFIDENCE_AMBIGUOUS
                        for cid in ids:
                            written = text[found[i].start():found[i + size - 1].end()]
                            hits.setdefault(cid, NameHit(cid, written, conf))
                        step = size
                        break
            i += step
        return list(hits.values())
