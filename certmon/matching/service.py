"""Matching services: the cached engine, storing matches, re-matching, triage and the read side."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from certmon.audit.service import record
from certmon.db import utcnow
from certmon.dbutil import insert_ignoring_conflicts
from certmon.errors import NotFound, ValidationFailed
from certmon.items.models import StoredItem
from certmon.items.schemas import Item, item_from_dict
from certmon.matching.engine import MatchEngine
from certmon.matching.models import Match
from certmon.matching.snapshot import AssetRef, ConstituentRef, MatchResult, RegistrySnapshot
from certmon.matching.state import REMATCHED_KEY, rematched
from certmon.registry.models import Asset, Constituent
from certmon.registry.service import display_name, registry_version

CHUNK = 2000
_cache: dict[str, MatchEngine] = {}
_cache_lock = threading.Lock()


def _names(c: Constituent) -> tuple[str, ...]:
    names = {display_name(c)}
    if c.name_alt:
        names.update(part.strip() for part in c.name_alt.split(" - ") if part.strip())
    if c.kind == "kommune":
        names.add(f"{c.name} herad")
    if c.kind == "hf" and c.name.endswith(" HF"):
        names.add(c.name[:-3])
    return tuple(sorted(names))


def build_snapshot(session: Session) -> RegistrySnapshot:
    """Read the registry into the engine's snapshot form."""
    constituents = list(session.scalars(select(Constituent)))
    by_org = {c.org_number: c.id for c in constituents if c.org_number}
    assets = []
    for a in session.scalars(select(Asset)):
        value = a.value
        if a.type == "supplier":
            supplier_id = by_org.get(a.value)
            if supplier_id is None:
                continue
            value = str(supplier_id)
        assets.append(AssetRef(id=a.id, constituent_id=a.constituent_id, type=a.type, value=value))
    refs = [ConstituentRef(id=c.id, org_number=c.org_number, name=display_name(c), kind=c.kind,
                           names=_names(c)) for c in constituents]
    return RegistrySnapshot(version=registry_version(session), constituents=refs, assets=assets)


def engine_for(session: Session) -> MatchEngine:
    """The engine for the registry's current version; rebuilt (once per process) when it changes."""
    version = registry_version(session)
    with _cache_lock:
        engine = _cache.get(version)
        if engine is None:
            engine = MatchEngine.build(build_snapshot(session))
            _cache.clear()
            _cache[version] = engine
        return engine


@dataclass
class MatchRun:
    """What a matching pass changed."""

    new_ids: list[int] = field(default_factory=list)
    updated: int = 0
    retired: int = 0
    version: str = ""  # the registry version the items were matched against


def _as_items(rows: Sequence[tuple[int, dict]]) -> list[Item]:
    items = []
    for item_id, data in rows:
        item = item_from_dict(data)
        items.append(msgspec.structs.replace(item, key=str(item_id)))  # keys are unique per source only
    return items


def match_items(session: Session, *, item_ids: Sequence[int], now: datetime | None = None) -> MatchRun:
    """Match stored items and reconcile their matches: add new, refresh changed, retire stale."""
    engine = engine_for(session)
    run = MatchRun(version=engine.version)
    now = now or utcnow()
    for start in range(0, len(item_ids), CHUNK):
        chunk = list(item_ids[start:start + CHUNK])
        rows = session.execute(select(StoredItem.id, StoredItem.data, StoredItem.severity)
                               .where(StoredItem.id.in_(chunk))).all()
        items = _as_items([(r[0], r[1]) for r in rows])
        results = engine.match_many(items)
        severities = {r[0]: r[2] for r in rows}
        _reconcile(session, chunk, results, severities, run, now, engine,
                   {int(i.key): i for i in items if i.products})
    return run


def _reconcile(session: Session, item_ids: list[int], results: Sequence[MatchResult],
               severities: dict[int, str | None], run: MatchRun, now: datetime,
               engine: MatchEngine | None = None, items: dict[int, Item] | None = None) -> None:
    existing = {(m.item_id, m.constituent_id, m.rule): m
                for m in session.scalars(select(Match).where(Match.item_id.in_(item_ids)))}
    suppressed = {(m.item_id, m.constituent_id) for m in existing.values() if m.status == "false_positive"}
    wanted = set()
    fresh = []
    for r in results:
        item_id = int(r.item_key)
        key = (item_id, r.constituent_id, r.rule)
        wanted.add(key)
        severity = r.severity or severities.get(item_id) or "medium"
        m = existing.get(key)
        if m is None:
            if (item_id, r.constituent_id) in suppressed:
                continue
            fresh.append({"item_id": item_id, "constituent_id": r.constituent_id, "rule": r.rule,
                          "asset": r.asset, "asset_id": r.asset_id, "confidence": r.confidence,
                          "explanation": r.explanation, "severity": severity, "status": "new",
                          "product_status": r.status, "created_at": now, "updated_at": now})
        elif (m.asset, m.confidence, m.explanation, m.product_status) != (r.asset, r.confidence, r.explanation,
                                                                          r.status) or m.status == "retired":
            m.asset, m.asset_id, m.confidence, m.explanation = r.asset, r.asset_id, r.confidence, r.explanation
            m.severity, m.product_status = severity, r.status
            if m.status == "retired":
                m.status = "new"
            run.updated += 1
    if fresh:  # a concurrent run may have inserted the same match: skip it, never fail the run
        stmt = insert_ignoring_conflicts(session, Match).returning(Match.id)
        run.new_ids.extend(session.scalars(stmt, fresh).all())
    cleared: dict[int, dict[int, str]] = {}
    for key, m in existing.items():
        if key not in wanted and m.status in ("new", "confirmed"):
            reason = "støttes ikke lenger av registeret eller elementet"
            if m.rule == "product" and engine is not None and items is not None and m.item_id in items:
                if m.item_id not in cleared:  # a later revision: the vendor now says fixed / not affected
                    cleared[m.item_id] = engine.cleared(items[m.item_id])
                said = cleared[m.item_id].get(m.constituent_id)
                if said:
                    revision = items[m.item_id].extra.get("revision")
                    reason = f"{said}{f' (revisjon {revision})' if revision else ''}"
            m.status, m.status_reason = "retired", reason
            run.retired += 1


def _retire_revoked(session: Session) -> int:
    revoked = select(StoredItem.id).where(StoredItem.revoked.is_(True))
    result = session.execute(
        update(Match).where(Match.item_id.in_(revoked), Match.status.in_(("new", "confirmed")))
        .values(status="retired", status_reason="elementet er trukket tilbake av kilden"))
    return int(getattr(result, "rowcount", 0) or 0)


TRIAGE = {"confirm": "confirmed", "false-positive": "false_positive", "reopen": "new", "close": "closed"}


def triage(session: Session, *, match_id: int, action: str, actor: str, reason: str | None = None) -> Match:
    """Confirm, mark false positive (with a reason), reopen or close a match; audited."""
    m = session.get(Match, match_id)
    if m is None:
        raise NotFound(f"fant ingen treff med id {match_id}")
    if action not in TRIAGE:
        raise ValidationFailed(f"ukjent handling {action!r}; gyldige: {', '.join(TRIAGE)}")
    if action == "false-positive" and not (reason or "").strip():
        raise ValidationFailed("falsk positiv krever en begrunnelse")
    before = m.status
    m.status, m.status_reason = TRIAGE[action], reason
    record(session, actor=actor, action=f"match.{action}", entity_type="match", entity_id=m.id,
           before=before, after=m.status, reason=reason)
    if m.status == "confirmed" and before != "confirmed":
        # product and name matches wait for an analyst; confirming one makes it eligible for an alert
        from certmon.notify.outbox import queue_alerts

        session.flush()
        queue_alerts(session, match_ids=[m.id])
    return m


REMATCH_CHUNK = 10_000


def rematch_if_changed(
    factory: sessionmaker[Session], *, force: bool = False, progress: Callable[[int, int], None] | None = None,
) -> MatchRun | None:
    """Re-match history when the registry changed since the last re-match (or always with `force`):
    new matches are added and alerted, stale ones retired. Each chunk is its own transaction so
    collection is never blocked for long. None when nothing had changed."""
    from certmon.notify.outbox import queue_alerts
    from certmon.registry.models import AppState

    with factory.begin() as session:
        version = registry_version(session)
        done = session.get(AppState, REMATCHED_KEY)
        seen = done.value if done is not None else None
        if not force and seen == version:
            return None
        ids = list(session.scalars(select(StoredItem.id).where(StoredItem.revoked.is_(False))
                                   .order_by(StoredItem.id)))
    total = MatchRun()
    for start in range(0, len(ids), REMATCH_CHUNK):
        with factory.begin() as session:
            part = match_items(session, item_ids=ids[start:start + REMATCH_CHUNK])
            if part.new_ids:
                queue_alerts(session, match_ids=part.new_ids)
        total.new_ids += part.new_ids
        total.updated += part.updated
        total.retired += part.retired
        if progress is not None:
            progress(min(start + REMATCH_CHUNK, len(ids)), len(ids))
    with factory.begin() as session:
        total.retired += _retire_revoked(session)
        rematched(session, version=version, seen=seen)
    return total


MATCH_SORTS = ("severity", "time", "organisation", "source")


def match_order(sort: str) -> list[Any]:
    """ORDER BY for a match list: severity (then known exploitation, then time), time, organisation or source."""
    rank = case({"critical": 4, "high": 3, "medium": 2, "low": 1}, value=Match.severity, else_=0)
    newest = [Match.created_at.desc(), Match.id.desc()]
    if sort == "severity":
        return [rank.desc(), StoredItem.known_exploited.desc(), *newest]
    if sort == "organisation":
        return [Constituent.name, rank.desc(), *newest]
    if sort == "source":
        return [StoredItem.source_id, rank.desc(), *newest]
    return newest


def list_matches(
    session: Session, *, tlp_max: int, constituent_id: int | None = None, rule: str | None = None,
    status: str | None = None, severity: str | None = None, source_id: int | None = None,
    since: datetime | None = None, limit: int = 50, offset: int = 0, sort: str = "time",
) -> tuple[list[tuple[Match, StoredItem, Constituent]], int]:
    """Matches joined with their item and constituent, filtered, within the reader's TLP; newest first
    unless `sort` says severity (then known exploitation, then time), organisation or source."""
    stmt = (select(Match, StoredItem, Constituent).join(StoredItem, StoredItem.id == Match.item_id)
            .join(Constituent, Constituent.id == Match.constituent_id)
            .where(StoredItem.tlp_rank <= tlp_max))
    for column, value in ((Match.constituent_id, constituent_id), (Match.rule, rule),
                          (Match.status, status), (Match.severity, severity),
                          (StoredItem.source_id, source_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(Match.created_at >= since)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(*match_order(sort)).limit(limit).offset(offset))
    return [tuple(r) for r in rows], total  # type: ignore[misc]
