"""STIX through the real collection path (run_source): streamed into the store, idempotent, revocable,
and a payload that fails to parse while streaming leaves every stored row as it was."""

from __future__ import annotations

import gc
import json

from sqlalchemy import func, select

from certmon.items.models import StoredItem
from certmon.sources.models import Payload, SourceRun
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds.collect import run_source
from feeds.collect_types import Document


def _indicator(n: int, modified: str = "2024-05-02T10:00:00.000Z", **fields: object) -> dict:
    obj = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
           "created": "2024-05-01T10:00:00.000Z", "modified": modified, "pattern_type": "stix",
           "pattern": f"[ipv4-addr:value = '198.51.100.{n}' OR domain-name:value = 'c2-{n}.example']",
           "valid_from": "2024-05-01T10:00:00Z", "indicator_types": ["malicious-activity"]}
    obj.update(fields)
    return obj


def _bundle(*objects: dict) -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--1", "objects": list(objects)}).encode()


def _run(env, source_id: int, data: bytes):
    return run_source(env.factory, source_id, documents=[Document(data, "bundle.json")])


def _rows(env) -> dict[str, StoredItem]:
    with env.factory() as session:
        return {row.key: row for row in session.scalars(select(StoredItem))}


def test_stix_run_is_idempotent_updates_in_place_and_revokes(any_env):
    with any_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(name="cti", format="stix", url="https://cti.example/b")).id
    first = _run(any_env, source_id, _bundle(*(_indicator(n) for n in range(1, 6))))
    assert (first.outcome, first.items_total, first.items_new, first.items_updated) == ("ok", 10, 10, 0)
    assert gc.isenabled()

    again = _run(any_env, source_id, _bundle(*(_indicator(n) for n in range(1, 6))))
    assert (again.outcome, again.items_total, again.items_new, again.items_updated) == ("ok", 10, 0, 0)

    newer = _indicator(2, modified="2024-06-01T00:00:00.000Z", confidence=90)
    revoked = _indicator(3, modified="2024-06-01T00:00:00.000Z", revoked=True)
    changed = _run(any_env, source_id, _bundle(*(_indicator(n) for n in range(1, 6)), newer, revoked))
    assert (changed.items_total, changed.items_new, changed.items_updated) == (10, 0, 4)
    rows = _rows(any_env)
    assert len(rows) == 10
    two = [r for k, r in rows.items() if ":000000000002:" in k]
    three = [r for k, r in rows.items() if ":000000000003:" in k]
    assert all(r.confidence == 90 and not r.revoked for r in two)
    assert all(r.revoked for r in three)


def test_a_payload_that_fails_to_parse_while_streaming_stores_nothing(any_env):
    with any_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(name="cti", format="stix", url="https://cti.example/b")).id
    assert _run(any_env, source_id, _bundle(_indicator(1))).outcome == "ok"
    broken = _run(any_env, source_id, b'{"type": "bundle", "objects": [' + b"[" * 200_000)
    assert broken.outcome == "parse-error" and "bundle.json" in (broken.error or "")
    assert gc.isenabled()
    with any_env.factory() as session:
        assert session.scalar(select(func.count(StoredItem.id))) == 2
        assert session.scalar(select(func.count(Payload.id))) == 1
        outcomes = session.scalars(select(SourceRun.outcome).order_by(SourceRun.id)).all()
        assert outcomes == ["ok", "parse-error"]
