"""ORM model: StoredItem — one normalised item per (source, natural key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow


class StoredItem(Base):
    """An advisory, vulnerability, indicator or exposure as stored (never twice per source and key)."""

    __tablename__ = "items"
    # Few indexes on purpose: each one costs every inserted row, and ingest writes 10^5 rows per feed
    # run. (source_id, key) serves the upsert and per-source filters; (kind, published_at, id) the lists.
    # Migration 0005 dropped the ones no query used (source_id alone, tlp_rank, value, cve, ip); 0019 made
    # (kind, published_at) the keyset index below and added the substring search index.
    __table_args__ = (
        UniqueConstraint("source_id", "key"),
    )
    # Made by migration 0019 per dialect and not described here (certmon/items/search.py, UNMODELLED):
    # ix_items_kind_published (kind, published_at DESC [NULLS LAST], id DESC), the lists' order and keyset
    # pages; and the substring search index (PostgreSQL pg_trgm GIN, SQLite FTS5 trigram table + triggers).

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(500))
    tlp: Mapped[str] = mapped_column(String(20), default="clear")
    tlp_rank: Mapped[int] = mapped_column(Integer, default=0)
    source_format: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    severity: Mapped[str | None] = mapped_column(String(20))
    cve: Mapped[str | None] = mapped_column(String(30))
    known_exploited: Mapped[bool] = mapped_column(Boolean, default=False)
    cvss: Mapped[float | None] = mapped_column(Float)
    indicator_type: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(String(2000))
    confidence: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(64))
    port: Mapped[int | None] = mapped_column(Integer)
    report_type: Mapped[str | None] = mapped_column(String(100))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the full normalised item
    content_hash: Mapped[str] = mapped_column(String(32))  # detects a changed item
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("payloads.id", ondelete="SET NULL"))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
