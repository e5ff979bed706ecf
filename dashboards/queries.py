"""Small read queries the dashboard needs that the core services do not offer (all TLP-filtered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certmon.audit.models import AuditEntry
from certmon.db import utcnow
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Delivery, Notification
from certmon.notify.service import list_notifications
from certmon.registry.models import Asset, Constituent, Contact
from certmon.sources.models import Source
from certmon.tlp import TLP


def visible_tlps(ceiling: TLP) -> list[str]:
    """The stored TLP strings at or below a ceiling."""
    return [t.value_str for t in TLP if t <= ceiling]


@dataclass
class KeyFigures:
    """The numbers at the top of Situasjonsbilde."""

    advisories_7d: int
    known_exploited: int
    matches_new: int
    alerts_sent_7d: int
    sources_unhealthy: int
    alerts_unanswered: int = 0
    matches_new_critical: int = 0  # awaiting triage, severity critical
    matches_new_high: int = 0
    alerts_unanswered_critical: int = 0
    matches_new_hidden: int = 0  # new matches of items above the reader's clearance (counted, not shown)


def key_figures(session: Session, *, ceiling: TLP) -> KeyFigures:
    """Counts for the situation picture, within the reader's clearance."""
    week_ago = utcnow() - timedelta(days=7)
    visible = StoredItem.tlp_rank <= int(ceiling)
    live = StoredItem.revoked.is_(False)

    def count_items(*conds: object) -> int:
        return session.scalar(select(func.count(StoredItem.id)).where(visible, live, *conds)) or 0  # type: ignore[arg-type]

    new_by_severity = dict(session.execute(  # type: ignore[arg-type]
        select(Match.severity, func.count(Match.id)).join(StoredItem, StoredItem.id == Match.item_id)
        .where(visible, Match.status == "new").group_by(Match.severity)).all())
    matches_new = sum(new_by_severity.values())
    all_new = session.scalar(select(func.count(Match.id)).where(Match.status == "new")) or 0
    alerts = session.scalar(select(func.count(Notification.id)).where(
        Notification.sent_at >= week_ago, Notification.tlp.in_(visible_tlps(ceiling)))) or 0
    unanswered = list_notifications(session, tlp_max=ceiling, unanswered=True, limit=1)[1]
    unanswered_critical = list_notifications(session, tlp_max=ceiling, unanswered=True, severity="critical",
                                             limit=1)[1]
    unhealthy = session.scalar(select(func.count(Source.id)).where(
        Source.enabled.is_(True), Source.consecutive_failures > 0)) or 0
    return KeyFigures(
        advisories_7d=count_items(StoredItem.kind == "advisory", StoredItem.first_seen >= week_ago),
        known_exploited=count_items(StoredItem.kind == "vulnerability", StoredItem.known_exploited.is_(True)),
        matches_new=matches_new, alerts_sent_7d=alerts, sources_unhealthy=unhealthy, alerts_unanswered=unanswered,
        matches_new_critical=new_by_severity.get("critical", 0), matches_new_high=new_by_severity.get("high", 0),
        alerts_unanswered_critical=unanswered_critical, matches_new_hidden=all_new - matches_new)


@dataclass
class SourceNote:
    """What /kilder says beside a source: why it is off, and when it runs next."""

    disabled_by: str | None = None  # who switched it off (audit), if anyone did
    disabled_at: datetime | None = None
    next_run: datetime | None = None  # None: not scheduled (disabled) or due at the next scheduler tick


def source_notes(session: Session, sources: list[Source]) -> dict[int, SourceNote]:
    """Per source: the audited switch-off (the newest update that set enabled to false) and the next run."""
    offs: dict[str, tuple[str, datetime]] = {}
    for entity_id, actor, at, detail in session.execute(
            select(AuditEntry.entity_id, AuditEntry.actor, AuditEntry.at, AuditEntry.detail)
            .where(AuditEntry.entity_type == "source", AuditEntry.action == "source.update")
            .order_by(AuditEntry.at)):
        if isinstance(detail, dict) and "enabled" in detail:
            if detail["enabled"] is False:
                offs[entity_id] = (actor, at)
            else:
                offs.pop(entity_id, None)
    notes = {}
    for s in sources:
        who = offs.get(str(s.id)) if not s.enabled else None
        due = s.last_run_at + timedelta(seconds=s.interval_s) if s.enabled and s.last_run_at else None
        notes[s.id] = SourceNote(disabled_by=who[0] if who else None, disabled_at=who[1] if who else None,
                                 next_run=due)
    return notes


def source_titles(session: Session) -> dict[int, str]:
    """Every source's display name (its title, else its key) by id, for rows that name their source."""
    return {i: title or name for i, name, title in session.execute(select(Source.id, Source.name, Source.title))}


def counties(session: Session) -> list[tuple[str, str]]:
    """(county number, county name) pairs present in the registry, by number."""
    rows = session.execute(select(Constituent.county_number, func.max(Constituent.county_name))
                           .where(Constituent.county_number.is_not(None))
                           .group_by(Constituent.county_number).order_by(Constituent.county_number))
    return [(str(num), str(name or num)) for num, name in rows]


def matched_constituents(session: Session, *, ceiling: TLP) -> list[Constituent]:
    """Constituents that have at least one visible match (for the Treff filter)."""
    ids = (select(Match.constituent_id).join(StoredItem, StoredItem.id == Match.item_id)
           .where(StoredItem.tlp_rank <= int(ceiling)))
    stmt = select(Constituent).where(Constituent.id.in_(ids)).order_by(Constituent.name)
    return list(session.scalars(stmt))


def matches_for_item(session: Session, *, item_id: int) -> list[tuple[Match, Constituent]]:
    """Every match of one item with its constituent."""
    rows = session.execute(select(Match, Constituent)
                           .join(Constituent, Constituent.id == Match.constituent_id)
                           .where(Match.item_id == item_id).order_by(Constituent.name))
    return [(m, c) for m, c in rows]


def assets_of(session: Session, *, constituent_id: int) -> list[Asset]:
    """A constituent's assets by type and value."""
    return list(session.scalars(select(Asset).where(Asset.constituent_id == constituent_id)
                                .order_by(Asset.type, Asset.value)))


def contacts_of(session: Session, *, constituent_id: int) -> list[Contact]:
    """A constituent's contacts (read-only in the dashboard)."""
    return list(session.scalars(select(Contact).where(Contact.constituent_id == constituent_id)
                                .order_by(Contact.email)))


def list_visible_notifications(
    session: Session, *, ceiling: TLP, status: str | None = None, constituent_id: int | None = None,
    unanswered: bool = False, severity: str | None = None, limit: int = 25, offset: int = 0,
) -> tuple[list[tuple[Notification, Constituent]], int]:
    """Notifications the reader is cleared for, newest first, each with its constituent."""
    rows, total = list_notifications(session, status=status, constituent_id=constituent_id, tlp_max=ceiling,
                                     unanswered=unanswered, severity=severity, limit=limit, offset=offset)
    ids = {n.constituent_id for n in rows}
    owners = {c.id: c for c in session.scalars(select(Constituent).where(Constituent.id.in_(ids)))}
    return [(n, owners[n.constituent_id]) for n in rows], total


def deliveries_by_notification(session: Session, ids: list[int]) -> dict[int, list[Delivery]]:
    """Recipients of several notifications in one query."""
    out: dict[int, list[Delivery]] = {i: [] for i in ids}
    if ids:
        stmt = select(Delivery).where(Delivery.notification_id.in_(ids)).order_by(Delivery.id)
        for d in session.scalars(stmt):
            out[d.notification_id].append(d)
    return out
