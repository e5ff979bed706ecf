"""Links from an incident to constituents, items and matches; the TLP floor they impose."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.db import utcnow
from certmon.errors import NotFound, ValidationFailed
from certmon.incidents.models import Incident, IncidentConstituent, IncidentEvent, IncidentItem, IncidentMatch
from certmon.incidents.service import add_constituent
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.registry.models import Constituent
from certmon.tlp import TLP

LINK_KINDS = ("constituent", "item", "match")


@dataclass
class Links:
    """What an incident is linked to, filtered by the reader's clearance."""

    constituents: list[Constituent] = field(default_factory=list)
    items: list[StoredItem] = field(default_factory=list)
    matches: list[tuple[Match, StoredItem, Constituent]] = field(default_factory=list)


def _raise_tlp(session: Session, incident: Incident, item: StoredItem, actor: str, now: datetime) -> None:
    """An incident is never marked below what it links to."""
    if item.tlp_rank > incident.tlp_rank:
        old = TLP(incident.tlp_rank)
        incident.tlp, incident.tlp_rank = TLP(item.tlp_rank).value_str, item.tlp_rank
        session.add(IncidentEvent(incident_id=incident.id, at=now, actor=actor, kind="link",
                                  text=f"TLP hevet fra {old.label} til {TLP(item.tlp_rank).label} "
                                       "på grunn av et koblet element."))
        record(session, actor=actor, action="incident.tlp_raised", entity_type="incident",
               entity_id=incident.id, tlp=incident.tlp, item_id=item.id)


def _visible_item(session: Session, item_id: int, clearance: TLP) -> StoredItem:
    item = session.get(StoredItem, item_id)
    if item is None or item.tlp_rank > int(clearance):
        raise NotFound(f"fant ikke element med id {item_id}")
    return item


def link(session: Session, *, incident: Incident, kind: str, target_id: int, actor: str, clearance: TLP,
         now: datetime | None = None) -> bool:
    """Link a constituent, item or match (a match also marks its organisation affected); False if linked."""
    now = now or utcnow()
    if kind == "constituent":
        return add_constituent(session, incident=incident, constituent_id=target_id, actor=actor, now=now)
    if kind == "item":
        item = _visible_item(session, target_id, clearance)
        if session.get(IncidentItem, (incident.id, item.id)) is not None:
            return False
        session.add(IncidentItem(incident_id=incident.id, item_id=item.id, added_by=actor, added_at=now))
        text = f"Element koblet: {item.title or item.value or item.cve or item.key}."
    elif kind == "match":
        match = session.get(Match, target_id)
        if match is None:
            raise NotFound(f"fant ikke treff med id {target_id}")
        item = _visible_item(session, match.item_id, clearance)
        if session.get(IncidentMatch, (incident.id, match.id)) is not None:
            return False
        session.add(IncidentMatch(incident_id=incident.id, match_id=match.id, added_by=actor, added_at=now))
        add_constituent(session, incident=incident, constituent_id=match.constituent_id, actor=actor, now=now)
        text = f"Treff koblet: {match.explanation}"
    else:
        raise ValidationFailed(f"ukjent koblingstype {kind!r}; gyldige: {', '.join(LINK_KINDS)}")
    session.add(IncidentEvent(incident_id=incident.id, at=now, actor=actor, kind="link", text=text))
    _raise_tlp(session, incident, item, actor, now)
    record(session, actor=actor, action="incident.link", entity_type="incident", entity_id=incident.id,
           kind=kind, target_id=target_id)
    session.flush()
    return True


def unlink(session: Session, *, incident: Incident, kind: str, target_id: int, actor: str,
           now: datetime | None = None) -> None:
    """Remove a link (the incident's TLP is not lowered automatically)."""
    model = {"constituent": IncidentConstituent, "item": IncidentItem, "match": IncidentMatch}.get(kind)
    if model is None:
        raise ValidationFailed(f"ukjent koblingstype {kind!r}; gyldige: {', '.join(LINK_KINDS)}")
    row = session.get(model, (incident.id, target_id))
    if row is None:
        raise NotFound(f"hendelsen er ikke koblet til {kind} {target_id}")
    session.delete(row)
    labels = {"constituent": "Berørt virksomhet", "item": "Element", "match": "Treff"}
    session.add(IncidentEvent(incident_id=incident.id, at=now or utcnow(), actor=actor, kind="link",
                              text=f"{labels[kind]} {target_id} fjernet fra hendelsen."))
    record(session, actor=actor, action="incident.unlink", entity_type="incident", entity_id=incident.id,
           kind=kind, target_id=target_id)
    session.flush()


def linked(session: Session, *, incident_id: int, clearance: TLP) -> Links:
    """The incident's constituents, items and matches the reader may see."""
    constituents = session.scalars(select(Constituent).join(
        IncidentConstituent, IncidentConstituent.constituent_id == Constituent.id)
        .where(IncidentConstituent.incident_id == incident_id).order_by(Constituent.name))
    items = session.scalars(select(StoredItem).join(IncidentItem, IncidentItem.item_id == StoredItem.id)
                            .where(IncidentItem.incident_id == incident_id,
                                   StoredItem.tlp_rank <= int(clearance))
                            .order_by(IncidentItem.added_at))
    matches = session.execute(select(Match, StoredItem, Constituent)
                              .join(IncidentMatch, IncidentMatch.match_id == Match.id)
                              .join(StoredItem, StoredItem.id == Match.item_id)
                              .join(Constituent, Constituent.id == Match.constituent_id)
                              .where(IncidentMatch.incident_id == incident_id,
                                     StoredItem.tlp_rank <= int(clearance))
                              .order_by(IncidentMatch.added_at))
    return Links(list(constituents), list(items), [(m, i, c) for m, i, c in matches])

