"""The bulk paths (numpy address lookup, reversed-name domain ranges, history join) against `match`.

Names here are deliberately untidy (case, trailing dots, blanks, IDN labels, odd registered
domains) so the batch normalisation and its fallbacks are exercised; the per-item path is the
reference, and it is itself checked against brute force in test_engine_properties.py.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from certmon.items.schemas import Item
from certmon.matching import AssetRef, ConstituentRef, IndicatorHistory, MatchEngine, MatchResult, RegistrySnapshot
from tests.matching.matching_helpers import advisory, indicator

CONSTITUENTS = [ConstituentRef(i, f"9{i:08d}", f"Virksomhet {i}", "other") for i in range(1, 5)]
LABEL = st.sampled_from(["a", "B", "ab", "a-", "-", "bø", "XN--B-5GA", "1", "mail", ""])
TLD = st.sampled_from(["no", "NO", "example", "ab"])
name = st.builds(lambda labels, tld, tail: ".".join([*labels, tld]) + tail,
                 st.lists(LABEL, max_size=3), TLD,
                 st.sampled_from(["", "", "", "", "", "", "", "", ".", " ", "..", "\t"]))


def build(assets: list[tuple[int, str, str]], suppliers: list[tuple[int, int]] = ()) -> MatchEngine:  # type: ignore[assignment]
    """An engine over (constituent, type, value) assets plus (dependent, supplier) pairs."""
    rows = [*assets, *((cid, "supplier", str(sup)) for cid, sup in suppliers)]
    refs = [AssetRef(i + 1, cid, kind, value) for i, (cid, kind, value) in enumerate(rows)]
    return MatchEngine.build(RegistrySnapshot("bulk", CONSTITUENTS, refs))


def per_item(engine: MatchEngine, items: list[Item]) -> list[MatchResult]:
    """The reference: match item by item."""
    return sorted((r for item in items for r in engine.match(item)), key=repr)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registered=st.lists(st.tuples(st.integers(1, 4), name), max_size=12),
       names=st.lists(name, min_size=1, max_size=20),
       supplier=st.booleans())
@example(registered=[(1, "b.no")], names=["Mail.B.NO", "b.no"], supplier=False)
@example(registered=[(1, "b.no")], names=["b.no.", "x.b.no"], supplier=False)
def test_bulk_domains_equal_per_item(registered: list[tuple[int, str]], names: list[str], supplier: bool) -> None:
    engine = build([(cid, "domain", value) for cid, value in registered], [(4, 1)] if supplier else [])
    items = [indicator("domain", value, key=f"k{i}") for i, value in enumerate(names)]
    expected = per_item(engine, items)
    assert sorted(engine.match_many(items), key=repr) == expected
    assert sorted(IndicatorHistory(items).rematch(engine), key=repr) == expected


def test_networks_at_the_top_of_the_address_space() -> None:
    engine = build([(1, "network", "255.255.255.0/24"), (2, "network", "255.255.255.255/32"),
                    (1, "network", "ffff::/16"), (3, "network", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
                    (2, "network", "0.0.0.0/8"), (3, "network", "::/127")])
    values = [("ipv4", "255.255.255.255"), ("ipv4", "255.255.255.254"), ("ipv4", "0.0.0.0"),
              ("ipv6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ("ipv6", "ffff::1"), ("ipv6", "::"),
              ("ipv6", "::1"), ("ipv6", "::2"), ("ipv4", "1.0.0.0")]
    items = [indicator(kind, value, key=f"k{i}") for i, (kind, value) in enumerate(values)]
    expected = per_item(engine, items)
    assert len(expected) == 9
    assert sorted(engine.match_many(items), key=repr) == expected
    assert sorted(IndicatorHistory(items).rematch(engine), key=repr) == expected


def test_mixed_batch_with_odd_items() -> None:
    engine = build([(1, "network", "203.0.113.0/24"), (2, "domain", "oslo.kommune.no"),
                    (3, "network", "2001:db8::/32")], [(4, 2)])
    items = [
        indicator("ipv4", "203.0.113.9", key="a"),
        indicator("ipv4", " 203.0.113.10 ", key="b"),  # not canonical: the batch goes item by item
        indicator("ipv4", "203.0.113.11", key="c", revoked=True),
        indicator("ipv6", "[2001:db8::1]", key="d"),
        indicator("ipv6", "2001:DB8::2", key="e"),
        indicator("domain", "Mail.Oslo.Kommune.NO.", key="f"),
        indicator("domain", "oslo.kommune.no\nx", key="g"),
        indicator("domain", "", key="h"),
        advisory("Oslo kommune varsler", key="i"),
        Item(kind="exposure", key="j", tlp="clear", source_format="test", type="ipv4", value="203.0.113.12",
             ip="203.0.113.12"),
        indicator("url", "https://www.oslo.kommune.no/x", key="k"),
    ]
    expected = per_item(engine, items)
    assert {r.item_key for r in expected} >= {"a", "b", "d", "e", "f", "j", "k"}
    assert sorted(engine.match_many(items), key=repr) == expected
    assert sorted(IndicatorHistory(items).rematch(engine), key=repr) == expected


def test_chunks_read_their_items_by_offset(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from certmon.matching import bulk

    monkeypatch.setattr(bulk, "CHUNK", 3)
    engine = build([(1, "network", "203.0.113.0/24"), (2, "domain", "oslo.kommune.no"),
                    (3, "network", "2001:db8::/32"), (4, "network", "203.0.113.128/25")])
    values = [("ipv4", f"203.0.113.{n}") for n in range(120, 135)] + [("ipv4", "203.0.113.x"), ("ipv4", "10.0.0.1")]
    values += [("ipv6", f"2001:db8::{n:x}") for n in range(7)] + [("ipv6", "2001:db9::1")]
    values += [("domain", f"h{n}.oslo.kommune.no") for n in range(7)] + [("domain", "oslo.kommune.no.")]
    items = [indicator(kind, value, key=f"k{i}") for i, (kind, value) in enumerate(values)]
    items.append(Item(kind="indicator", key="none", tlp="clear", source_format="test", type="domain"))
    for batch in (items, items[::-1], [item for item in items if item.type == "ipv4"]):
        expected = per_item(engine, batch)
        assert sorted(engine.match_many(batch), key=repr) == expected
    assert len(per_item(engine, items)) == 15 + 7 + 7 + 8  # /24, /25 from .128 on, IPv6, domains


def test_a_newline_inside_a_clean_batch_of_names() -> None:
    engine = build([(1, "domain", "oslo.kommune.no"), (2, "domain", "bergen.kommune.no")])
    names = ["a.oslo.kommune.no", "x\noslo.kommune.no", "b.bergen.kommune.no", "bergen.kommune.no"]
    items = [indicator("domain", value, key=f"k{i}") for i, value in enumerate(names)]
    expected = per_item(engine, items)
    assert [r.item_key for r in expected] == ["k0", "k2", "k3"]  # "x\noslo" is one label
    assert sorted(engine.match_many(items), key=repr) == expected
    assert sorted(IndicatorHistory(items).rematch(engine), key=repr) == expected


def test_rows_made_in_bulk_read_as_rows_made_one_by_one() -> None:
    # Two engines over one registry: the batch fills one engine's rows in bulk (every network's
    # row at once, domain rows from the sentence pieces), the other is only ever matched per item.
    assets = [(1, "network", "203.0.113.0/24"), (2, "network", "203.0.113.128/25"), (3, "network", "2001:db8::/32"),
              (1, "domain", "oslo.kommune.no"), (2, "domain", "kommune.no"), (3, "domain", "bø.kommune.no")]
    values = [("ipv4", "203.0.113.7"), ("ipv4", "203.0.113.200"), ("ipv6", "2001:db8::7"),
              ("domain", "oslo.kommune.no"), ("domain", "www.oslo.kommune.no"), ("domain", "xn--b-5ga.kommune.no")]
    items = [indicator(kind, value, key=f"k{i}") for i, (kind, value) in enumerate(values)]
    bulk_first = build(assets).match_many(items)
    assert sorted(bulk_first, key=repr) == per_item(build(assets), items)
    assert len(bulk_first) == 10
