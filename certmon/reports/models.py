"""ORM model: Report — a situation report for one period; approved versions are frozen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow

STATUSES = ("draft", "approved")
PERIOD_KINDS = ("week", "month", "tertial", "custom")


class Report(Base):
    """A situasjonsbilde: period, TLP, assessment text; rendered HTML/PDF frozen when approved."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_period", "period_kind", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_kind: Mapped[str] = mapped_column(String(10))  # week | month | tertial | custom
    period_key: Mapped[str] = mapped_column(String(30))  # 2026-W47, 2026-11, 2026-T3, 2026-11-01..2026-11-15
    period_start: Mapped[datetime]  # inclusive, midnight Europe/Oslo as UTC
    period_end: Mapped[datetime]  # exclusive
    title: Mapped[str] = mapped_column(String(300))
    tlp_max: Mapped[str] = mapped_column(String(20), default="amber")  # nothing above this is counted
    tlp: Mapped[str] = mapped_column(String(20), default="clear")  # the label: highest TLP included
    # the analysts' own marking of their assessment text; the label is never below it
    assessment_tlp: Mapped[str] = mapped_column(String(20), default="clear", server_default="clear")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    assessment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(320))
    approved_at: Mapped[datetime | None]
    # frozen at approval: never changed afterwards
    figures: Mapped[dict[str, Any] | None] = mapped_column()
    html: Mapped[str | None] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    html_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
