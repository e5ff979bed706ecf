"""The caller's own account (`/api/v1/me`) and, for a constituent's own users, their organisation's alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from certmon.api.routers.exports import ExportFormat, as_response, ceiling
from certmon.auth.service import clearance
from certmon.dbutil import DB_INT_MAX
from certmon.errors import ValidationFailed
from certmon.exports.service import DEFAULT_LIMIT, ExportQuery, export_indicators
from certmon.portal import proposals, service
from certmon.portal.schemas import ProposalRead
from certmon.registry.service import display_name
from certmon.schema_types import TlpName
from certmon.web.deps import EXPORTS, CurrentUser, DbId, PageDep, SessionDep

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


# Proposals: the organisation keeps its own registry entry current (certmon/portal/proposals.py) ----------

class ProposalBody(BaseModel):
    """What to propose: `asset_add` (asset_type + value), `asset_remove` (asset_id), `contact_add` (email,
    name, language) or `contact_remove` (contact_id); `note` is a word to the CERT."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["asset_add", "asset_remove", "contact_add", "contact_remove"]
    asset_type: Literal["network", "asn", "domain", "email_domain", "product"] | None = None
    value: str | None = Field(None, max_length=500)
    asset_id: int | None = Field(None, ge=1, le=DB_INT_MAX)
    email: str | None = Field(None, max_length=320)
    name: str = Field("", max_length=200)
    language: Literal["nb", "nn", "en"] = "nb"
    note: str | None = Field(None, max_length=1000)
    contact_id: int | None = Field(None, ge=1, le=DB_INT_MAX)


def _missing(field: str, kind: str) -> ValidationFailed:
    return ValidationFailed(f"{field} mangler for {kind}", [f"body.{field}: mangler"])


@router.get("/proposals", response_model=list[ProposalRead])
def my_proposals(session: SessionDep, user: CurrentUser) -> list[ProposalRead]:
    """The organisation's proposals: pending first, then the latest decisions (constituent users only)."""
    return [ProposalRead.model_validate(p) for p in proposals.own_proposals(session, user, limit=100)]


@router.post("/proposals", response_model=ProposalRead, status_code=201)
def propose(body: ProposalBody, session: SessionDep, user: CurrentUser) -> ProposalRead:
    """Propose a change to the organisation's assets or alert recipients; checked at once, decided by an
    analyst. Refused with the reason: an invalid network or domain, a product without vendor, a value that
    overlaps another organisation's, one already registered or proposed."""
    if body.kind == "asset_add":
        if body.asset_type is None or not body.value:
            raise _missing("asset_type" if body.asset_type is None else "value", body.kind)
        made = proposals.propose_asset(session, user, asset_type=body.asset_type, value=body.value, note=body.note)
    elif body.kind == "asset_remove":
        if body.asset_id is None:
            raise _missing("asset_id", body.kind)
        made = proposals.propose_asset_removal(session, user, asset_id=body.asset_id, note=body.note)
    elif body.kind == "contact_add":
        if not body.email:
            raise _missing("email", body.kind)
        made = proposals.propose_contact(session, user, email=body.email, name=body.name, language=body.language,
                                         note=body.note)
    else:
        if body.contact_id is None:
            raise _missing("contact_id", body.kind)
        made = proposals.propose_contact_removal(session, user, contact_id=body.contact_id, note=body.note)
    return ProposalRead.model_validate(made)


@router.delete("/proposals/{proposal_id}", response_model=ProposalRead)
def withdraw_proposal(proposal_id: DbId, session: SessionDep, user: CurrentUser) -> ProposalRead:
    """Take a pending proposal back."""
    return ProposalRead.model_validate(proposals.withdraw(session, user, proposal_id=proposal_id))
