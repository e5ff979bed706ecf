"""Pydantic schemas for sources (catalogue entries, API in/out)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from certmon import plugins
from certmon.logsafety import redact_secrets
from certmon.schema_types import TlpName, refuse_nulls
from certmon.tlp import parse_tlp


def _formats(schema: dict[str, Any]) -> None:
    """The feed formats the installed feeds package parses (read when the document is built)."""
    feeds = plugins.optional("feeds")
    if feeds is not None:
        schema["enum"] = sorted(feeds.FORMATS)


class SourceCreate(BaseModel):
    """A source as written in feeds/sources.yaml or posted to the API."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = ""
    publisher: str = ""
    format: Annotated[str, Field(json_schema_extra=_formats)]
    url: str = Field(min_length=1)
    interval_s: int = Field(default=3600, ge=60, le=7 * 86400)
    default_tlp: TlpName = "clear"
    reliability: str = Field(default="B", pattern=r"^[A-F]$")
    enabled: bool = True
    internal: bool = False
    auth_user: str | None = None
    auth_secret_env: str | None = Field(default=None, pattern=r"^CERTMON_FEED_SECRET_[A-Z0-9_]+$")
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("default_tlp")
    @classmethod
    def _tlp(cls, value: str) -> str:
        return parse_tlp(value).value_str


class SourceUpdate(BaseModel):
    """Fields an admin may change (omit a field to leave it; null is refused)."""

    model_config = ConfigDict(json_schema_extra=refuse_nulls)

    title: str | None = None
    url: str | None = None
    interval_s: int | None = Field(default=None, ge=60, le=7 * 86400)
    default_tlp: TlpName | None = None
    enabled: bool | None = None
    internal: bool | None = None
    reliability: str | None = Field(default=None, pattern=r"^[A-F]$")

    @field_validator("default_tlp")
    @classmethod
    def _tlp(cls, value: str | None) -> str | None:
        return parse_tlp(value).value_str if value is not None else None

    @model_validator(mode="after")
    def _no_nulls(self) -> SourceUpdate:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"kan ikke settes til null: {', '.join(nulls)}")
        return self


class SourceRead(BaseModel):
    """A source with its health; credentials in its URL and errors are never shown."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    title: str
    publisher: str
    format: str
    url: str
    interval_s: int
    default_tlp: str
    reliability: str
    enabled: bool
    internal: bool
    healthy: bool
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    last_error_at: datetime | None

    @field_serializer("url", "last_error")
    def _hide_secrets(self, value: str | None) -> str | None:
        return redact_secrets(value) if value else value
    consecutive_failures: int
    last_items: int
    last_duration_ms: int
