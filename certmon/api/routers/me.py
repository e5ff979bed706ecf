"""The caller's own account (`/api/v1/me`) and, for a constituent's own users, their organisation's alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from certmon.api.routers.exports import ExportFormat, as_response, ceiling
from certmon.auth.service import clearance
from certmon.exports.service import DEFAULT_LIMIT, ExportQuery, export_indicators
from certmon.portal import service
from certmon.registry.service import display_name
from certmon.schema_types import TlpName
from certmon.web.deps import EXPORTS, CurrentUser, PageDep, SessionDep

router = APIRouter(prefix="/api/v1/me", tags=["min side"])


class OrganisationRead(BaseModel):
    id: int
    org_number: str | None
    name: str
    kind: str


class MeRead(BaseModel):
    email: str
    name: str
    role: str
    clearance: str
    organisation: OrganisationRead | None


class AlertItemRead(BaseModel):
    """A matched item in an alert: what, why (rule and explanation) and how serious."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    title: str
    value: str
    url: str
    tlp: str
    rule: str
    explanation: str
    severity: str
    cves: list[str]
    source: str


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reference: str
    subject: str
    tlp: str
    severity: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    response: str | None
    acknowledged_at: datetime | None
    items: list[AlertItemRead]
    withheld: int
    more: int = 0


class AlertPage(BaseModel):
    items: list[AlertRead]
    total: int


class AnswerBody(BaseModel):
    answer: Literal["mottatt", "utbedret", "ikke-relevant"]


class AssetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str
    value: str
    note: str | None


def _alert(a: service.PortalAlert) -> AlertRead:
    return AlertRead.model_validate(a)


@router.get("", response_model=MeRead)
def me(session: SessionDep, user: CurrentUser) -> MeRead:
    """Who the caller is: role, TLP clearance and, for a constituent's user, the organisation."""
    org = None
    if user.role == "constituent" and user.constituent_id is not None:
        c = service.own_constituent(session, user)
        org = OrganisationRead(id=c.id, org_number=c.org_number, name=display_name(c), kind=c.kind)
    return MeRead(email=user.email, name=user.name or "", role=user.role,
                  clearance=clearance(user).value_str, organisation=org)


@router.get("/alerts", response_model=AlertPage)
def my_alerts(session: SessionDep, user: CurrentUser, page: PageDep) -> AlertPage:
    """The organisation's released alerts, newest first (constituent users only)."""
    rows, total = service.list_alerts(session, user, limit=page.limit, offset=page.offset)
    return AlertPage(items=[_alert(a) for a in rows], total=total)


@router.get("/alerts/{reference}", response_model=AlertRead)
def my_alert(reference: str, session: SessionDep, user: CurrentUser) -> AlertRead:
    """One of the organisation's alerts by reference."""
    return _alert(service.get_alert(session, user, reference=reference))


@router.post("/alerts/{reference}/answer", response_model=AlertRead)
def answer(reference: str, body: AnswerBody, session: SessionDep, user: CurrentUser) -> AlertRead:
    """Answer an alert: mottatt (received), utbedret (fixed) or ikke-relevant (not relevant); audited."""
    return _alert(service.answer_alert(session, user, reference=reference, answer=body.answer))


@router.get("/assets", response_model=list[AssetRead])
def my_assets(session: SessionDep, user: CurrentUser) -> list[AssetRead]:
    """What the CERT matches the organisation on (networks, domains, products …)."""
    return [AssetRead.model_validate(a) for a in service.assets_of(session, user)]


@router.get("/indicators", response_class=Response, openapi_extra=EXPORTS)
def my_indicators(
    session: SessionDep, user: CurrentUser,
    format: ExportFormat = Query("csv", description="csv, jsonl eller stix (STIX 2.1-bundle)"),
    since: datetime | None = None,
    tlp_max: TlpName | None = Query(None, description="høyeste TLP i filen (aldri over din klarering)"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=DEFAULT_LIMIT),
) -> Response:
    """The indicators in the alerts sent to the organisation, for its firewall or SIEM; audited."""
    c = service.own_constituent(session, user)
    q = ExportQuery(tlp_max=ceiling(user, tlp_max), since=since, constituent_id=c.id, limit=limit)
    return as_response(export_indicators(session, q, format, actor=user.email))
