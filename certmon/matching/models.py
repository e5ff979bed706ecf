"""ORM model: Match (treff) — item × constituent × rule, with triage status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow

# ny → bekreftet / falsk positiv → varslet → lukket; `retired` when the registry no longer supports it.
STATUSES = ("new", "confirmed", "false_positive", "notified", "closed", "retired")


class Match(Base):
    """Why an item concerns a constituent: the rule, the asset, confidence and an explanation."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("item_id", "constituent_id", "rule"),
        Index("ix_matches_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    constituent_id: Mapped[int] = mapped_column(ForeignKey("constituents.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(20))
    asset: Mapped[str] = mapped_column(String(500))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    confidence: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20), default="medium")
    status: Mapped[str] = mapped_column(String(20), default="new")
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    notified_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    fixed_at: Mapped[datetime | None]
    response: Mapped[str | None] = mapped_column(String(30))  # mottatt | utbedret | ikke-relevant
    # product matches: the vendor's word — affected, or under_investigation (never sent automatically)
    product_status: Mapped[str | None] = mapped_column(String(30))
