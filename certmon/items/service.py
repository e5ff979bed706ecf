"""Store normalised items: batched upsert by natural key, and the read side for the API."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from certmon.db import utcnow
from certmon.items.models import StoredItem
from certmon.items.schemas import Item, item_to_dict, item_to_json
from certmon.tlp import TLP, parse_tlp

CHUNK = 500  # rows per statement: well under SQLite's variable limit, few round trips


@dataclass
class UpsertResult:
    """Ids of items that are new or changed (these need matching) and a count of the unchanged."""

    new_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    unchanged: int = 0
    revoked_ids: list[int] = field(default_factory=list)

    @property
    def changed_ids(self) -> list[int]:
        return self.new_ids + self.updated_ids


def parse_iso(value: str | None) -> datetime | None:
    """Parse an ISO 8601 timestamp (with `Z`) into an aware UTC datetime; None if unparseable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _row(item: Item, source_id: int, payload_id: int | None, now: datetime) -> dict[str, Any]:
    encoded = item_to_json(item)
    tlp = parse_tlp(item.tlp, TLP.CLEAR)
    return {
        "source_id": source_id, "kind": item.kind, "key": item.key[:500], "tlp": tlp.value_str,
        "tlp_rank": int(tlp), "source_format": item.source_format, "title": item.title,
        "summary": item.summary, "url": item.url,
        "published_at": parse_iso(item.published or item.observed_at or item.valid_from),
        "severity": item.severity, "cve": item.cve, "known_exploited": bool(item.known_exploited),
        "cvss": item.cvss, "indicator_type": item.type, "value": (item.value or "")[:2000] or None,
        "confidence": item.confidence, "ip": item.ip, "port": item.port, "report_type": item.report_type,
        "revoked": item.revoked, "data": item_to_dict(item),
        "content_hash": hashlib.md5(encoded, usedforsecurity=False).hexdigest(),
        "payload_id": payload_id, "last_seen": now, "updated_at": now,
    }


def upsert_items(
    session: Session, *, source_id: int, items: Iterable[Item], payload_id: int | None = None,
    now: datetime | None = None,
) -> UpsertResult:
    """Insert new items, update changed ones in place, touch unchanged ones; batched, never per row."""
    now = now or utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        row = _row(item, source_id, payload_id, now)
        rows[row["key"]] = row  # the last version of a key in one payload wins
    result = UpsertResult()
    keys = list(rows)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        existing = {
            key: (item_id, digest)
            for key, item_id, digest in session.execute(
                select(StoredItem.key, StoredItem.id, StoredItem.content_hash).where(
                    StoredItem.source_id == source_id, StoredItem.key.in_(chunk)))
        }
        fresh = [rows[k] | {"first_seen": now} for k in chunk if k not in existing]
        changed, touched = [], []
        for k in chunk:
            if k in existing:
                item_id, digest = existing[k]
                if digest != rows[k]["content_hash"]:
                    changed.append(rows[k] | {"id": item_id})
                else:
                    touched.append({"id": item_id, "last_seen": now})
        if fresh:
            ids = session.scalars(
                insert(StoredItem).returning(StoredItem.id, sort_by_parameter_order=True), fresh).all()
            result.new_ids.extend(ids)
        if changed:
            session.execute(update(StoredItem), changed)
            result.updated_ids.extend(r["id"] for r in changed)
            result.revoked_ids.extend(r["id"] for r in changed if r["revoked"])
        if touched:
            session.execute(update(StoredItem), touched)
            result.unchanged += len(touched)
    return result


def list_items(
    session: Session, *, kinds: Sequence[str], tlp_max: TLP, limit: int = 50, offset: int = 0,
    q: str | None = None, source_id: int | None = None, indicator_type: str | None = None,
    known_exploited: bool | None = None,
) -> tuple[list[StoredItem], int]:
    """Items of the given kinds that the reader is cleared for, newest first."""
    stmt = select(StoredItem).where(StoredItem.kind.in_(kinds), StoredItem.tlp_rank <= int(tlp_max),
                                    StoredItem.revoked.is_(False))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(StoredItem.title.ilike(like) | StoredItem.value.ilike(like)
                          | StoredItem.cve.ilike(like) | StoredItem.key.ilike(like))
    if source_id is not None:
        stmt = stmt.where(StoredItem.source_id == source_id)
    if indicator_type:
        stmt = stmt.where(StoredItem.indicator_type == indicator_type)
    if known_exploited is not None:
        stmt = stmt.where(StoredItem.known_exploited.is_(known_exploited))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (StoredItem.published_at.desc().nulls_last(), StoredItem.id.desc())
    rows = session.scalars(stmt.order_by(*order).limit(limit).offset(offset))
    return list(rows), total
