"""ORM models: Source, SourceRun, Payload, SourceFeeder."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow


class Source(Base):
    """A configured feed and its health."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    publisher: Mapped[str] = mapped_column(String(200), default="")
    format: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    interval_s: Mapped[int] = mapped_column(Integer, default=3600)
    default_tlp: Mapped[str] = mapped_column(String(20), default="clear")
    reliability: Mapped[str] = mapped_column(String(1), default="B")  # Admiralty A–F
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)  # may reach internal addresses
    auth_user: Mapped[str | None] = mapped_column(String(200))
    auth_secret_env: Mapped[str | None] = mapped_column(String(100))  # env var holding the password
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # conditional GET and cursors
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    cursor: Mapped[str | None] = mapped_column(String(100))  # TAXII added_after
    # health
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    running_since: Mapped[datetime | None]  # a run holds the source; a stale claim expires
    last_items: Mapped[int] = mapped_column(Integer, default=0)
    last_duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def healthy(self) -> bool:
        """A source is healthy until its last run failed."""
        return self.consecutive_failures == 0


class Payload(Base):
    """A fetched payload, kept once by content hash (compressed) for audit and replay."""

    __tablename__ = "payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed


class SourceRun(Base):
    """One collection run of a source."""

    __tablename__ = "source_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(40), default="running")
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    matches_new: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("payloads.id", ondelete="SET NULL"))
    payload_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # every document of the run
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    pushed_by: Mapped[str | None] = mapped_column(String(320))  # the account whose push this run was


class SourceFeeder(Base):
    """A `feeder` account allowed to push items to one source (`POST /api/v1/sources/{name}/items`)."""

    __tablename__ = "source_feeders"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320), default="")
