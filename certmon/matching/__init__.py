"""Matching: which constituents an item concerns, by which rule, and why (pure, in memory)."""

from certmon.matching.engine import MatchEngine
from certmon.matching.history import IndicatorHistory
from certmon.matching.snapshot import AssetRef, ConstituentRef, MatchResult, RegistrySnapshot

__all__ = ["AssetRef", "ConstituentRef", "IndicatorHistory", "MatchEngine", "MatchResult", "RegistrySnapshot"]
