"""Concrete observables from STIX 2.x patterns: a regex fast path, the official grammar as fallback.

Only `=` and `IN` comparisons yield observables (a `!=`, `LIKE`, `MATCHES` or `NOT` comparison
describes what something is not, or a family of values). Patterns made of plain comparisons joined
by AND/OR, in one or more observation brackets joined by AND/OR, take the fast path; everything else
(qualifiers, parentheses, other operators) goes through stix2-patterns' grammar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import cast

from feeds.common import canonical_indicator

# Values that are already canonical, recognised without the general canonicalisation (no ipaddress,
# urlsplit or idna call). Each pattern accepts only text that `canonical_indicator` would return
# unchanged for that kind (tests/feeds/test_stix_fast.py checks this property); anything else, such
# as upper case, surrounding space, IPv6, userinfo, a trailing dot or an empty query, takes the
# general path.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_FAST_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
# The last label starts with a letter or `_`, so the name can never parse as an IP address.
_FAST_NAME = rf"(?:{_LABEL}\.)*[a-z_](?:[a-z0-9_-]{{0,61}}[a-z0-9_])?"
# URL: lower-case scheme and host (at most 253 characters), optional port, then printable ASCII with
# a non-empty query and fragment when their `?` and `#` are there (urlunsplit drops empty ones).
_FAST_URL = (
    rf"[a-z][a-z0-9+.-]*://(?=[a-z0-9_.-]{{1,253}}(?:[:/?#]|\Z))(?:{_FAST_IPV4}|{_FAST_NAME})(?::\d{{1,5}})?"
    r"(?:/[!-\"$->@-~]*)?(?:\?[!-\"$-~]+)?(?:#[!-~]+)?"
)
_FAST_BY_KIND = {
    "ip": ((_FAST_IPV4, "ipv4"),),
    "host": ((_FAST_IPV4, "ipv4"), (_FAST_NAME, "domain")),
    "domain": ((_FAST_IPV4, "ipv4"), (_FAST_NAME, "domain")),
    "url": ((_FAST_URL, "url"),),
    "md5": ((r"[0-9a-f]{32}", "md5"),),
    "sha1": ((r"[0-9a-f]{40}", "sha1"),),
    "sha256": ((r"[0-9a-f]{64}", "sha256"),),
}
# Per kind: one expression with a group per shape (tried in order), and the type each group gives.
_FAST: dict[str, tuple[Callable[[str], re.Match[str] | None], tuple[str, ...]]] = {
    kind: (re.compile("|".join(f"({rx})" for rx, _ in shapes)).fullmatch, ("", *(out for _, out in shapes)))
    for kind, shapes in _FAST_BY_KIND.items()
}
_NO_FAST: tuple[Callable[[str], re.Match[str] | None], tuple[str, ...]] = (lambda value: None, ())
_FAST_MAX = {"domain": 253, "host": 253, "url": 8192}

MAX_PATTERN = 65_536  # longer patterns are skipped: the grammar parser is slow on huge input

# Possessive quantifiers (`++`, `*+`): no token here can give characters back to the next one
# (a path has no space or operator character, a literal delimits itself), so the matcher never
# backtracks into them. That makes these expressions two to five times faster than plain ones.
_STR = r"'(?:[^'\\]++|\\.)*+'"
_SCALAR = rf"(?:[thb]?{_STR}|-?\d++(?:\.\d++)?|true|false)"
_LIT = rf"(?:{_SCALAR}|\(\s*+{_SCALAR}(?:\s*+,\s*+{_SCALAR})*+\s*+\))"
_OP = r"(?:NOT\s++)?(?:=|!=|<=|>=|<|>|IN|LIKE|MATCHES|ISSUBSET|ISSUPERSET)"
_PATH = r"[a-z0-9_-]++:[A-Za-z0-9_.\-\[\]\*']++"
_CMP = rf"{_PATH}\s*+{_OP}\s*+{_LIT}"
_OBS = rf"\[\s*+{_CMP}(?:\s++(?:AND|OR)\s++{_CMP})*+\s*+\]"
_FAST_SHAPE = re.compile(rf"\s*+{_OBS}(?:\s++(?:AND|OR)\s++{_OBS})*+\s*+")
# (object type, path, operator, literal) of each comparison, for `findall` over a pattern that
# `_FAST_SHAPE` accepted: between comparisons there is only space, brackets and AND/OR, which no
# comparison starts with.
_FAST_CMP = re.compile(rf"([a-z0-9_-]++):([A-Za-z0-9_.\-\[\]\*']++)\s*+({_OP})\s*+({_LIT})")
# `_FAST_URL` without `'` and `\\` in its path, query and fragment: inside `_QUICK` a URL must end at
# the first quote (where the lookahead measured it), never run on past it into the rest of the pattern.
_QUICK_URL = (_FAST_URL.replace(r"[!-\"$->@-~]", r"[!-\"$-&(->@-\[\]-~]")
              .replace(r"[!-\"$-~]", r"[!-\"$-&(-\[\]-~]").replace(r"[!-~]", r"[!-&(-\[\]-~]"))
assert "'" not in _QUICK_URL and _QUICK_URL.count("-&(-") == 3, "the URL classes changed"
# One comparison whose value needs no canonicalisation: exactly what the general path gives for it
# (the lookaheads keep the length limits of `_canonical` and its value strings free of `'` and `\`).
_EQ = r"\s*+=\s*+'"
_QUICK = re.compile(
    r"\[\s*+(?:"
    rf"ipv4-addr:value{_EQ}({_FAST_IPV4})"
    rf"|domain-name:value{_EQ}(?:({_FAST_IPV4})|(?=[^'\\]{{1,253}}')({_FAST_NAME}))"
    rf"|url:value{_EQ}(?=[^'\\]{{1,8192}}')({_QUICK_URL})"
    rf"|file:hashes\.(?:'SHA-256'|SHA256|'SHA256'){_EQ}([0-9a-f]{{64}})"
    rf"|file:hashes\.(?:'MD5'|MD5){_EQ}([0-9a-f]{{32}})"
    rf"|file:hashes\.(?:'SHA-1'|SHA1|'SHA1'){_EQ}([0-9a-f]{{40}})"
    r")'\s*+\]"
).fullmatch
_QUICK_TYPES = ("", "ipv4", "ipv4", "domain", "url", "sha256", "md5", "sha1")  # per group
# A string literal in a value position: after `=`, `(`, `,` or space. A quoted path step such as
# hashes.'SHA-256' follows a `.` and stays part of the shape. (Its closing quote follows a path
# character, never one of these, so the split never starts a string inside one.)
_VALUE_STR = re.compile(r"'(?<=[=(,\s]')((?:[^'\\]++|\\.)*+)'")
_Plan = tuple[tuple[str, int, str, int, tuple[Callable[[str], re.Match[str] | None], tuple[str, ...]]], ...]
_PLANS: dict[tuple[str, ...], _Plan | None] = {}
_NOT_PLANNED: _Plan = (("", 0, "", 0, _NO_FAST),)  # a marker, told by identity
_PLAN_KEY_MAX = 2048  # longer patterns are read without a plan
_PLANS_MAX = 4096  # shapes remembered (a shape that holds a varying number, such as a port, is new each time)
_STR_RE = re.compile(_STR)
_ESCAPE = re.compile(r"\\(.)")

_HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA-1": "sha1", "SHA256": "sha256", "SHA-256": "sha256"}
_DIRECT = {
    ("ipv4-addr", "value"): "ip",
    ("ipv6-addr", "value"): "ip",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("email-addr", "value"): "email",
    ("autonomous-system", "number"): "asn",
}
_DEREF_EMAIL = {"from_ref", "sender_ref", "to_refs", "cc_refs", "bcc_refs"}


class PatternUnsupported(Exception):
    """The pattern could not be read by either path (syntax error or too long)."""


def observables(pattern: str, spec_version: str | None = None) -> list[tuple[str, str]]:
    """Unique canonical (type, value) pairs named by `=`/`IN` comparisons in a STIX pattern."""
    if len(pattern) > MAX_PATTERN:
        raise PatternUnsupported(f"pattern longer than {MAX_PATTERN} characters")
    quick = _QUICK(pattern)
    if quick is not None:  # the most common shapes by far: one comparison, a value already canonical
        group = cast(int, quick.lastindex)
        return [(_QUICK_TYPES[group], quick.group(group))]
    # A feed writes thousands of patterns of one shape with other values. The pattern cut at its
    # value strings (the split's even parts) names the shape; its plan says which value is what.
    parts = _VALUE_STR.split(pattern)
    shape = tuple(parts[0::2])
    plan = _PLANS.get(shape, _NOT_PLANNED)
    if plan is _NOT_PLANNED:
        plan = _plan(pattern, parts)
        if len(pattern) <= _PLAN_KEY_MAX:  # bounds the memory the shapes take
            if len(_PLANS) >= _PLANS_MAX:
                _PLANS.clear()
            _PLANS[shape] = plan
    if plan is None:
        return _observables_general(pattern, spec_version)
    found = []
    for kind, index, constant, limit, (match, types) in plan:  # `_canonical`, inline
        if index:
            value = parts[index]
            if "\\" in value:
                value = _ESCAPE.sub(r"\1", value)
        else:
            value = constant
        fast = match(value) if len(value) <= limit else None
        if fast is not None:
            found.append((types[fast.lastindex], value))  # type: ignore[index]
        elif (canon := _canonical_slow(kind, value)) is not None:
            found.append(canon)
    if len(found) < 2:
        return found
    if len(found) == 2:
        return found if found[0] != found[1] else found[:1]
    return list(dict.fromkeys(found))


def _plan(pattern: str, parts: list[str]) -> _Plan | None:
    """How to read every pattern of this one's shape: (kind, index in `parts` or 0, constant value,
    and the kind's `_FAST_MAX` and `_FAST` shapes) per `=`/`IN` value in order, or None for the
    general path.

    Only a pattern of the fast shape whose string literals are exactly the split's value strings
    gets a plan. The other patterns of its shape then differ only inside those strings, which
    neither `_FAST_SHAPE` nor `_FAST_CMP` looks into (any string body reads the same way), so the
    comparisons, kinds and constants are the same and only the values need reading.
    """
    if not _FAST_SHAPE.fullmatch(pattern):
        return None
    steps: list[tuple[str, int, str]] = []
    index = 1  # parts[1], parts[3], …: the value strings, in order
    for obj_type, path, op, literal in _FAST_CMP.findall(pattern):
        tokens = _STR_RE.findall(literal)
        slots = []
        for token in tokens:
            if index >= len(parts) or token != f"'{parts[index]}'":
                return None  # a string the split did not cut out (such as t'…'): no plan
            slots.append(index)
            index += 2
        kind = indicator_kind(obj_type, path) if op == "=" or op == "IN" else None
        if kind is None:
            continue
        if literal.startswith(("'", "(")):
            steps.extend((kind, slot, "") for slot in slots)
        else:  # a number (an ASN): the same in every pattern of this shape
            steps.append((kind, 0, literal))
    if index != len(parts):
        return None
    return tuple((kind, slot, constant, _FAST_MAX.get(kind, 8192), _FAST.get(kind, _NO_FAST))
                 for kind, slot, constant in steps)


def _observables_general(pattern: str, spec_version: str | None) -> list[tuple[str, str]]:
    """`observables` without plans: the fast shape read comparison by comparison, else the grammar."""
    if _FAST_SHAPE.fullmatch(pattern):
        comparisons = ((obj_type, path, literal) for obj_type, path, op, literal in _FAST_CMP.findall(pattern)
                       if op == "=" or op == "IN")
        found = list(_resolve(comparisons))
    else:
        found = list(_resolve(_grammar_comparisons(pattern, spec_version)))
    return list(dict.fromkeys(found))


def _resolve(comparisons: Iterator[tuple[str, str, str]]) -> Iterator[tuple[str, str]]:
    for obj_type, path, literal in comparisons:
        kind = indicator_kind(obj_type, path)
        if kind is None:
            continue
        for value in _literal_values(literal):
            canon = _canonical(kind, value)
            if canon is not None:
                yield canon


def indicator_kind(obj_type: str, path: str) -> str | None:
    """Indicator type family for an object path (`ip` means decide from the value), else None."""
    kind = _DIRECT.get((obj_type, path))
    if kind is not None:
        return kind
    if obj_type == "file" and path.startswith("hashes."):
        return _HASHES.get(path[7:].strip("'").upper())
    if path.endswith(".value"):
        ref = path.split(".", 1)[0].split("[", 1)[0]
        if obj_type == "network-traffic" and ref in ("dst_ref", "src_ref"):
            return "host"
        if obj_type == "email-message" and ref in _DEREF_EMAIL:
            return "email"
        if obj_type == "domain-name" and ref == "resolves_to_refs":
            return "ip"
    return None


def _canonical(kind: str, value: str) -> tuple[str, str] | None:
    """Canonical (type, value): already canonical text is recognised by a strict regex, the rest
    goes through `canonical_indicator`."""
    if len(value) <= _FAST_MAX.get(kind, 8192):
        match, types = _FAST.get(kind, _NO_FAST)
        fast = match(value)
        if fast is not None:
            return types[fast.lastindex], value  # type: ignore[index]
    return _canonical_slow(kind, value)


def _canonical_slow(kind: str, value: str) -> tuple[str, str] | None:
    if kind in ("ip", "host"):
        got = canonical_indicator("ipv4", value)
        if got is None and kind == "host":
            got = canonical_indicator("domain", value)
        return got
    return canonical_indicator(kind, value)


def _literal_values(literal: str) -> list[str]:
    """Unquoted strings of `'x'` or `('a', 'b')`; integers for ASN comparisons pass through."""
    literal = literal.strip()
    if literal.startswith("'"):
        return [_unquote(literal)]
    if literal.startswith("("):
        return [_unquote(m.group(0)) for m in _STR_RE.finditer(literal)]
    return [literal]


def _unquote(quoted: str) -> str:
    return _ESCAPE.sub(r"\1", quoted[1:-1]) if "\\" in quoted else quoted[1:-1]


def _grammar_comparisons(pattern: str, spec_version: str | None) -> Iterator[tuple[str, str, str]]:
    """(object type, dotted path, literal) for each `=`/`IN` comparison, via stix2-patterns."""
    from stix2patterns.exceptions import ParseException

    if spec_version is not None and spec_version.startswith("2.0"):
        from stix2patterns.v20.pattern import Pattern as Pattern20

        parser: type = Pattern20
    else:
        from stix2patterns.v21.pattern import Pattern as Pattern21

        parser = Pattern21
    try:
        data = parser(pattern).inspect()
    except (ParseException, RecursionError) as exc:
        raise PatternUnsupported(f"invalid STIX pattern: {exc}") from None
    for obj_type, comparisons in data.comparisons.items():
        for path, op, literal in comparisons:
            if op not in ("=", "IN"):
                continue
            parts = [p if isinstance(p, str) else "[*]" for p in path]
            dotted = ".".join(parts).replace(".[*]", "[*]")
            yield obj_type, dotted, str(literal)
