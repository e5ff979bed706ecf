"""Collects candidate matches for one item, keeping one per (constituent, rule): the most specific."""

from __future__ import annotations

from certmon.items.schemas import Item
from certmon.matching.snapshot import ConstituentRef, MatchResult


def effective_severity(item: Item) -> str | None:
    """The item's severity, raised to high (critical if already critical or CVSS ≥ 9) when exploited."""
    exploited = bool(item.known_exploited) or bool(item.extra.get("actively_exploited"))
    if not exploited:
        return item.severity
    if item.severity == "critical" or (item.cvss is not None and item.cvss >= 9.0):
        return "critical"
    return "high"


def display_name(ref: ConstituentRef) -> str:
    """The name as a sentence should say it: a bare municipality name gets its "kommune"."""
    suffix = {"kommune": "kommune", "fylkeskommune": "fylkeskommune"}.get(ref.kind.lower())
    words = ref.name.lower().split()
    if suffix and words and words[-1] not in ("kommune", "herad", "fylkeskommune", "kommunes"):
        return f"{ref.name} {suffix}"
    return ref.name


class Collector:
    """Candidate matches of one item; `add` keeps the best per (constituent, rule)."""

    __slots__ = ("best", "cleared", "constituents", "item_key", "severity")

    def __init__(self, item: Item, constituents: dict[int, ConstituentRef]) -> None:
        self.item_key = item.key
        self.severity = effective_severity(item)
        self.constituents = constituents
        self.best: dict[tuple[int, str], tuple[tuple[int, int], MatchResult]] = {}
        self.cleared: dict[int, str] = {}  # constituent → why the publisher says it is not affected

    def owner(self, constituent_id: int) -> str:
        """The constituent's name for explanations."""
        ref = self.constituents.get(constituent_id)
        return display_name(ref) if ref is not None else f"virksomhet {constituent_id}"

    def add(self, constituent_id: int, rule: str, asset: str, asset_id: int | None, confidence: int,
            explanation: str, specificity: int = 0, status: str | None = None) -> None:
        """Offer a candidate; it replaces the current one if more confident or more specific."""
        slot = (constituent_id, rule)
        rank = (confidence, specificity)
        current = self.best.get(slot)
        if current is not None and current[0] >= rank:
            return
        ref = self.constituents.get(constituent_id)
        result = MatchResult(self.item_key, constituent_id, ref.org_number if ref else None, rule, asset,
                             asset_id, confidence, explanation, self.severity, status)
        self.best[slot] = (rank, result)

    def clear(self, constituent_id: int, explanation: str) -> None:
        """Note that the item says this constituent's product is fixed or not affected."""
        self.cleared.setdefault(constituent_id, explanation)

    def results(self) -> list[MatchResult]:
        """The kept matches."""
        return [result for _, result in self.best.values()]
