"""API: constituents and their assets."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from certmon.registry import assets as asset_service
from certmon.registry import service
from certmon.registry.models import Asset, Constituent
from certmon.registry.schemas import AssetCreate, AssetRead, ConstituentDetail, ConstituentRead
from certmon.web.deps import Admin, DbId, PageDep, Reader, SessionDep

router = APIRouter(prefix="/api/v1/constituents", tags=["virksomheter"])


class ConstituentPage(BaseModel):
    items: list[ConstituentRead]
    total: int


def to_read(c: Constituent) -> ConstituentRead:
    """API form of a constituent (roles flattened)."""
    data = {f: getattr(c, f) for f in ConstituentRead.model_fields if f != "roles"}
    return ConstituentRead(**data, roles=c.role_names)


@router.get("", response_model=ConstituentPage)
def list_constituents(session: SessionDep, user: Reader, page: PageDep,
                      kind: Literal["kommune", "fylkeskommune", "rhf", "hf", "other"] | None = None,
                      q: str | None = None, county: str | None = None) -> ConstituentPage:
    """Constituents; `kind` is kommune, fylkeskommune, rhf, hf or other (Oslo counts as both of the first)."""
    rows, total = service.list_constituents(session, kind=kind, q=q, county=county, limit=page.limit,
                                            offset=page.offset)
    return ConstituentPage(items=[to_read(c) for c in rows], total=total)


@router.get("/{constituent_id}", response_model=ConstituentDetail)
def get_constituent(constituent_id: DbId, session: SessionDep, user: Reader) -> ConstituentDetail:
    """One constituent with its assets."""
    c = service.get_constituent(session, constituent_id=constituent_id)
    assets = session.query(Asset).filter(Asset.constituent_id == c.id).order_by(Asset.type, Asset.value)
    return ConstituentDetail(**to_read(c).model_dump(), assets=[AssetRead.model_validate(a) for a in assets])


@router.post("/{constituent_id}/assets", response_model=AssetRead, status_code=201)
def add_asset(constituent_id: DbId, body: AssetCreate, session: SessionDep, user: Admin) -> AssetRead:
    """Register a network, ASN, domain, e-mail domain, product or supplier (audited)."""
    asset = asset_service.add_asset(session, constituent_id=constituent_id, asset_type=body.type,
                                    value=body.value, note=body.note, actor=user.email)
    return AssetRead.model_validate(asset)


@router.delete("/{constituent_id}/assets/{asset_id}", status_code=204)
def delete_asset(constituent_id: DbId, asset_id: DbId, session: SessionDep, user: Admin) -> None:
    """Remove an asset (audited)."""
    asset_service.delete_asset(session, constituent_id=constituent_id, asset_id=asset_id, actor=user.email)
