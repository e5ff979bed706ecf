"""`items_to_json_lines` writes exactly the records of `item_to_json`, whatever the batch holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from certmon.items.schemas import KINDS, Item, Product, item_to_json, items_to_json_lines

_MAYBE_TEXT = st.one_of(st.none(), st.sampled_from(["", "x", 'a "quoted" }\n{ value', "æøå"]))
_LISTS = st.one_of(st.just([]), st.lists(st.sampled_from(["a", "CVE-2024-1", "}\n"]), min_size=1, max_size=2))


@st.composite
def _items(draw: st.DrawFn, kind: str | None = None) -> Item:
    return Item(
        kind=kind or draw(st.sampled_from(KINDS)), key=draw(st.text(max_size=5)), tlp="clear", source_format="t",
        title=draw(_MAYBE_TEXT), url=draw(_MAYBE_TEXT), published=draw(_MAYBE_TEXT), cves=draw(_LISTS),
        products=draw(st.one_of(st.just([]), st.just([Product("v", "p")]))),
        cve=draw(_MAYBE_TEXT), known_exploited=draw(st.sampled_from([None, False, True])),
        vendor=draw(_MAYBE_TEXT), product=draw(_MAYBE_TEXT), type=draw(_MAYBE_TEXT), value=draw(_MAYBE_TEXT),
        labels=draw(_LISTS), confidence=draw(st.sampled_from([None, 0, 50])), valid_until=draw(_MAYBE_TEXT),
        ip=draw(_MAYBE_TEXT), port=draw(st.sampled_from([None, 0, 443])), report_type=draw(_MAYBE_TEXT),
        observed_at=draw(_MAYBE_TEXT), extra=draw(st.sampled_from([{}, {"valid_until": None, "n": "}\n"}])),
    )


def _one_by_one(batch: list[Item]) -> bytes:
    return b"".join(item_to_json(item) + b"\n" for item in batch)


@settings(max_examples=500, deadline=None)
@given(batch=st.lists(_items(), max_size=6))
def test_mixed_batches_write_the_records_of_item_to_json(batch: list[Item]) -> None:
    assert items_to_json_lines(batch) == _one_by_one(batch)


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_uniform_batches_write_the_records_of_item_to_json(kind: str, data: st.DataObject) -> None:
    """Items alike but for their values: the path that completes the records a field at a time."""
    first = data.draw(_items(kind))
    batch = [first] + [Item(**{**{f: getattr(first, f) for f in first.__struct_fields__}, "key": str(n)})
                       for n in range(3)]
    assert items_to_json_lines(batch) == _one_by_one(batch)
    assert items_to_json_lines(iter(batch)) == _one_by_one(batch)
