"""Domain index: a registered domain matches itself and everything under it, on label boundaries.

Every suffix of every registered domain is a key ("no", "kommune.no", "oslo.kommune.no"); the
value lists the owners registered exactly there (empty for interior nodes). A lookup walks the
queried name from its top-level label inward — the label-reversed trie flattened into one dict —
and stops at the first suffix nobody registered anything under, so a miss costs one or two probes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import idna


class DomainHit(NamedTuple):
    """One registered domain and its owner."""

    asset_id: int
    constituent_id: int
    domain: str  # normalised (A-label) form
    labels: int


def normalise_domain(text: str) -> str:
    """Lower case, no trailing dot, IDNs in A-label form ("bø.kommune.no" → "xn--b-5ga.kommune.no")."""
    text = text.strip().rstrip(".")
    if text.isascii():
        return text.lower()
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return text.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return text.lower()


def url_host(url: str) -> str:
    """The host part of a URL (brackets kept for IPv6 literals), as written; '' if there is none."""
    rest = url.strip()
    scheme_end = rest.find("://")
    if scheme_end >= 0:
        rest = rest[scheme_end + 3:]
    elif rest.startswith("//"):
        rest = rest[2:]
    for stop in "/?#\\":
        cut = rest.find(stop)
        if cut >= 0:
            rest = rest[:cut]
    rest = rest.rpartition("@")[2]
    if rest.startswith("["):
        return rest[: rest.find("]") + 1] if "]" in rest else rest
    return rest.partition(":")[0]


class DomainIndex:
    """Suffix-walk index over registered domains (or e-mail domains)."""

    def __init__(self, nodes: dict[str, tuple[DomainHit, ...]]) -> None:
        self.nodes = nodes

    @classmethod
    def build(cls, assets: Iterable[tuple[int, int, str]]) -> DomainIndex:
        """Index (asset_id, constituent_id, domain) triples; one hit per owner and domain."""
        nodes: dict[str, tuple[DomainHit, ...]] = {}
        for asset_id, constituent_id, value in assets:
            domain = normalise_domain(value)
            if not domain or ".." in domain:
                continue
            labels = domain.split(".")
            for i in range(1, len(labels)):
                nodes.setdefault(".".join(labels[i:]), ())
            here = nodes.get(domain, ())
            if all(hit.constituent_id != constituent_id for hit in here):
                nodes[domain] = (*here, DomainHit(asset_id, constituent_id, domain, len(labels)))
        return cls(nodes)

    def lookup(self, domain: str) -> list[DomainHit]:
        """Registered domains equal to or above `domain` (already normalised), most specific first."""
        nodes = self.nodes
        found: list[DomainHit] = []
        end = len(domain)
        while True:
            dot = domain.rfind(".", 0, end)
            hits = nodes.get(domain[dot + 1:])
            if hits is None:
                break
            if hits:
                found[:0] = hits
            if dot < 0:
                break
            end = dot
        return found

    def owners(self, domain: str) -> list[DomainHit]:
        """The most specific registered domain per constituent for `domain` (already normalised)."""
        found = self.lookup(domain)
        if len(found) <= 1:
            return found
        seen: set[int] = set()
        best = []
        for hit in found:
            if hit.constituent_id not in seen:
                seen.add(hit.constituent_id)
                best.append(hit)
        return best
