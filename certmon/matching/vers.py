"""Versions and version ranges, compared by scheme with maintained libraries.

A *spec* is what an advisory or an inventory line says about versions: one version (`7.2.4`), a
range in any of the forms vendors publish — `vers:` URIs (`vers:generic/>=2.9|<=4.1`, and the
widespread non-standard `vers:all/<V4.3.8`), the CSAF 2.0 VLS form (`>=2.9|<=4.1`), the
inventory's comma form (`>=7.0,<7.2.5`), wildcards (`7.2.*`, `7.2.x`) and NVD/KEV prose
(`before 7.2.5`, `7.2.4 and earlier`, `All versions < V18 Update 3`, `2.0 through 2.4`) — or
"all versions". It parses into a union of intervals, so containment, overlap and inclusion are
exact set operations.

Versions compare by scheme (a purl type or a `vers` scheme):
- `generic` (vendor versions): PEP 440 order (`packaging`) when both sides are PEP 440 versions
  (so `7.2` == `7.2.0`, `2.0-beta9` < `2.0`, four-part builds compare numerically), else the
  segment order of rpmvercmp (univers' `RpmVersion`: `17 Update 10` > `17 Update 5`,
  `3.16 P035` > `3.16 P034`). A leading `V`/`version` is not part of the version.
- every scheme univers knows (`deb`, `rpm`, `pypi`, `npm`/semver, `maven`, `gem`, `golang`,
  `nuget`, `composer`, `cargo`, …) with that scheme's own univers version class.
"""

from __future__ import annotations

import re
from functools import lru_cache, total_ordering
from typing import Any, NamedTuple

from packaging.version import InvalidVersion, Version

GENERIC = "generic"
# vers schemes that carry no ordering of their own: vendor versions, compared generically
_GENERIC_ALIASES = {"generic", "all", "none", "intdot", "lexicographic", "semver", "datetime", "github"}
# univers' own schemes (univers.version_range.RANGE_CLASS_BY_SCHEMES), named here so that importing this
# module does not import univers (half a second): it is loaded on the first non-PEP 440 comparison.
_UNIVERS_SCHEMES = frozenset({"alpm", "apache", "apk", "cargo", "composer", "conan", "deb", "ebuild", "gem",
                              "golang", "hex", "maven", "mattermost", "mozilla", "nginx", "npm", "nuget",
                              "openssl", "pypi", "rpm"})
_SCHEME_ALIASES = {"semver": "npm", "python": "pypi", "debian": "deb", "redhat": "rpm", "go": "golang"}
_PREFIX = re.compile(r"^(?:version\s+|ver\.?\s*|v(?=\d))", re.IGNORECASE)
_NOTE = re.compile(r"\s+\((?:[^()]*)\)")  # " (only affected by CVE-…)"; not Cisco's 12.2(55)SE
_WILDCARD = re.compile(r"^[vV]?\d+(?:\.\d+)*[.\-][*xX]$|^\*$")
_OPS = ("<=", ">=", "!=", "==", "<", ">", "=")
_MAX_WORDS = 3


class VersionError(ValueError):
    """A version or range that cannot be read."""


def scheme_of(name: str | None) -> str:
    """The comparison scheme for a purl type or vers scheme name; unknown ones compare generically."""
    key = (name or "").strip().lower()
    key = _SCHEME_ALIASES.get(key, key)
    if not key or key in _GENERIC_ALIASES or key not in _UNIVERS_SCHEMES:
        return GENERIC
    return key


def clean(text: str) -> str:
    """A version as written, without a leading `V`/`version` and with whitespace collapsed."""
    return " ".join(_PREFIX.sub("", text.strip()).split())


@lru_cache(maxsize=65536)
def _pep440(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=65536)
def _rpm(text: str) -> Any:
    from univers.versions import RpmVersion

    return RpmVersion(text)


@lru_cache(maxsize=65536)
def _native(scheme: str, text: str) -> Any:
    from univers.version_range import RANGE_CLASS_BY_SCHEMES

    cls: Any = RANGE_CLASS_BY_SCHEMES[scheme].version_class
    return cls(text)


@total_ordering
class V:
    """One comparable version of one scheme."""

    __slots__ = ("key", "scheme", "text")

    def __init__(self, text: str, scheme: str = GENERIC) -> None:
        self.text = clean(text)
        self.scheme = scheme
        if not self.text or not any(ch.isdigit() for ch in self.text) \
                or len(self.text.split()) > _MAX_WORDS or len(self.text) > 100:
            raise VersionError(f"ikke et versjonsnummer: {text!r}")
        if scheme == GENERIC:
            self.key: Any = _pep440(self.text)
            if self.key is None:
                try:
                    _rpm(self.text)
                except Exception as exc:  # univers raises its own and library errors
                    raise VersionError(f"ikke et versjonsnummer: {text!r}") from exc
        else:
            try:
                self.key = _native(scheme, self.text)
            except Exception as exc:
                raise VersionError(f"ikke et {scheme}-versjonsnummer: {text!r}") from exc

    def _cmp(self, other: V) -> int:
        if self.scheme == GENERIC and other.scheme == GENERIC:
            if self.key is not None and other.key is not None:
                a, b = self.key, other.key
            else:
                a, b = _rpm(self.text), _rpm(other.text)
        elif self.scheme == other.scheme:
            a, b = self.key, other.key
        else:  # two schemes: fall back to the generic order of the texts
            return V(self.text)._cmp(V(other.text))
        return (a > b) - (a < b)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, V) and self._cmp(other) == 0

    def __lt__(self, other: V) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:  # equal versions may differ in text (7.2 == 7.2.0): hash the scheme only
        return hash(self.scheme)

    def __repr__(self) -> str:
        return f"V({self.text!r}, {self.scheme!r})"


class Interval(NamedTuple):
    """Versions from `low` to `high`; None is unbounded on that side."""

    low: V | None
    low_inclusive: bool
    high: V | None
    high_inclusive: bool

    def contains(self, v: V) -> bool:
        """Whether the version lies in the interval."""
        if self.low is not None and (v < self.low or (v == self.low and not self.low_inclusive)):
            return False
        return not (self.high is not None and (v > self.high or (v == self.high and not self.high_inclusive)))

    def empty(self) -> bool:
        """Whether no version lies in it."""
        if self.low is None or self.high is None:
            return False
        return self.low > self.high or (self.low == self.high and not (self.low_inclusive and self.high_inclusive))


_EVERYTHING = Interval(None, True, None, True)


class Spec(NamedTuple):
    """A union of intervals, as written in `text`."""

    intervals: tuple[Interval, ...]
    text: str
    scheme: str = GENERIC

    @property
    def is_all(self) -> bool:
        """Every version."""
        return _EVERYTHING in self.intervals

    @property
    def point(self) -> V | None:
        """The single version when the spec names exactly one."""
        if len(self.intervals) == 1:
            i = self.intervals[0]
            if i.low is not None and i.high is not None and i.low == i.high and i.low_inclusive and i.high_inclusive:
                return i.low
        return None

    def contains(self, v: V) -> bool:
        """Whether the version is in the spec."""
        return any(i.contains(v) for i in self.intervals)

    def overlaps(self, other: Spec) -> bool:
        """Whether some version is in both."""
        return any(not _meet(a, b).empty() for a in self.intervals for b in other.intervals)

    def within(self, other: Spec) -> bool:
        """Whether every version of this spec is also in `other`."""
        rest = [i for i in self.intervals if not i.empty()]
        return not any(not _meet(i, hole).empty() for hole in _complement(other.intervals) for i in rest)


def everything(text: str = "*") -> Spec:
    """The spec of all versions."""
    return Spec((_EVERYTHING,), text)


def _tighter(a: tuple[V | None, bool], b: tuple[V | None, bool], *, low: bool) -> tuple[V | None, bool]:
    """The tighter of two bounds: the higher of two lower bounds, the lower of two upper bounds."""
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    if a[0] == b[0]:
        return a[0], a[1] and b[1]
    return a if (a[0] > b[0]) == low else b


def _meet(a: Interval, b: Interval) -> Interval:
    low = _tighter((a.low, a.low_inclusive), (b.low, b.low_inclusive), low=True)
    high = _tighter((a.high, a.high_inclusive), (b.high, b.high_inclusive), low=False)
    return Interval(low[0], low[1], high[0], high[1])


def _complement(intervals: tuple[Interval, ...]) -> list[Interval]:
    """The versions in none of the intervals, as intervals."""
    holes = [_EVERYTHING]
    for i in intervals:
        if i.empty():
            continue
        pieces = []
        if i.low is not None:
            pieces.append(Interval(None, True, i.low, not i.low_inclusive))
        if i.high is not None:
            pieces.append(Interval(i.high, not i.high_inclusive, None, True))
        holes = [m for h in holes for p in pieces if not (m := _meet(h, p)).empty()]
    return holes


def _version(text: str, scheme: str) -> V:
    return V(text, scheme)


def _clause(text: str, scheme: str) -> Interval:
    """One comparison (`<7.2.5`, `>= 7.0`, `7.2.*`, `=7.2.4`, `7.2.4`) as an interval."""
    text = text.strip()
    op = next((o for o in _OPS if text.startswith(o)), "")
    version = text[len(op):].strip()
    if not version:
        raise VersionError(f"mangler versjon i {text!r}")
    if op in ("", "=", "==") and _WILDCARD.match(version):
        return _wildcard(version, scheme)
    v = _version(version, scheme)
    if op in ("<", "<="):
        return Interval(None, True, v, op == "<=")
    if op in (">", ">="):
        return Interval(v, op == ">=", None, True)
    if op == "!=":
        raise VersionError(f"«!=» kan ikke stå alene: {text!r}")
    return Interval(v, True, v, True)


def _wildcard(text: str, scheme: str) -> Interval:
    """`7.2.*` / `7.2.x` → [7.2, 7.3)."""
    prefix = re.sub(r"[.\-]?[*xX]$", "", clean(text))
    nums = re.findall(r"\d+", prefix)
    if not nums or not re.fullmatch(r"[\d.]+", prefix):
        if not nums:
            return _EVERYTHING
        raise VersionError(f"ukjent jokertegn i {text!r}")
    parts = prefix.split(".")
    upper = ".".join([*parts[:-1], str(int(parts[-1]) + 1)])
    return Interval(_version(prefix, scheme), True, _version(upper, scheme), False)


def _vers_constraints(parts: list[str], scheme: str) -> tuple[Interval, ...]:
    """vers semantics: `=` versions are points, `!=` holes, the rest pair up in version order."""
    points: list[V] = []
    holes: list[V] = []
    bounds: list[tuple[V, str]] = []
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        if part == "*":
            return (_EVERYTHING,)
        op = next((o for o in _OPS if part.startswith(o)), "=")
        version = part[len(op):].strip() if part.startswith(op) else part
        if op in ("=", "==") and _WILDCARD.match(version):
            w = _wildcard(version, scheme)
            assert w.low is not None and w.high is not None
            bounds += [(w.low, ">="), (w.high, "<")]
            continue
        v = _version(version, scheme)
        if op in ("=", "=="):
            points.append(v)
        elif op == "!=":
            holes.append(v)
        else:
            bounds.append((v, op))
    bounds.sort(key=lambda b: b[0])
    intervals: list[Interval] = [Interval(p, True, p, True) for p in points]
    low: tuple[V, str] | None = None
    for i, (v, op) in enumerate(bounds):
        if op in (">", ">="):
            if low is not None:  # two lower bounds in a row: the first is open-ended up to this one
                intervals.append(Interval(low[0], low[1] == ">=", v, False))
            low = (v, op)
            if i == len(bounds) - 1:
                intervals.append(Interval(v, op == ">=", None, True))
        else:
            if low is None:
                intervals.append(Interval(None, True, v, op == "<="))
            else:
                intervals.append(Interval(low[0], low[1] == ">=", v, op == "<="))
                low = None
    if holes:
        if not intervals:
            intervals = [_EVERYTHING]
        for h in holes:
            pieces = (Interval(None, True, h, False), Interval(h, False, None, True))
            intervals = [m for i in intervals for p in pieces if not (m := _meet(i, p)).empty()]
    if not intervals:
        raise VersionError("ingen versjoner i området")
    return tuple(intervals)


_ALL_WORDS = {"*", "all", "any", "all versions", "alle versjoner", "vers:all/*", "all supported versions"}
_PROSE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:all versions?|alle versjoner)\s*(?:prior to|before)\s+(.+)$", re.I), "<{0}"),
    (re.compile(r"^(?:all versions?|alle versjoner)\s*(.+)$", re.I), "{0}"),
    (re.compile(r"^(?:versions?\s+)?(?:before|prior to|earlier than|below|older than|lower than|"
                r"up to \(?(?:but )?(?:not|excluding) including\)?|eldre enn|før)\s+(.+)$", re.I), "<{0}"),
    (re.compile(r"^(?:versions?\s+)?(?:up to(?: and including)?|through|til og med)\s+(.+)$", re.I), "<={0}"),
    (re.compile(r"^(.+?)\s+(?:and|or|og)\s+(?:earlier|prior|below|older|lower|eldre|tidligere)"
                r"(?:\s+versions?)?$", re.I), "<={0}"),
    (re.compile(r"^(.+?)\s+(?:and|or|og)\s+(?:later|above|newer|higher|nyere|senere)(?:\s+versions?)?$", re.I),
     ">={0}"),
    (re.compile(r"^(?:from\s+)?(\S+)\s+(?:through|to|until|til)\s+(\S+)$", re.I), ">={0},<={1}"),
    (re.compile(r"^(\S+)\s+-\s+(\S+)$"), ">={0},<={1}"),
)


@lru_cache(maxsize=16384)
def parse_spec(text: str, scheme: str = GENERIC) -> Spec:
    """Parse any version spec (see the module text); raises VersionError when it cannot be read."""
    raw = text
    text = _NOTE.sub(" ", text).strip()
    if not text:
        raise VersionError("tom versjon")
    if text.lower().startswith("vers:"):
        name, _, rest = text[5:].partition("/")
        scheme = scheme_of(name)
        if rest.strip() in ("", "*"):
            return Spec((_EVERYTHING,), raw, scheme)
        return Spec(_vers_constraints(rest.split("|"), scheme), raw, scheme)
    if text.lower() in _ALL_WORDS:
        return Spec((_EVERYTHING,), raw, scheme)
    if "|" in text:
        return Spec(_vers_constraints(text.split("|"), scheme), raw, scheme)
    for pattern, template in _PROSE:
        m = pattern.match(text)
        if m:
            rewritten = template.format(*(g.strip() for g in m.groups()))
            if rewritten != text:
                return Spec(parse_spec(rewritten, scheme).intervals, raw, scheme)
    result = _EVERYTHING
    for part in text.split(","):
        if part.strip():
            result = _meet(result, _clause(part, scheme))
    if result.empty():
        raise VersionError(f"ingen versjoner i {raw!r}")
    return Spec((result,), raw, scheme)


def try_spec(text: str | None, scheme: str = GENERIC) -> Spec | None:
    """`parse_spec`, or None when the text is empty or unreadable."""
    if text is None or not text.strip():
        return None
    try:
        return parse_spec(text, scheme)
    except VersionError:
        return None


NO_VERSION = {"", "*", "-", "any", "all", "na", "n/a"}


def has_version(text: str | None) -> bool:
    """Whether a version field says anything (not empty, '*' or '-')."""
    return text is not None and text.strip().lower() not in NO_VERSION
