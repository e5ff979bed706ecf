"""ORM models: Incident (hendelse), its links to constituents, items and matches, and its timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow

SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("open", "in_progress", "closed")  # ny → under arbeid → avsluttet
EVENT_KINDS = ("note", "measure", "status", "report-sent", "link")


class Incident(Base):
    """An analyst-run case with severity, status, TLP and reporting clocks started at awareness."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # HKH-2026-000012
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(20), default="medium")
    status: Mapped[str] = mapped_column(String(20), default="open")
    tlp: Mapped[str] = mapped_column(String(20), default="amber")
    tlp_rank: Mapped[int] = mapped_column(Integer, default=2, index=True)
    aware_at: Mapped[datetime]
    reporting_model: Mapped[str] = mapped_column(String(20), default="norsk")
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]


class IncidentConstituent(Base):
    """An organisation affected by an incident."""

    __tablename__ = "incident_constituents"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    constituent_id: Mapped[int] = mapped_column(ForeignKey("constituents.id", ondelete="CASCADE"),
                                                primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentItem(Base):
    """An item (advisory, vulnerability, indicator, exposure) linked to an incident."""

    __tablename__ = "incident_items"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentMatch(Base):
    """A match (treff) linked to an incident."""

    __tablename__ = "incident_matches"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    added_by: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentEvent(Base):
    """One timeline entry: a note, a measure (tiltak), a status change, a report sent, a link change."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[str | None] = mapped_column(String(40))  # the deadline key of a report-sent event
