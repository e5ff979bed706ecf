"""ORM model: a change to its own registry entry that a constituent user proposes and an analyst decides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow

PROPOSAL_KINDS = ("asset_add", "asset_remove", "contact_add", "contact_remove")
PROPOSAL_STATUSES = ("pending", "approved", "rejected", "withdrawn")


class Proposal(Base):
    """One proposed change: add or remove an asset or a contact of the proposer's own organisation."""

    __tablename__ = "registry_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    constituent_id: Mapped[int] = mapped_column(ForeignKey("constituents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    asset_type: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(500))  # the asset's canonical value or the contact's address
    note: Mapped[str | None] = mapped_column(Text)  # the proposer's words to the CERT
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # a contact's name and language
    target_id: Mapped[int | None] = mapped_column(Integer)  # the asset or contact a removal is about
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    reason: Mapped[str | None] = mapped_column(Text)  # the analyst's reason, shown to the proposer
    proposed_by: Mapped[str] = mapped_column(String(320))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
