"""Incidents: create, change, list, timeline and clocks. Services never commit; the caller owns it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.db import utcnow
from certmon.errors import NotFound, ValidationFailed
from certmon.incidents import clocks
from certmon.incidents.models import Incident, IncidentConstituent, IncidentEvent, IncidentItem, IncidentMatch
from certmon.incidents.schemas import IncidentCreate, IncidentUpdate
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.registry.models import Constituent
from certmon.tlp import TLP, parse_tlp

OSLO = ZoneInfo("Europe/Oslo")
REFERENCE_PREFIX = "HKH"
SEVERITY_NB = {"low": "lav", "medium": "middels", "high": "høy", "critical": "kritisk"}
STATUS_NB = {"open": "ny", "in_progress": "under arbeid", "closed": "avsluttet"}


def make_reference(incident_id: int, created_at: datetime) -> str:
    """The human reference of an incident, e.g. `HKH-2026-000012` (year of creation, Oslo time)."""
    return f"{REFERENCE_PREFIX}-{created_at.astimezone(OSLO).year}-{incident_id:06d}"


def create_incident(session: Session, *, data: IncidentCreate, actor: str, clearance: TLP = TLP.RED,
                    now: datetime | None = None) -> Incident:
    """Open an incident; its reporting clocks start at `aware_at` (default: now). Audited."""
    now = now or utcnow()
    aware_at = data.aware_at or now
    _check_aware_at(aware_at, now)
    tlp = parse_tlp(data.tlp)
    if tlp > clearance:
        raise ValidationFailed(f"du kan ikke merke en hendelse over din egen klarering ({clearance.label})")
    incident = Incident(
        reference=f"tmp-{uuid.uuid4().hex}", title=data.title, description=data.description,
        severity=data.severity, status="open", tlp=tlp.value_str, tlp_rank=int(tlp), aware_at=aware_at,
        reporting_model=data.reporting_model, personal_data=data.personal_data, created_by=actor,
        created_at=now, updated_at=now,
    )
    session.add(incident)
    session.flush()
    incident.reference = make_reference(incident.id, now)
    session.add(IncidentEvent(incident_id=incident.id, at=now, actor=actor, kind="status",
                              text=f"Hendelsen er opprettet med alvorlighetsgrad {SEVERITY_NB[data.severity]}."))
    record(session, actor=actor, action="incident.create", entity_type="incident", entity_id=incident.id,
           reference=incident.reference, severity=data.severity, tlp=incident.tlp)
    for constituent_id in dict.fromkeys(data.constituent_ids):
        add_constituent(session, incident=incident, constituent_id=constituent_id, actor=actor, now=now)
    session.flush()
    return incident


def _check_aware_at(aware_at: datetime, now: datetime) -> None:
    if aware_at.tzinfo is None:
        raise ValidationFailed("aware_at må ha tidssone (f.eks. 2026-03-01T10:00:00+01:00 eller …Z)")
    if aware_at > now:
        raise ValidationFailed("tidspunktet for kjennskap kan ikke ligge i fremtiden")


def get_incident(session: Session, *, incident_id: int, tlp_max: TLP) -> Incident:
    """One incident the reader is cleared for; NotFound otherwise (its existence is not revealed)."""
    incident = session.get(Incident, incident_id)
    if incident is None or incident.tlp_rank > int(tlp_max):
        raise NotFound(f"fant ingen hendelse med id {incident_id}")
    return incident


def find_incident(session: Session, *, ref: str, tlp_max: TLP) -> Incident:
    """An incident by reference (`HKH-2026-000012`, case-insensitive) or numeric id."""
    ref = ref.strip()
    if ref.isdigit():
        return get_incident(session, incident_id=int(ref), tlp_max=tlp_max)
    incident_id = session.scalar(select(Incident.id).where(Incident.reference == ref.upper()))
    if incident_id is None:
        raise NotFound(f"fant ingen hendelse med referanse {ref}")
    try:
        return get_incident(session, incident_id=incident_id, tlp_max=tlp_max)
    except NotFound:
        raise NotFound(f"fant ingen hendelse med referanse {ref}") from None


def tlp_floor(session: Session, *, incident_id: int) -> TLP:
    """The most restrictive TLP among the incident's linked items and the items of its linked matches."""
    direct = session.scalar(select(func.max(StoredItem.tlp_rank)).join(
        IncidentItem, IncidentItem.item_id == StoredItem.id).where(IncidentItem.incident_id == incident_id))
    via_match = session.scalar(select(func.max(StoredItem.tlp_rank)).join(Match, Match.item_id == StoredItem.id)
                               .join(IncidentMatch, IncidentMatch.match_id == Match.id)
                               .where(IncidentMatch.incident_id == incident_id))
    return TLP(max(direct or 0, via_match or 0))


def update_incident(session: Session, *, incident: Incident, data: IncidentUpdate, actor: str,
                    clearance: TLP = TLP.RED, now: datetime | None = None) -> Incident:
    """Change fields; status and severity changes go on the timeline; every change is audited."""
    now = now or utcnow()
    requested = data.model_dump(exclude_unset=True)
    if "aware_at" in requested:
        _check_aware_at(requested["aware_at"], now)
    changes = {k: v for k, v in requested.items() if getattr(incident, k) != v}
    if "tlp" in changes:
        wanted, floor = parse_tlp(changes["tlp"]), tlp_floor(session, incident_id=incident.id)
        if wanted < floor:
            raise ValidationFailed(f"TLP kan ikke være lavere enn {floor.label}, den høyeste på koblede elementer")
        if wanted > clearance:
            raise ValidationFailed(f"du kan ikke merke en hendelse over din egen klarering ({clearance.label})")
        incident.tlp_rank = int(wanted)
    for field, value in changes.items():
        setattr(incident, field, value)
    if "status" in changes:
        incident.closed_at = now if changes["status"] == "closed" else None
        _event(session, incident, actor, "status", f"Status endret til {STATUS_NB[changes['status']]}.", now)
    if "severity" in changes:
        _event(session, incident, actor, "status",
               f"Alvorlighetsgrad endret til {SEVERITY_NB[changes['severity']]}.", now)
    if changes:
        incident.updated_at = now
        detail = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changes.items()}
        record(session, actor=actor, action="incident.update", entity_type="incident", entity_id=incident.id,
               **detail)
    session.flush()
    return incident


def add_event(session: Session, *, incident: Incident, kind: str, text: str, actor: str,
              deadline: str | None = None, at: datetime | None = None) -> IncidentEvent:
    """Add a note, a measure (tiltak) or a `report-sent` event naming one of the incident's deadlines."""
    text = text.strip()
    if kind not in ("note", "measure", "report-sent"):
        raise ValidationFailed(f"ukjent hendelsestype {kind!r}; gyldige: note, measure, report-sent")
    if kind in ("note", "measure") and not text:
        raise ValidationFailed("teksten kan ikke være tom")
    if kind == "report-sent":
        keys = clocks.deadline_keys(incident.reporting_model, personal_data=incident.personal_data)
        if deadline not in keys:
            raise ValidationFailed(f"ukjent frist {deadline!r} for modellen {incident.reporting_model}; "
                                   f"gyldige: {', '.join(keys)}")
        text = text or f"Rapport sendt ({deadline})."
    elif deadline:
        raise ValidationFailed("bare report-sent kan knyttes til en frist")
    event = _event(session, incident, actor, kind, text, at or utcnow(), deadline=deadline)
    if kind == "report-sent":
        record(session, actor=actor, action="incident.report_sent", entity_type="incident",
               entity_id=incident.id, deadline=deadline)
    session.flush()
    return event


def _event(session: Session, incident: Incident, actor: str, kind: str, text: str, at: datetime,
           deadline: str | None = None) -> IncidentEvent:
    event = IncidentEvent(incident_id=incident.id, at=at, actor=actor, kind=kind, text=text, deadline=deadline)
    session.add(event)
    return event


def add_constituent(session: Session, *, incident: Incident, constituent_id: int, actor: str,
                    now: datetime | None = None) -> bool:
    """Mark an organisation as affected; False if it already was."""
    constituent = session.get(Constituent, constituent_id)
    if constituent is None:
        raise NotFound(f"fant ingen virksomhet med id {constituent_id}")
    if session.get(IncidentConstituent, (incident.id, constituent_id)) is not None:
        return False
    now = now or utcnow()
    session.add(IncidentConstituent(incident_id=incident.id, constituent_id=constituent_id, added_by=actor,
                                    added_at=now))
    _event(session, incident, actor, "link", f"Berørt virksomhet lagt til: {constituent.name}.", now)
    record(session, actor=actor, action="incident.link", entity_type="incident", entity_id=incident.id,
           kind="constituent", target_id=constituent_id)
    return True


def timeline(session: Session, *, incident_id: int) -> list[IncidentEvent]:
    """The incident's timeline, oldest first."""
    return list(session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                                .order_by(IncidentEvent.at, IncidentEvent.id)))


def clocks_for(session: Session, incidents: Sequence[Incident]) -> dict[int, list[clocks.Deadline]]:
    """The deadlines of several incidents (one query for their report-sent events)."""
    ids = [i.id for i in incidents]
    sent: dict[int, list[tuple[str | None, datetime]]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(select(IncidentEvent.incident_id, IncidentEvent.deadline, IncidentEvent.at)
                               .where(IncidentEvent.incident_id.in_(ids), IncidentEvent.kind == "report-sent"))
        for incident_id, key, at in rows:
            sent[incident_id].append((key, at))
    return {i.id: clocks.deadlines(i.aware_at, i.reporting_model, personal_data=i.personal_data,
                                   reports=clocks.first_reports(sent[i.id])) for i in incidents}


def list_incidents(
    session: Session, *, tlp_max: TLP, status: str | None = None, severity: str | None = None,
    constituent_id: int | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Incident], int]:
    """Incidents the reader is cleared for, newest first, with the total before paging."""
    query = select(Incident).where(Incident.tlp_rank <= int(tlp_max))
    if status == "active":
        query = query.where(Incident.status != "closed")
    elif status:
        query = query.where(Incident.status == status)
    if severity:
        query = query.where(Incident.severity == severity)
    if constituent_id is not None:
        query = query.where(Incident.id.in_(select(IncidentConstituent.incident_id)
                                            .where(IncidentConstituent.constituent_id == constituent_id)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Incident.created_at.desc(), Incident.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), total


def active_with_overdue(session: Session, *, tlp_max: TLP, now: datetime | None = None,
                        ) -> list[tuple[Incident, list[clocks.Deadline]]]:
    """Incidents not closed that have at least one overdue deadline, each with those deadlines."""
    now = now or utcnow()
    active = list(session.scalars(select(Incident).where(Incident.tlp_rank <= int(tlp_max),
                                                         Incident.status != "closed")
                                  .order_by(Incident.aware_at)))
    found = clocks_for(session, active)
    return [(i, late) for i in active if (late := clocks.overdue(found[i.id], now))]
