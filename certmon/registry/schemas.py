"""Pydantic schemas for the registry API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from certmon.registry.models import ASSET_TYPES
from certmon.schema_types import documented


class AssetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    type: str
    value: str
    note: str | None = None
    demo: bool = False
    created_at: datetime


class AssetCreate(BaseModel):
    type: Annotated[str, documented(ASSET_TYPES)]
    value: str
    note: str | None = None


class ConstituentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    org_number: str | None
    municipality_number: str | None
    name: str
    name_alt: str | None
    kind: str
    roles: list[str]
    county_number: str | None
    county_name: str | None
    region: str | None
    website: str | None
    nbp_member: bool
    needs_org_number: bool
    demo: bool


class ConstituentDetail(ConstituentRead):
    assets: list[AssetRead]
