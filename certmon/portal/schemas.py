"""API shapes of the portal's proposals, shared by `/api/v1/me/proposals` and the analysts' queue."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProposalRead(BaseModel):
    """A proposed change to the organisation's entry and what became of it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="asset_add, asset_remove, contact_add or contact_remove")
    asset_type: str | None
    value: str
    note: str | None
    status: str = Field(description="pending, approved, rejected or withdrawn")
    reason: str | None = Field(description="The CERT's reason when it was rejected.")
    proposed_by: str
    created_at: datetime
    decided_at: datetime | None
