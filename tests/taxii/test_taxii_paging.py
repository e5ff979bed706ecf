"""Paging through 100,000 objects of one collection with taxii2-client (`limit` + `next`), then continuing
with `added_after` from the last page's X-TAXII-Date-Added-Last, on PostgreSQL under a real uvicorn.

The rows are written with one Core insert in groups that share `updated_at` (a feed run stores all its
items at one instant), so pages end inside such groups: the keyset over (date_added, id) must still
give every object exactly once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import insert
from taxii2client.v21 import Collection, as_pages

from certmon.api.app import create_app
from certmon.auth.service import create_user, issue_token
from certmon.exports.service import indicator_id
from certmon.items.models import StoredItem
from certmon.sources.models import Source
from certmon.tlp import TLP
from tests.conftest import CertmonEnv, serving
from tests.taxii.test_taxii_server import _tlp_id

pytestmark = pytest.mark.slow
TOTAL, GROUP, PER_PAGE = 100_000, 777, 1000
START = datetime(2026, 11, 1, tzinfo=UTC)


def _rows(source_id: int, start: int, count: int, base: datetime) -> list[dict]:
    rows = []
    for i in range(start, start + count):
        at = base + timedelta(seconds=(i - start) // GROUP)
        a, b, c = (i >> 16) & 255, (i >> 8) & 255, i & 255
        value = f"10.{a}.{b}.{c}"
        rows.append({"source_id": source_id, "kind": "indicator", "key": f"ipv4:{value}", "tlp": "green",
                     "tlp_rank": int(TLP.GREEN), "source_format": "stix", "indicator_type": "ipv4", "value": value,
                     "confidence": 70, "data": {"kind": "indicator", "type": "ipv4", "value": value},
                     "content_hash": f"{i:032x}", "first_seen": at, "last_seen": at, "updated_at": at})
    return rows


def _insert(env: CertmonEnv, source_id: int, start: int, count: int, base: datetime) -> None:
    with env.factory.begin() as s:
        rows = _rows(source_id, start, count, base)
        for n in range(0, len(rows), 20_000):
            s.execute(insert(StoredItem), rows[n:n + 20_000])


def test_paging_through_100k_objects_with_next_then_added_after(pg_env: CertmonEnv) -> None:
    with pg_env.factory.begin() as s:
        src = Source(name="bulk", title="Bulk", format="stix", url="https://bulk.invalid/")
        s.add(src)
        s.flush()
        source_id = src.id
        token = issue_token(s, user=create_user(s, email="fw@cert.example", role="reader", password="passord-123"))
    began = time.monotonic()
    _insert(pg_env, source_id, 0, TOTAL, START)
    inserted = time.monotonic() - began
    with serving(create_app()) as port:
        url = f"http://127.0.0.1:{port}/taxii2/certmon/collections/{_tlp_id(TLP.GREEN)}/"
        collection = Collection(url, user="brannmur", password=token)
        began = time.monotonic()
        ids: list[str] = []
        pages = 0
        for envelope in as_pages(collection.get_objects, per_request=PER_PAGE, type="indicator"):
            pages += 1
            ids += [o["id"] for o in envelope.get("objects", [])]
        paged = time.monotonic() - began
        print(f"\n{TOTAL} objects in {pages} pages of {PER_PAGE} in {paged:.1f} s "
              f"({TOTAL / paged:.0f} objects/s); insert {inserted:.1f} s")
        assert len(ids) == TOTAL and len(set(ids)) == TOTAL
        assert pages == TOTAL // PER_PAGE
        assert ids[:3] == [indicator_id(source_id, f"ipv4:10.0.0.{i}") for i in range(3)]

        # the last page's header is where a poll later goes on from: only what came since
        last = requests.get(url + "objects/", params={"limit": 1, "added_after": _before_last(START)},
                            auth=("brannmur", token), timeout=30).headers["X-TAXII-Date-Added-Last"]
        _insert(pg_env, source_id, TOTAL, 1500, START + timedelta(days=1))
        newer = [o["id"] for env in as_pages(collection.get_objects, per_request=PER_PAGE, added_after=last)
                 for o in env.get("objects", [])]
        assert newer == [indicator_id(source_id, f"ipv4:10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
                         for i in range(TOTAL, TOTAL + 1500)]


def _before_last(start: datetime) -> str:
    """Just before the last group of the bulk insert: the first page after it ends with the newest row."""
    last_group = start + timedelta(seconds=(TOTAL - 1) // GROUP)
    return (last_group - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
