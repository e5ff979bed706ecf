"""Version ranges against a brute-force reference: random versions and ranges, every written form.

The reference treats versions as integer tuples and a range as the set of universe versions that
satisfy it, computed by plain comparison; the product's parser and matcher must agree on
containment, overlap, inclusion and on whether an organisation is matched.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from certmon.items.schemas import Item, Product
from certmon.matching.engine import MatchEngine
from certmon.matching.snapshot import AssetRef, ConstituentRef, RegistrySnapshot
from certmon.matching.vers import V, parse_spec

Version = tuple[int, int, int]
# Bounds use even parts ≥ 2 and the universe every part 0–7, so that the universe has a version below,
# above and between any two bounds, as the real version line does (1.1.1.5, 2.0rc1 …).
UNIVERSE: list[Version] = [(a, b, c) for a in range(8) for b in range(8) for c in range(8)]
_part = st.sampled_from([2, 4, 6])
bounds = st.tuples(_part, _part, _part)
versions = st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 7))
ops = st.sampled_from(["<", "<=", ">", ">=", "="])


def text(v: Version, style: int = 0) -> str:
    """One version as vendors write it: 1.2.3, V1.2.3, 1.2 when the patch is 0."""
    s = ".".join(map(str, v))
    if style == 1:
        s = "V" + s
    if style == 2 and v[2] == 0:
        s = f"{v[0]}.{v[1]}"
    return s


def single(spec: str) -> bool:
    """Whether a written range names exactly one version."""
    body = spec.split("/", 1)[-1]
    return "|" not in body and body.startswith("=")


def holds(op: str, v: Version, bound: Version) -> bool:
    return {"<": v < bound, "<=": v <= bound, ">": v > bound, ">=": v >= bound, "=": v == bound}[op]


@st.composite
def vers_ranges(draw: st.DrawFn) -> tuple[str, set[Version]]:
    """A vers / VLS range: alternating bounds in order, or points, as the vers spec defines them."""
    points = sorted(set(draw(st.lists(bounds, min_size=1, max_size=4))))
    style = draw(st.integers(0, 2))
    kind = draw(st.sampled_from(["interval", "below", "above", "points"]))
    if kind == "points":
        parts, members = [f"={text(p, style)}" for p in points], set(points)
    elif kind == "below":
        op = draw(st.sampled_from(["<", "<="]))
        parts, members = [f"{op}{text(points[-1], style)}"], {u for u in UNIVERSE if holds(op, u, points[-1])}
    elif kind == "above":
        op = draw(st.sampled_from([">", ">="]))
        parts, members = [f"{op}{text(points[0], style)}"], {u for u in UNIVERSE if holds(op, u, points[0])}
    else:
        lo, hi = points[0], points[-1]
        lo_op, hi_op = draw(st.sampled_from([">", ">="])), draw(st.sampled_from(["<", "<="]))
        parts = [f"{lo_op}{text(lo, style)}", f"{hi_op}{text(hi, style)}"]
        members = {u for u in UNIVERSE if holds(lo_op, u, lo) and holds(hi_op, u, hi)}
    joined = "|".join(parts)
    form = draw(st.sampled_from(["vers:generic/", "vers:all/", ""]))
    return form + joined, members


@st.composite
def inventory_ranges(draw: st.DrawFn) -> tuple[str, set[Version]]:
    """An inventory range: comma-ANDed clauses, a wildcard, or one version."""
    kind = draw(st.sampled_from(["and", "wildcard", "one"]))
    if kind == "one":
        v = draw(bounds)
        return text(v, draw(st.integers(0, 2))), {v}
    if kind == "wildcard":
        a, b = draw(_part), draw(_part)
        return f"{a}.{b}.{draw(st.sampled_from(['*', 'x']))}", {u for u in UNIVERSE if u[:2] == (a, b)}
    clauses = draw(st.lists(st.tuples(ops.filter(lambda o: o != "="), bounds), min_size=1, max_size=3))
    members = {u for u in UNIVERSE if all(holds(op, u, b) for op, b in clauses)}
    return ",".join(f"{op}{text(b)}" for op, b in clauses), members


@settings(max_examples=300, deadline=None)
@given(vers_ranges(), versions)
def test_containment_matches_brute_force(rng: tuple[str, set[Version]], v: Version) -> None:
    spec_text, members = rng
    assert parse_spec(spec_text).contains(V(text(v))) == (v in members)


@settings(max_examples=300, deadline=None)
@given(vers_ranges(), inventory_ranges())
def test_overlap_and_inclusion_match_brute_force(a: tuple[str, set[Version]], b: tuple[str, set[Version]]) -> None:
    if not b[1]:
        return  # an empty inventory range is refused at import
    sa, sb = parse_spec(a[0]), parse_spec(b[0])
    assert sa.overlaps(sb) == bool(a[1] & b[1])
    assert sb.within(sa) == (b[1] <= a[1])


@settings(max_examples=200, deadline=None)
@given(vers_ranges(), vers_ranges(), versions, st.sampled_from(["fixed", "not_affected"]))
def test_matcher_agrees_with_reference(affected: tuple[str, set[Version]], cleared: tuple[str, set[Version]],
                                       v: Version, word: str) -> None:
    """An organisation on one version: matched iff the most specific statement covering it says affected."""
    refs = [ConstituentRef(id=1, org_number="900000001", name="Org", kind="kommune")]
    assets = [AssetRef(id=1, constituent_id=1, type="product", value=f"Acme:Widget:{text(v)}")]
    engine = MatchEngine.build(RegistrySnapshot(version="p", constituents=refs, assets=assets))
    item = Item(kind="advisory", key="a", tlp="clear", source_format="csaf", cves=["CVE-2026-1"], products=[
        Product(vendor="Acme", product="Widget", range=affected[0], status="affected", cves=("CVE-2026-1",)),
        Product(vendor="Acme", product="Widget", range=cleared[0], status=word, cves=("CVE-2026-1",)),
    ])
    got = bool([r for r in engine.match(item) if r.rule == "product"])
    in_affected, in_cleared = v in affected[1], v in cleared[1]
    # the most specific statement wins (one version over a range); a tie goes to affected
    expected = in_affected and not (in_cleared and single(cleared[0]) and not single(affected[0]))
    assert got == expected
