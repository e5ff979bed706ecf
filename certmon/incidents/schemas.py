"""Pydantic schemas for incidents: API input and output (the ORM classes stay inside)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from certmon.dbutil import DbIdValue
from certmon.schema_types import TlpName, refuse_nulls
from certmon.tlp import parse_tlp

Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["open", "in_progress", "closed"]
Model = Literal["norsk", "nis2"]
LinkKind = Literal["constituent", "item", "match"]


def _tlp(value: str | None) -> str | None:
    return parse_tlp(value).value_str if value is not None else None


class IncidentCreate(BaseModel):
    """A new incident; `aware_at` defaults to now, the clocks start there."""

    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20000)
    severity: Severity = "medium"
    tlp: TlpName = "amber"
    aware_at: datetime | None = None
    reporting_model: Model = "norsk"
    personal_data: bool = False
    constituent_ids: list[DbIdValue] = Field(default_factory=list, max_length=500)

    @field_validator("tlp")
    @classmethod
    def _valid_tlp(cls, value: str) -> str:
        return parse_tlp(value).value_str

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("tittelen kan ikke være tom")
        return value.strip()


class IncidentUpdate(BaseModel):
    """Fields an analyst may change (omit a field to leave it; null is refused)."""

    model_config = ConfigDict(json_schema_extra=refuse_nulls)

    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    severity: Severity | None = None
    status: Status | None = None
    tlp: TlpName | None = None
    aware_at: datetime | None = None
    reporting_model: Model | None = None
    personal_data: bool | None = None

    @field_validator("tlp")
    @classmethod
    def _valid_tlp(cls, value: str | None) -> str | None:
        return _tlp(value)

    @model_validator(mode="after")
    def _no_nulls(self) -> IncidentUpdate:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"kan ikke settes til null: {', '.join(nulls)}")
        return self


class LinkCreate(BaseModel):
    """Link a constituent, an item or a match to an incident."""

    kind: LinkKind
    id: DbIdValue


class EventCreate(BaseModel):
    """A timeline entry written by an analyst; `report-sent` names the deadline it fulfils."""

    kind: Literal["note", "measure", "report-sent"]
    text: str = Field(default="", max_length=20000)
    deadline: str | None = None


class DeadlineRead(BaseModel):
    """One reporting deadline and its state at the time of the answer."""

    key: str
    name: str
    due_at: datetime
    sent_at: datetime | None
    met: bool
    state: str  # met | late | overdue | open
    remaining_seconds: int


class IncidentRead(BaseModel):
    """An incident as listed."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    reference: str
    title: str
    severity: str
    status: str
    tlp: str
    aware_at: datetime
    reporting_model: str
    personal_data: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    next_deadline: DeadlineRead | None = None
    overdue: int = 0


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    total: int


class ConstituentLink(BaseModel):
    id: int
    name: str
    org_number: str | None
    kind: str


class ItemLink(BaseModel):
    id: int
    kind: str
    key: str
    title: str | None
    tlp: str


class MatchLink(BaseModel):
    id: int
    item_id: int
    constituent_id: int
    rule: str
    explanation: str
    status: str
    tlp: str


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    kind: str
    text: str
    deadline: str | None


class IncidentDetail(IncidentRead):
    """One incident with its links, timeline and clocks."""

    description: str
    constituents: list[ConstituentLink]
    items: list[ItemLink]
    matches: list[MatchLink]
    timeline: list[EventRead]
    deadlines: list[DeadlineRead]
