"""The batch domain lookup by suffix pattern (domainranges.suffix_pattern) against the sorted ranges and `match`.

The pattern reads the whole batch backwards in one regular-expression scan. These cases pin down
the label boundary (a registered domain as a plain string suffix must not match), nesting, short
and single-label domains, IDN labels, and bytes that mean something to `re`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmon.matching import AssetRef, ConstituentRef, IndicatorHistory, MatchEngine, RegistrySnapshot, domainranges
from certmon.matching.bulk import clean_names
from tests.matching.matching_helpers import indicator
from tests.matching.test_bulk_paths import name as untidy_name


@pytest.fixture(autouse=True)
def _pattern_for_every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of any size take the suffix pattern here (it is for 4,096 names and more otherwise)."""
    monkeypatch.setattr(domainranges, "PATTERN_MIN", 1)

CONSTITUENTS = [ConstituentRef(i, f"9{i:08d}", f"Virksomhet {i}", "other") for i in range(1, 5)]


def build(domains: list[tuple[int, str]]) -> MatchEngine:
    refs = [AssetRef(i + 1, cid, "domain", value) for i, (cid, value) in enumerate(domains)]
    return MatchEngine.build(RegistrySnapshot("pattern", CONSTITUENTS, refs))


def both_ways(engine: MatchEngine, names: list[str]) -> tuple[list[tuple[int, object]], list[tuple[int, object]]]:
    """(position, owners) pairs from the pattern and from the sorted ranges, for the same batch.

    The interval numbers may differ (a name under a registered domain but beside its registered
    children lies in a later interval than the one starting at the domain), the owners may not.
    """
    cleaned = clean_names(names)
    assert cleaned is not None
    ranges = engine.domain_ranges
    assert ranges.pattern is not None
    by_pattern = sorted((pos, ranges.hits[cut])
                        for pos, cut in zip(*ranges.find_pattern(ranges.pattern, cleaned[0], len(names)), strict=True))
    by_sort = sorted((pos, ranges.hits[cut])
                     for pos, cut in zip(*ranges.find_sorted(cleaned[0], len(names)), strict=True))
    return by_pattern, by_sort


def owners(engine: MatchEngine, names: list[str]) -> dict[str, set[tuple[int, str]]]:
    """Name → (constituent, registered domain) from match_many, for readable assertions."""
    items = [indicator("domain", name, key=name) for name in names]
    assert engine.domain_ranges.pattern is not None
    found: dict[str, set[tuple[int, str]]] = {name: set() for name in names}
    for result in engine.match_many(items):
        found[result.item_key].add((result.constituent_id, result.asset))
    return found


def test_label_boundaries_nesting_and_exact_names() -> None:
    engine = build([(1, "oslo.kommune.no"), (2, "kommune.no"), (3, "no"), (4, "mail.oslo.kommune.no"),
                    (1, "bø.kommune.no")])
    names = ["xoslo.kommune.no", "oslo.kommune.no", "a.oslo.kommune.no", "mail.oslo.kommune.no",
             "x.mail.oslo.kommune.no", "oslo.kommune.no.evil.example", "kommune.no", "no", "ano", "o",
             "Mail.OSLO.kommune.no.", "xn--b-5ga.kommune.no", "BØ.kommune.no", "w.bø.kommune.no", "",
             "a..oslo.kommune.no", ".oslo.kommune.no", "evil.example"]
    by_pattern, by_sort = both_ways(engine, names)
    assert by_pattern == by_sort
    found = owners(engine, names)
    assert found["xoslo.kommune.no"] == {(2, "kommune.no"), (3, "no")}
    assert found["oslo.kommune.no"] == {(1, "oslo.kommune.no"), (2, "kommune.no"), (3, "no")}
    assert found["x.mail.oslo.kommune.no"] == {(4, "mail.oslo.kommune.no"), (1, "oslo.kommune.no"),
                                               (2, "kommune.no"), (3, "no")}
    assert found["oslo.kommune.no.evil.example"] == set()
    assert found["ano"] == found["o"] == found[""] == found["evil.example"] == set()
    assert found["no"] == {(3, "no")}
    assert found["BØ.kommune.no"] == found["xn--b-5ga.kommune.no"] == {
        (1, "xn--b-5ga.kommune.no"), (2, "kommune.no"), (3, "no")}
    items = [indicator("domain", name, key=name) for name in names]
    assert sorted(engine.match_many(items), key=repr) == sorted(
        (r for item in items for r in engine.match(item)), key=repr)


def test_bytes_that_mean_something_to_re() -> None:
    engine = build([(1, "a+b.example"), (2, "(x).example"), (3, "[1-2].no"), (4, "*.no"), (1, "a|b.no")])
    names = ["a+b.example", "aab.example", "q.(x).example", "x.example", "1.no", "[1-2].no", "z.*.no",
             "zz.no", "a|b.no", "b.no"]
    by_pattern, by_sort = both_ways(engine, names)
    assert by_pattern == by_sort
    found = owners(engine, names)
    assert found["aab.example"] == found["x.example"] == found["1.no"] == found["zz.no"] == set()
    assert found["b.no"] == set()
    assert found["z.*.no"] == {(4, "*.no")}


def test_too_deep_for_re_falls_back_to_the_sorted_ranges() -> None:
    # 'a', 'ab', 'abb', …: written backwards, each domain branches off the next one's path, so the
    # pattern would nest 500 groups deep, more than `re` can parse.
    deep = ["a" + "b" * k for k in range(500)]
    engine = build([(1 + k % 4, name) for k, name in enumerate(deep)])
    assert engine.domain_ranges.pattern is None
    names = [f"x.{deep[k]}" for k in (0, 1, 17, 499)] + ["abbc", "b", deep[250]]
    items = [indicator("domain", name, key=name) for name in names]
    expected = sorted((r for item in items for r in engine.match(item)), key=repr)
    assert len(expected) == 5
    assert sorted(engine.match_many(items), key=repr) == expected


LABEL = st.sampled_from(["a", "b", "ab", "ba", "x-", "ø", "1", "a+", "."])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(registered=st.lists(st.tuples(st.integers(1, 4), st.lists(LABEL, min_size=1, max_size=4)), min_size=1,
                           max_size=10),
       names=st.lists(st.lists(LABEL, max_size=5), min_size=1, max_size=25))
def test_pattern_equals_sorted_ranges(registered: list[tuple[int, list[str]]], names: list[list[str]]) -> None:
    engine = build([(cid, ".".join(labels)) for cid, labels in registered])
    if engine.domain_ranges.pattern is None:  # no usable registered domain
        return
    batch = [".".join(labels) for labels in names]
    by_pattern, by_sort = both_ways(engine, batch)
    assert by_pattern == by_sort


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(registered=st.lists(st.tuples(st.integers(1, 4), untidy_name), max_size=12),
       names=st.lists(untidy_name, min_size=1, max_size=20))
def test_match_many_by_pattern_equals_per_item(registered: list[tuple[int, str]], names: list[str]) -> None:
    engine = build(registered)
    items = [indicator("domain", value, key=f"k{i}") for i, value in enumerate(names)]
    expected = sorted((r for item in items for r in engine.match(item)), key=repr)
    assert sorted(engine.match_many(items), key=repr) == expected
    assert sorted(IndicatorHistory(items).rematch(engine), key=repr) == expected
