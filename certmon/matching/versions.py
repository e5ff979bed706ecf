"""Version ranges for the technology inventory: `<7.2.5`, `>=7.0,<7.2.5`, `7.2.*`, `7.2.4`.

Versions compare with packaging.version where both sides parse (PEP 440 covers most vendor
schemes), else as tolerant numeric tuples ("7.2.4-build1234" → (7, 2, 4, 1234)).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from packaging.version import InvalidVersion, Version

_NUM = re.compile(r"\d+")
_OPS = ("<=", ">=", "==", "!=", "<", ">", "=")
_NO_VERSION = {"", "*", "-", "any", "all"}


class Bound(NamedTuple):
    """One end of an interval; `version` None means unbounded."""

    version: str | None
    inclusive: bool


class Interval(NamedTuple):
    """A closed/open version interval."""

    low: Bound
    high: Bound


@lru_cache(maxsize=65536)
def _key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in _NUM.findall(text))


@lru_cache(maxsize=65536)
def _pep440(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1; packaging.version when both parse, else numeric tuples."""
    va, vb = _pep440(a), _pep440(b)
    if va is not None and vb is not None:
        return (va > vb) - (va < vb)
    ka, kb = _key(a), _key(b)
    return (ka > kb) - (ka < kb)


def has_version(text: str | None) -> bool:
    """Whether a version field says anything (not empty, '*' or '-')."""
    return text is not None and text.strip().lower() not in _NO_VERSION


def _wildcard(text: str) -> Interval:
    """`7.2.*` → [7.2, 7.3)."""
    prefix = text.rstrip("*").rstrip(".")
    nums = list(_key(prefix))
    if not nums:
        return Interval(Bound(None, True), Bound(None, True))
    upper = [*nums[:-1], nums[-1] + 1]
    return Interval(Bound(prefix, True), Bound(".".join(map(str, upper)), False))


def _clause(text: str) -> Interval:
    """One comparison (`<7.2.5`, `>=7.0`, `7.2.*`, `7.2.4`) as an interval."""
    text = text.strip()
    op = next((o for o in _OPS if text.startswith(o)), "==")
    version = text[len(op):].strip() if text.startswith(op) else text
    if not version or not _key(version):
        raise ValueError(f"no version in {text!r}")
    if version.endswith("*"):
        return _wildcard(version)
    unbounded = Bound(None, True)
    if op in ("<", "<="):
        return Interval(unbounded, Bound(version, op == "<="))
    if op in (">", ">="):
        return Interval(Bound(version, op == ">="), unbounded)
    if op == "!=":
        raise ValueError(f"'!=' is not supported in {text!r}")
    return Interval(Bound(version, True), Bound(version, True))


def _tighter(a: Bound, b: Bound, *, low: bool) -> Bound:
    if a.version is None:
        return b
    if b.version is None:
        return a
    cmp = compare_versions(a.version, b.version)
    if cmp == 0:
        return Bound(a.version, a.inclusive and b.inclusive)
    return a if (cmp > 0) == low else b


@lru_cache(maxsize=8192)
def parse_range(text: str) -> Interval:
    """Parse a range: comma-separated clauses are ANDed; raises ValueError if unreadable."""
    result = Interval(Bound(None, True), Bound(None, True))
    for part in text.split(","):
        if part.strip():
            clause = _clause(part)
            result = Interval(_tighter(result.low, clause.low, low=True),
                              _tighter(result.high, clause.high, low=False))
    return result


def _below(low: Bound, high: Bound) -> bool:
    """Whether the interval [low, high] is non-empty (low at or below high)."""
    if low.version is None or high.version is None:
        return True
    cmp = compare_versions(low.version, high.version)
    return cmp < 0 or (cmp == 0 and low.inclusive and high.inclusive)


def ranges_overlap(a: str, b: str) -> bool:
    """Whether two version ranges (or single versions) share any version."""
    ia, ib = parse_range(a), parse_range(b)
    low = _tighter(ia.low, ib.low, low=True)
    high = _tighter(ia.high, ib.high, low=False)
    return _below(low, high)
