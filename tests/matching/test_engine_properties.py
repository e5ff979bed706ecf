"""Property tests: the engine agrees with a brute-force reference on random registries and items.

The reference scans every registered asset with the `ipaddress` module and plain label-suffix
checks; the engine must produce exactly the same (item_key, constituent_id, rule, asset) set.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmon.items.schemas import Item
from certmon.matching import AssetRef, ConstituentRef, IndicatorHistory, MatchEngine, RegistrySnapshot
from tests.matching.matching_helpers import indicator

V4_BASE = int(ipaddress.IPv4Address("10.0.0.0"))
V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))
CONSTITUENTS = [ConstituentRef(i, f"9{i:08d}", f"Virksomhet {i}", "other") for i in range(1, 7)]
LABELS = ["a", "b", "ab", "xa", "mail", "bø"]
TLDS = ["no", "example"]

owner = st.integers(min_value=1, max_value=6)
# Addresses in a small slice of space so that networks nest and overlap often.
v4_addr = st.integers(0, 2**16 - 1).map(lambda r: V4_BASE + (r << 8))
v4_host = st.tuples(v4_addr, st.integers(0, 255)).map(lambda t: t[0] + t[1])
v6_addr = st.integers(0, 2**12 - 1).map(lambda r: V6_BASE + (r << 84))
v6_host = st.tuples(v6_addr, st.integers(0, 2**20)).map(lambda t: t[0] + t[1])
v4_net = st.builds(lambda a, p: str(ipaddress.IPv4Network((a, p), strict=False)), v4_host, st.integers(8, 32))
v6_net = st.builds(lambda a, p: str(ipaddress.IPv6Network((a, p), strict=False)),
                   v6_host, st.integers(24, 128))
domain = st.builds(lambda labels, tld: ".".join([*labels, tld]),
                   st.lists(st.sampled_from(LABELS), min_size=0, max_size=3), st.sampled_from(TLDS))
asset = st.one_of(
    st.tuples(owner, st.just("network"), v4_net),
    st.tuples(owner, st.just("network"), v6_net),
    st.tuples(owner, st.just("domain"), domain),
    st.tuples(owner, st.just("email_domain"), domain),
    st.tuples(owner, st.just("asn"), st.integers(1, 5).map(str)),
    st.tuples(owner, st.just("supplier"), owner.map(str)),
)
item_spec = st.one_of(
    st.tuples(st.just("ipv4"), v4_host.map(lambda v: str(ipaddress.IPv4Address(v)))),
    st.tuples(st.just("ipv6"), v6_host.map(lambda v: str(ipaddress.IPv6Address(v)))),
    st.tuples(st.just("cidr"), st.one_of(v4_net, v6_net)),
    st.tuples(st.just("domain"), domain),
    st.tuples(st.just("url"), domain.map(lambda d: f"https://{d}/path")),
    st.tuples(st.just("url"), v4_host.map(lambda v: f"http://{ipaddress.IPv4Address(v)}:8080/")),
    st.tuples(st.just("email"), domain.map(lambda d: f"user@{d}")),
    st.tuples(st.just("asn"), st.integers(1, 6).map(lambda n: f"AS{n}")),
)


def build(assets: list[tuple[int, str, str]]) -> MatchEngine:
    """An engine over the generated assets."""
    refs = [AssetRef(i + 1, cid, kind, value) for i, (cid, kind, value) in enumerate(assets)]
    return MatchEngine.build(RegistrySnapshot("prop", CONSTITUENTS, refs))


def idna(name: str) -> str:
    """Reference A-label form (stdlib codec)."""
    return name.encode("idna").decode("ascii").lower()


def under(host: str, registered: str) -> bool:
    """Label-boundary suffix check."""
    return host == registered or host.endswith("." + registered)


def best_domains(host: str, assets: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Per constituent, the longest registered domain the host is equal to or under."""
    best: dict[int, str] = {}
    for cid, value in assets:
        reg = idna(value)
        if under(host, reg) and len(reg) > len(best.get(cid, "")):
            best[cid] = reg
    return best


def best_networks(addr: ipaddress._BaseAddress, nets: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Per constituent, the most specific registered network containing the address."""
    best: dict[int, ipaddress._BaseNetwork] = {}
    for cid, value in nets:
        net = ipaddress.ip_network(value)
        if net.version != addr.version or addr not in net:
            continue
        if cid not in best or net.prefixlen > best[cid].prefixlen:
            best[cid] = net
    return {cid: str(net) for cid, net in best.items()}


def overlaps(cidr: str, nets: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Per constituent: the narrowest network containing the CIDR, else the widest inside it."""
    ind = ipaddress.ip_network(cidr)
    best: dict[int, tuple[tuple[int, int, int], str]] = {}
    for cid, value in nets:
        net = ipaddress.ip_network(value)
        if net.version != ind.version or not net.overlaps(ind):
            continue
        rank = (1, net.prefixlen, 0) if net.prefixlen <= ind.prefixlen else (0, -net.prefixlen,
                                                                          -int(net.network_address))
        if cid not in best or rank > best[cid][0]:
            best[cid] = (rank, str(net))
    return {cid: value for cid, (_, value) in best.items()}


def reference(item: Item, assets: list[tuple[int, str, str]]) -> set[tuple[str, int, str, str]]:
    """Brute-force matches of one item: (item_key, constituent_id, rule, asset)."""
    by_type: dict[str, list[tuple[int, str]]] = {}
    for cid, kind, value in assets:
        by_type.setdefault(kind, []).append((cid, value))
    nets, out = by_type.get("network", []), set()
    kind, value = item.type, item.value or ""
    found: dict[str, dict[int, str]] = {}
    if kind in ("ipv4", "ipv6"):
        found["ip-network"] = best_networks(ipaddress.ip_address(value), nets)
    elif kind == "cidr":
        found["cidr-overlap"] = overlaps(value, nets)
    elif kind == "url":
        host = value.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        try:
            found["ip-network"] = best_networks(ipaddress.ip_address(host), nets)
        except ValueError:
            found["domain"] = best_domains(idna(host), by_type.get("domain", []))
    elif kind in ("domain", "email"):
        host = idna(value.rpartition("@")[2])
        found["domain"] = best_domains(host, by_type.get("domain", []))
        if kind == "email":
            found["email-domain"] = best_domains(host, by_type.get("email_domain", []))
    elif kind == "asn":
        found["asn"] = {cid: v for cid, v in by_type.get("asn", []) if v == value.removeprefix("AS")}
    for rule, owners in found.items():
        out |= {(item.key, cid, rule, asset) for cid, asset in owners.items()}
    direct = {cid for (_, cid, _, _) in out}
    for cid, supplier in by_type.get("supplier", []):
        if int(supplier) in direct and int(supplier) != cid:
            out.add((item.key, cid, "supplier", "*"))
    return out


def observed(results: Iterable) -> set[tuple[str, int, str, str]]:
    """The engine's matches in the reference's shape (supplier assets compared by presence only)."""
    return {(r.item_key, r.constituent_id, r.rule, "*" if r.rule == "supplier" else r.asset) for r in results}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assets=st.lists(asset, max_size=25), specs=st.lists(item_spec, min_size=1, max_size=15))
def test_engine_equals_brute_force(assets: list[tuple[int, str, str]], specs: list[tuple[str, str]]) -> None:
    engine = build(assets)
    items = [indicator(kind, value, key=f"k{i}") for i, (kind, value) in enumerate(specs)]
    expected: set[tuple[str, int, str, str]] = set()
    for item in items:
        got = engine.match(item)
        assert len({(r.constituent_id, r.rule) for r in got}) == len(got)  # unique per constituent+rule
        assert observed(got) == reference(item, assets), item
        expected |= observed(got)
    assert observed(engine.match_many(items)) == expected


@settings(max_examples=200, deadline=None)
@given(assets=st.lists(st.tuples(owner, st.just("network"), v4_net), min_size=1, max_size=40),
       hosts=st.lists(v4_host, min_size=1, max_size=50))
def test_bulk_address_path_equals_per_item(assets: list[tuple[int, str, str]], hosts: list[int]) -> None:
    engine = build(assets)
    items = [indicator("ipv4", str(ipaddress.IPv4Address(h)), key=f"k{i}") for i, h in enumerate(hosts)]
    per_item = sorted((r for item in items for r in engine.match(item)), key=repr)
    assert sorted(engine.match_many(items), key=repr) == per_item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assets=st.lists(asset, max_size=25), specs=st.lists(item_spec, min_size=1, max_size=25))
def test_history_rematch_equals_match_many(assets: list[tuple[int, str, str]],
                                           specs: list[tuple[str, str]]) -> None:
    engine = build(assets)
    items = [indicator(kind, value, key=f"k{i}") for i, (kind, value) in enumerate(specs)]
    history = IndicatorHistory(items)
    assert sorted(history.rematch(engine), key=repr) == sorted(engine.match_many(items), key=repr)
