"""API: incidents (hendelser) — list, one with links, timeline and clocks; analysts create and change."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.db import utcnow
from certmon.incidents import clocks, links, service
from certmon.incidents.models import Incident
from certmon.incidents.schemas import (
    ConstituentLink,
    DeadlineRead,
    EventCreate,
    EventRead,
    IncidentCreate,
    IncidentDetail,
    IncidentPage,
    IncidentRead,
    IncidentUpdate,
    ItemLink,
    LinkCreate,
    LinkKind,
    MatchLink,
    Severity,
)
from certmon.registry.service import display_name
from certmon.web.deps import Analyst, DbId, DbIdFilter, PageDep, Reader, SessionDep, user_clearance

router = APIRouter(prefix="/api/v1/incidents", tags=["hendelser"])


def deadline_read(d: clocks.Deadline, now: datetime) -> DeadlineRead:
    """A deadline as the API shows it, with its state and seconds left at `now`."""
    return DeadlineRead(key=d.key, name=d.name, due_at=d.due_at, sent_at=d.sent_at, met=d.met,
                        state=d.state(now), remaining_seconds=int(d.remaining(now).total_seconds()))


def _summary(incident: Incident, found: list[clocks.Deadline], now: datetime) -> IncidentRead:
    nxt = clocks.next_open(found)
    read = IncidentRead.model_validate(incident)
    read.next_deadline = deadline_read(nxt, now) if nxt else None
    read.overdue = len(clocks.overdue(found, now))
    return read


def _detail(session: Session, incident: Incident, user: User) -> IncidentDetail:
    now = utcnow()
    found = service.clocks_for(session, [incident])[incident.id]
    linked = links.linked(session, incident_id=incident.id, clearance=user_clearance(user))
    return IncidentDetail(
        **_summary(incident, found, now).model_dump(), description=incident.description,
        constituents=[ConstituentLink(id=c.id, name=display_name(c), org_number=c.org_number, kind=c.kind)
                      for c in linked.constituents],
        items=[ItemLink(id=i.id, kind=i.kind, key=i.key, title=i.title, tlp=i.tlp) for i in linked.items],
        matches=[MatchLink(id=m.id, item_id=i.id, constituent_id=c.id, rule=m.rule, explanation=m.explanation,
                           status=m.status, tlp=i.tlp) for m, i, c in linked.matches],
        timeline=[EventRead.model_validate(e) for e in service.timeline(session, incident_id=incident.id)],
        deadlines=[deadline_read(d, now) for d in found],
    )


@router.get("", response_model=IncidentPage)
def list_incidents(session: SessionDep, user: Reader, page: PageDep,
                   status: Literal["open", "in_progress", "closed", "active"] | None = None,
                   severity: Severity | None = None, constituent_id: DbIdFilter = None) -> IncidentPage:
    """Incidents within the caller's clearance, newest first; `status=active` means not closed."""
    rows, total = service.list_incidents(session, tlp_max=user_clearance(user), status=status,
                                         severity=severity, constituent_id=constituent_id,
                                         limit=page.limit, offset=page.offset)
    now = utcnow()
    found = service.clocks_for(session, rows)
    return IncidentPage(items=[_summary(i, found[i.id], now) for i in rows], total=total)


@router.get("/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: DbId, session: SessionDep, user: Reader) -> IncidentDetail:
    """One incident with affected organisations, linked items and matches, timeline and clocks."""
    incident = service.get_incident(session, incident_id=incident_id, tlp_max=user_clearance(user))
    return _detail(session, incident, user)


@router.post("", response_model=IncidentDetail, status_code=201)
def create_incident(body: IncidentCreate, session: SessionDep, user: Analyst) -> IncidentDetail:
    """Open an incident (analysts); the clocks start at `aware_at`."""
    incident = service.create_incident(session, data=body, actor=user.email, clearance=user_clearance(user))
    return _detail(session, incident, user)


@router.patch("/{incident_id}", response_model=IncidentDetail)
def update_incident(incident_id: DbId, body: IncidentUpdate, session: SessionDep, user: Analyst) -> IncidentDetail:
    """Change status, severity, TLP, model or text (analysts); audited."""
    clearance = user_clearance(user)
    incident = service.get_incident(session, incident_id=incident_id, tlp_max=clearance)
    service.update_incident(session, incident=incident, data=body, actor=user.email, clearance=clearance)
    return _detail(session, incident, user)


@router.post("/{incident_id}/links", response_model=IncidentDetail)
def add_link(incident_id: DbId, body: LinkCreate, session: SessionDep, user: Analyst) -> IncidentDetail:
    """Link an organisation, item or match (analysts); linking raises the TLP to the linked item's."""
    clearance = user_clearance(user)
    incident = service.get_incident(session, incident_id=incident_id, tlp_max=clearance)
    links.link(session, incident=incident, kind=body.kind, target_id=body.id, actor=user.email, clearance=clearance)
    return _detail(session, incident, user)


@router.delete("/{incident_id}/links/{kind}/{target_id}", status_code=204)
def remove_link(incident_id: DbId, kind: LinkKind, target_id: DbId, session: SessionDep, user: Analyst) -> Response:
    """Remove a link (analysts)."""
    incident = service.get_incident(session, incident_id=incident_id, tlp_max=user_clearance(user))
    links.unlink(session, incident=incident, kind=kind, target_id=target_id, actor=user.email)
    return Response(status_code=204)


@router.post("/{incident_id}/events", response_model=EventRead, status_code=201)
def add_event(incident_id: DbId, body: EventCreate, session: SessionDep, user: Analyst) -> EventRead:
    """Add a note, a measure (tiltak) or `report-sent` with a deadline key (analysts)."""
    incident = service.get_incident(session, incident_id=incident_id, tlp_max=user_clearance(user))
    event = service.add_event(session, incident=incident, kind=body.kind, text=body.text, actor=user.email,
                              deadline=body.deadline)
    return EventRead.model_validate(event)
