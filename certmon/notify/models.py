"""ORM models: Notification (one e-mail to one constituent), its recipients and matches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow

STATUSES = ("queued", "sending", "sent", "failed", "cancelled", "held", "awaiting_approval")
RELEASED = ("sending", "sent", "failed")  # alerts the CERT has let go of (seen on Min side, exported)


class Notification(Base):
    """An alert to one constituent, built from one or more matches (the outbox row)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)  # HKC-2026-000123
    constituent_id: Mapped[int] = mapped_column(ForeignKey("constituents.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(20), default="immediate")  # immediate | digest | manual
    tlp: Mapped[str] = mapped_column(String(20), default="clear")
    severity: Mapped[str] = mapped_column(String(20), default="medium")
    subject: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    not_before: Mapped[datetime | None]  # digests wait for their slot
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    response: Mapped[str | None] = mapped_column(String(30))
    created_by: Mapped[str | None] = mapped_column(String(320))


class NotificationMatch(Base):
    """Which matches an alert reports."""

    __tablename__ = "notification_matches"

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True)


class Delivery(Base):
    """One recipient of one alert: delivered exactly once, with attempts and the outcome."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("notification_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2), default="nb")
    tlp: Mapped[str] = mapped_column(String(20), default="clear")  # the TLP of what this recipient got
    withheld: Mapped[int] = mapped_column(Integer, default=0)  # items above the recipient's clearance
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    # The Subject line this recipient's e-mail carried (language, TLP and what was withheld differ per
    # recipient); set when the message is built for sending, None for deliveries never built.
    subject: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
