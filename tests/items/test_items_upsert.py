"""upsert_items on SQLite and PostgreSQL: new, unchanged, changed and revoked rows, chunking, limits."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from certmon.db import json_dumps, json_loads
from certmon.items import service
from certmon.items.models import StoredItem
from certmon.items.schemas import Item, item_to_dict, item_to_json
from certmon.items.service import upsert_items
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _indicator(n: int, **changes: object) -> Item:
    fields: dict[str, object] = {
        "kind": "indicator", "key": f"stix:indicator--{n}:ipv4:10.0.{n // 256}.{n % 256}", "tlp": "TLP:AMBER",
        "source_format": "stix", "type": "ipv4", "value": f"10.0.{n // 256}.{n % 256}", "labels": ["c2"],
        "confidence": n % 100, "valid_from": "2026-02-01T10:00:00Z",
    }
    fields.update(changes)
    return Item(**fields)  # type: ignore[arg-type]


@pytest.fixture
def source_id(any_env) -> int:
    with any_env.factory.begin() as session:
        return create_source(session, SourceCreate(name="stix-test", format="stix", url="https://x.example/")).id


def _stored(any_env) -> dict[str, StoredItem]:
    with any_env.factory() as session:
        return {row.key: row for row in session.scalars(select(StoredItem))}


def test_new_rows_carry_every_column_and_ids_follow_input_order(any_env, source_id):
    vuln = Item(kind="vulnerability", key="kev:CVE-2026-0001", tlp="clear", source_format="kev",
                cve="CVE-2026-0001", vendor="Acme", product="Gate", published="2026-02-03T04:05:06Z",
                cvss=9.8, title="Æøå gateway")
    items = [_indicator(1), vuln, _indicator(2, revoked=True)]
    with any_env.factory.begin() as session:
        result = upsert_items(session, source_id=source_id, items=items, payload_id=None, now=T0)
    assert len(result.new_ids) == 3 and not result.updated_ids and result.unchanged == 0
    stored = _stored(any_env)
    assert [stored[i.key].id for i in items] == result.new_ids
    row = stored["kev:CVE-2026-0001"]
    assert (row.kind, row.tlp, row.tlp_rank, row.cve, row.cvss, row.known_exploited) == (
        "vulnerability", "clear", 0, "CVE-2026-0001", 9.8, False)
    assert row.published_at == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert row.data == item_to_dict(vuln)
    assert row.content_hash == hashlib.md5(item_to_json(vuln), usedforsecurity=False).hexdigest()
    assert row.first_seen == row.last_seen == row.updated_at == T0
    ind = stored[items[0].key]
    assert (ind.tlp, ind.tlp_rank, ind.indicator_type, ind.value, ind.confidence, ind.revoked) == (
        "amber", 2, "ipv4", "10.0.0.1", 1, False)
    assert ind.published_at == datetime(2026, 2, 1, 10, tzinfo=UTC)  # falls back to valid_from
    assert stored[items[2].key].revoked is True


def test_unchanged_rows_are_touched_and_changed_rows_rewritten(any_env, source_id):
    items = [_indicator(n) for n in range(5)]
    with any_env.factory.begin() as session:
        first = upsert_items(session, source_id=source_id, items=items, now=T0)
    later = T0 + timedelta(hours=1)
    again = [*items[:3], _indicator(3, confidence=99), _indicator(4, revoked=True)]
    with any_env.factory.begin() as session:
        second = upsert_items(session, source_id=source_id, items=again, now=later)
    ids = dict(zip((i.key for i in items), first.new_ids, strict=True))
    assert not second.new_ids and second.unchanged == 3
    assert second.updated_ids == [ids[items[3].key], ids[items[4].key]]
    assert second.revoked_ids == [ids[items[4].key]]
    assert second.changed_ids == second.updated_ids
    stored = _stored(any_env)
    touched, changed, revoked = stored[items[0].key], stored[items[3].key], stored[items[4].key]
    assert (touched.first_seen, touched.last_seen, touched.updated_at) == (T0, later, T0)
    assert (changed.first_seen, changed.last_seen, changed.updated_at) == (T0, later, later)
    assert changed.confidence == 99 and changed.data["confidence"] == 99
    assert revoked.revoked is True and revoked.data["revoked"] is True


def test_last_version_of_a_key_wins_and_long_values_are_cut(any_env, source_id):
    long_key = "x" * 700
    items = [_indicator(1, confidence=10), _indicator(1, confidence=20),
             _indicator(2, key=long_key, type="url", value="http://a.example/" + "p" * 3000)]
    with any_env.factory.begin() as session:
        result = upsert_items(session, source_id=source_id, items=items, now=T0)
    assert len(result.new_ids) == 2
    stored = _stored(any_env)
    assert stored[items[0].key].confidence == 20
    cut = stored[long_key[:500]]
    assert len(cut.value or "") == 2000 and cut.data["value"] == items[2].value


def test_many_rows_across_lookup_and_insert_batches(any_env, source_id, monkeypatch):
    monkeypatch.setattr(service, "LOOKUP_CHUNK", {"postgresql": 70, "sqlite": 70})
    monkeypatch.setattr(service, "PG_INSERT_BATCH", 33)
    items = [_indicator(n) for n in range(301)]
    with any_env.factory.begin() as session:
        first = upsert_items(session, source_id=source_id, items=items, now=T0)
    stored = _stored(any_env)
    assert len(stored) == 301 and len(set(first.new_ids)) == 301
    assert [stored[i.key].id for i in items] == first.new_ids
    with any_env.factory.begin() as session:
        second = upsert_items(session, source_id=source_id, items=[*items, _indicator(301)], now=T0)
    assert second.unchanged == 301 and len(second.new_ids) == 1


def test_json_columns_round_trip_what_orjson_refuses():
    assert json_loads(json_dumps({1: "a", "b": [1.5, None]})) == {"1": "a", "b": [1.5, None]}
    assert json_loads(json_dumps({"big": 2**70})) == {"big": 2**70}
    assert json_loads('{"x": NaN}')["x"] != json_loads('{"x": NaN}')["x"]  # stdlib fallback reads NaN
    assert json_loads(b'{"s": "\\u00e6"}') == {"s": "æ"}


def test_times_are_stored_in_the_same_form_as_orm_writes(any_env, source_id):
    """Rows written through the driver must compare and sort like ORM-written ones (SQLite stores text)."""
    with any_env.factory.begin() as session:
        upsert_items(session, source_id=source_id, items=[_indicator(1)], now=T0)
    with any_env.factory.begin() as session:
        session.add(StoredItem(source_id=source_id, kind="indicator", key="orm", tlp="clear", tlp_rank=0,
                               data={}, content_hash="x", published_at=T0, first_seen=T0, last_seen=T0,
                               updated_at=T0))
    with any_env.factory() as session:
        raw = session.connection().exec_driver_sql(
            "SELECT key, published_at, first_seen, last_seen, updated_at FROM items").all()
    by_key = {row[0]: row[1:] for row in raw}
    orm, driver = by_key["orm"], by_key[_indicator(1).key]
    assert type(driver[0]) is type(orm[0]) and driver[1:] == orm[1:]
    expected = "2026-02-01 10:00:00.000000" if isinstance(orm[0], str) else datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert driver[0] == expected


def test_items_are_consumed_one_chunk_at_a_time(any_env, source_id, monkeypatch):
    """A generator of items is never held whole: at most one lookup chunk is buffered."""
    monkeypatch.setattr(service, "LOOKUP_CHUNK", {"postgresql": 10, "sqlite": 10})
    produced = 0
    buffered: list[int] = []  # items taken from the generator but not yet stored, at each lookup
    original = service._existing

    def items():
        nonlocal produced
        for n in range(95):
            produced += 1
            yield _indicator(n)

    def watching(conn, sid, keys):
        stored = conn.exec_driver_sql("SELECT count(*) FROM items").scalar_one()
        buffered.append(produced - stored)
        return original(conn, sid, keys)

    monkeypatch.setattr(service, "_existing", watching)
    with any_env.factory.begin() as session:
        result = upsert_items(session, source_id=source_id, items=items(), now=T0)
    assert len(result.new_ids) == 95 and len(buffered) == 10 and max(buffered) == 10


def test_a_key_repeated_in_later_chunks_is_reported_once(any_env, source_id, monkeypatch):
    monkeypatch.setattr(service, "LOOKUP_CHUNK", {"postgresql": 3, "sqlite": 3})
    with any_env.factory.begin() as session:
        first = upsert_items(session, source_id=source_id, items=[_indicator(n) for n in range(4)], now=T0)
    ids = first.new_ids
    later = T0 + timedelta(hours=1)
    again = [
        _indicator(0), _indicator(1), _indicator(9),  # chunk 1: unchanged, unchanged, new
        _indicator(0, confidence=77), _indicator(9, confidence=5), _indicator(2, revoked=True),  # chunk 2
        _indicator(1), _indicator(2, confidence=3), _indicator(9, confidence=5),  # chunk 3
    ]
    with any_env.factory.begin() as session:
        second = upsert_items(session, source_id=source_id, items=again, now=later)
    assert len(second.new_ids) == 1 and second.updated_ids == [ids[0], ids[2]]
    assert second.unchanged == 1 and second.revoked_ids == []  # key 2's last version is not revoked
    stored = _stored(any_env)
    assert stored[_indicator(0).key].confidence == 77 and stored[_indicator(9).key].confidence == 5
    assert stored[_indicator(2).key].revoked is False and stored[_indicator(2).key].confidence == 3
    assert stored[_indicator(3).key].last_seen == T0  # not in the second payload


def test_sqlite_ids_are_read_back_when_rowids_are_not_sequential(sqlite_env):
    """At the largest rowid SQLite picks new rowids at random; the ids are then looked up by key."""
    with sqlite_env.factory.begin() as session:
        sid = create_source(session, SourceCreate(name="s", format="stix", url="https://x.example/")).id
        session.add(StoredItem(id=2**63 - 1, source_id=sid, kind="indicator", key="top", tlp="clear", tlp_rank=0,
                               data={}, content_hash="x", first_seen=T0, last_seen=T0, updated_at=T0))
    items = [_indicator(n) for n in range(20)]
    with sqlite_env.factory.begin() as session:
        result = upsert_items(session, source_id=sid, items=items, now=T0)
    stored = _stored(sqlite_env)
    assert [stored[i.key].id for i in items] == result.new_ids and len(set(result.new_ids)) == 20
