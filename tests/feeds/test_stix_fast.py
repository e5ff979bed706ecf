"""Fast paths of the STIX adapter agree with the general ones they skip (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds import stix_patterns
from feeds.stix_patterns import (
    PatternUnsupported,
    _canonical,
    _canonical_slow,
    _grammar_comparisons,
    _observables_general,
    _resolve,
    observables,
)

KINDS = ("ip", "host", "domain", "url", "md5", "sha1", "sha256")
_NAME_CHARS = "abcXYZ019_-.*"
_URL_CHARS = "abZ09_-.:/?#@[]%&=+ \t\"<>'\\~!$()" + "æ"

labels = st.text(alphabet=_NAME_CHARS, min_size=0, max_size=12)
names = st.lists(labels, min_size=1, max_size=5).map(".".join)
octets = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "255", "256", ""]))
ipv4s = st.lists(octets, min_size=3, max_size=5).map(".".join)
hosts = st.one_of(names, ipv4s, st.sampled_from(["[::1]", "[2001:DB8::1]", "a" * 260 + ".example"]))
ports = st.one_of(st.just(""), st.integers(0, 999_999).map(lambda p: f":{p}"), st.just(":"))
tails = st.text(alphabet=_URL_CHARS, max_size=20)
urls = st.builds(
    lambda s, h, p, t: f"{s}://{h}{p}{t}",
    st.sampled_from(["http", "HTTPS", "hxxp", "ftp", "a+b.c"]),
    hosts,
    ports,
    tails,
)
hashes = st.text(alphabet="0123456789abcdefABCDEF g", min_size=30, max_size=66)
values = st.one_of(names, ipv4s, urls, hashes, st.text(max_size=30))


@settings(max_examples=3000, deadline=None)
@given(kind=st.sampled_from(KINDS), value=values)
@example(kind="url", value="http://bad1.example.net/path/1?q=0")
@example(kind="url", value="http://a.example/?")
@example(kind="url", value="http://a.example/x#")
@example(kind="url", value="http://a.example:/x")
@example(kind="url", value="http://user@a.example/x")
@example(kind="url", value="http://A.example/x")
@example(kind="url", value="http://1.2.3/x")
@example(kind="url", value="http://a.example./x")
@example(kind="url", value="http://" + "a" * 254 + "/")
@example(kind="domain", value="163.com")
@example(kind="domain", value="1.2.3.04")
@example(kind="host", value="198.51.100.7")
@example(kind="sha256", value="0" * 64)
def test_fast_canonical_equals_the_general_path(kind: str, value: str) -> None:
    assert _canonical(kind, value) == _canonical_slow(kind, value)


# Patterns made of the pieces the fast path reads (and some it must hand over to the grammar):
# comparisons in brackets, joined by AND/OR at both levels, with odd spacing, escapes and lists.
_PATHS = [
    ("ipv4-addr", "value"), ("ipv6-addr", "value"), ("domain-name", "value"), ("url", "value"),
    ("email-addr", "value"), ("file", "hashes.'SHA-256'"), ("file", "hashes.MD5"), ("file", "name"),
    ("network-traffic", "dst_ref.value"), ("network-traffic", "dst_port"),
    ("email-message", "from_ref.value"), ("domain-name", "resolves_to_refs[*].value"),
]
_TEXT = st.text(alphabet="abc.-_:/19 '\\æ", max_size=14)
_PLAIN = st.sampled_from(["198.51.100.7", "a.example", "http://a.example/x?q=1", "x@a.example",
                          "0" * 64, "d41d8cd98f00b204e9800998ecf8427e", "A.Example", "bad one"])


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_LITERALS = st.one_of(
    st.one_of(_PLAIN, _TEXT).map(_quote),
    st.integers(0, 70000).map(str),
    st.lists(st.one_of(_PLAIN, _TEXT).map(_quote), min_size=1, max_size=3).map(lambda v: "(" + ", ".join(v) + ")"),
)
_SPACE = st.sampled_from([" ", "  ", "\t", " \n "])
_EDGE = st.sampled_from(["", " ", "\t"])


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    obj_type, path = draw(st.sampled_from(_PATHS))
    literal = draw(_LITERALS)
    op = "IN" if literal.startswith("(") else draw(st.sampled_from(["=", "=", "!=", "LIKE", "NOT ="]))
    return f"{obj_type}:{path}{draw(_EDGE)}{op}{draw(_EDGE)}{literal}"


def _joined(draw: st.DrawFn, parts: st.SearchStrategy[str]) -> str:
    """One to three parts joined by AND or OR, with odd spacing."""
    first, *rest = draw(st.lists(parts, min_size=1, max_size=3))
    return first + "".join(f"{draw(_SPACE)}{draw(st.sampled_from(['AND', 'OR']))}{draw(_SPACE)}{part}" for part in rest)


@st.composite
def _observation(draw: st.DrawFn) -> str:
    return f"[{draw(_EDGE)}{_joined(draw, _comparison())}{draw(_EDGE)}]"


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    return draw(_EDGE) + _joined(draw, _observation()) + draw(st.sampled_from(["", " ", " WITHIN 5 SECONDS"]))


@settings(max_examples=1500, deadline=None)
@given(pattern=_patterns())
@example(pattern="[ipv4-addr:value = '192.0.2.1' OR domain-name:value = 'c2.example.org']")
@example(pattern="[network-traffic:dst_ref.value = '198.51.100.9' AND network-traffic:dst_port = 443]")
@example(pattern="[file:hashes.'SHA-256' = 'it\\'s'] AND [url:value IN ('http://a.example/', 'x')]")
@example(pattern="[url:value='http://a.com/x']OR[url:value='http://b.com/y']")  # a URL must end at its quote
@example(pattern="[url:value='http://a.com/x']AND[file:name='y']")
def test_fast_pattern_path_equals_the_grammar(pattern: str) -> None:
    """Whatever shape takes the regex paths, a pattern the official grammar reads gives the observables
    the grammar names. (One the grammar rejects may still give its plain `=` comparisons: feeds send
    sloppy patterns, such as a number after LIKE, and the fast path is deliberately lenient there.
    An operator word glued to its path, `valueIN(…)`, is rejected like the grammar does.)"""
    try:
        expected = set(_resolve(_grammar_comparisons(pattern, "2.1")))
    except PatternUnsupported:
        return
    assert set(observables(pattern, "2.1")) == expected


@pytest.mark.parametrize("pattern", ["[ipv4-addr:valueIN ('198.51.100.7')]", "[url:valueLIKE 'x']"])
def test_an_operator_glued_to_its_path_is_invalid(pattern: str) -> None:
    with pytest.raises(PatternUnsupported):
        observables(pattern, "2.1")


def _general(pattern: str) -> list[tuple[str, str]] | str:
    try:
        return _observables_general(pattern, "2.1")
    except PatternUnsupported:
        return "unsupported"


def _observed(pattern: str) -> list[tuple[str, str]] | str:
    try:
        return observables(pattern, "2.1")
    except PatternUnsupported:
        return "unsupported"


_QUICK_PATHS = [
    ("ipv4-addr", "value"), ("ipv6-addr", "value"), ("domain-name", "value"), ("url", "value"),
    ("file", "hashes.'SHA-256'"), ("file", "hashes.SHA256"), ("file", "hashes.'SHA256'"),
    ("file", "hashes.'sha-256'"), ("file", "hashes.MD5"), ("file", "hashes.'MD5'"),
    ("file", "hashes.'SHA-1'"), ("file", "hashes.SHA1"), ("file", "hashes.'SHA1'"), ("file", "name"),
]


@settings(max_examples=3000, deadline=None)
@given(path=st.sampled_from(_QUICK_PATHS), value=st.one_of(values, st.just("a" * 254), st.just("a" * 253)),
       before=_EDGE, after=_EDGE, inner=_EDGE)
@example(path=("domain-name", "value"), value="1.2.3.4", before="", after="", inner=" ")
@example(path=("url", "value"), value="http://a.example/it's", before="", after="", inner=" ")
@example(path=("url", "value"), value="http://a.example/a\\b", before="", after="", inner=" ")
def test_one_comparison_shortcut_equals_the_general_path(path: tuple[str, str], value: str, before: str,
                                                         after: str, inner: str) -> None:
    """`_QUICK` answers the commonest patterns in one match: exactly what the general path says."""
    obj_type, name = path
    pattern = f"[{before}{obj_type}:{name}{inner}={inner}{_quote(value)}{after}]"
    assert _observed(pattern) == _general(pattern)


@settings(max_examples=1500, deadline=None)
@given(pattern=_patterns(), data=st.data())
@example(pattern="[file:hashes.'SHA-256' = 'a'] OR [file:hashes.MD5 = ('b', 'c')]", data=None)
@example(pattern="[autonomous-system:number = 64500 OR url:value = 'x']", data=None)
@example(pattern="[file:created = t'2020-01-01T00:00:00Z' OR url:value = 'x']", data=None)
def test_a_plan_read_off_one_pattern_fits_every_pattern_of_its_shape(pattern: str, data: st.DataObject | None,
                                                                     ) -> None:
    """A pattern's plan, made from another pattern of the same shape with other values, gives exactly what
    the general path gives (and the shape is indeed the same)."""
    parts = stix_patterns._VALUE_STR.split(pattern)
    others = list(parts)
    for index in range(1, len(parts), 2):
        fill = data.draw(st.one_of(_PLAIN, _TEXT)) if data is not None else "198.51.100.7"
        others[index] = "'" + _quote(fill)[1:-1] + "'"
        parts[index] = "'" + parts[index] + "'"
    first, other = "".join(parts), "".join(others)
    stix_patterns._PLANS.clear()
    _observed(first)  # the plan of this shape comes from the first pattern
    if stix_patterns._QUICK(first) is None and len(first) <= stix_patterns.MAX_PATTERN:
        assert tuple(stix_patterns._VALUE_STR.split(other)[0::2]) in stix_patterns._PLANS
    assert _observed(other) == _general(other)


@pytest.mark.parametrize("pattern", [
    "[url:value='http://a.com/x']OR[url:value='http://b.com/y']",
    "[url:value='http://a.com/x']AND[file:name='y']",
    "[url:value = 'http://a.com/a'b']",
    "[url:value = 'http://a.com/a?q=[1]&b=~#f']",
])
def test_the_one_comparison_shortcut_never_reads_a_url_past_its_quote(pattern: str) -> None:
    stix_patterns._PLANS.clear()
    assert _observed(pattern) == _general(pattern)
