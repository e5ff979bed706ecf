"""The figures of a situation report, computed with SQL aggregates (PostgreSQL and SQLite).

Only what is at or below the report's TLP ceiling is counted: items by `tlp_rank`, matches by their
item's rank, alerts by their own label (the highest of the items they carried).

Each figure is counted by when its event happened, not by when certmon stored it: advisories and KEV
entries by their publication (KEV: dateAdded), matches by their item's event time (published,
observed by the scan, or valid from), falling back to when certmon first saw the item; alerts by when
they were sent. So a week's exploitation counts in that week even when it was collected the next.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, distinct, func, select
from sqlalchemy.orm import Session

from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.registry.models import Constituent
from certmon.reports.periods import Period
from certmon.sources.models import Source, SourceRun
from certmon.tlp import TLP, max_tlp, parse_tlp

COUNTED_MATCH = ("new", "confirmed", "notified", "closed")  # not false positives, not retired
OK_OUTCOMES = ("ok", "not-modified", "running")
KEV_LIST_LIMIT = 10


@dataclass
class Trend:
    """A count in the period and in the period before."""

    current: int
    previous: int

    @property
    def change(self) -> int:
        """Current minus previous."""
        return self.current - self.previous


@dataclass
class Bar:
    """One bar of a chart: a label (a stored code or a name) and a count."""

    label: str
    value: int


@dataclass
class KevHit:
    """A known exploited vulnerability that matched constituents' product inventory."""

    cve: str
    title: str
    constituents: int
    tlp: str


@dataclass
class Figures:
    """Everything a report shows that is computed from the data."""

    ceiling: str
    tlp: str  # the highest TLP of anything counted
    start: datetime
    end: datetime
    previous_start: datetime
    previous_end: datetime
    advisories: Trend
    kev_added: Trend
    kev_matched: Trend
    matches: Trend
    constituents: Trend
    alerts_sent: Trend
    delivery_failures: Trend
    matches_by_rule: list[Bar] = field(default_factory=list)
    matches_by_severity: list[Bar] = field(default_factory=list)
    by_county: list[Bar] = field(default_factory=list)
    by_kind: list[Bar] = field(default_factory=list)
    by_health_region: list[Bar] = field(default_factory=list)
    kev_hits: list[KevHit] = field(default_factory=list)
    median_alert_minutes: float | None = None
    median_alert_minutes_previous: float | None = None
    median_ack_minutes: float | None = None
    median_fix_minutes: float | None = None
    acknowledged: int = 0
    fixed: int = 0
    sources_enabled: int = 0
    sources_failing: list[str] = field(default_factory=list)
    source_runs: int = 0
    source_runs_failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (datetimes as ISO 8601) for the API and the frozen archive."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


def _when(item: type[StoredItem] = StoredItem) -> ColumnElement[datetime]:
    """When an item's event happened: published (KEV: dateAdded), observed or valid from (all stored as
    `published_at`), else when certmon first saw it."""
    return func.coalesce(item.published_at, item.first_seen)


def _in(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return (column >= start) & (column < end)  # type: ignore[no-any-return]


def _kev_matched_ids(start: datetime, end: datetime, rank: int) -> Any:
    """Ids of KEV items added in the window that matched a constituent's product inventory."""
    return (select(StoredItem.id).join(Match, Match.item_id == StoredItem.id)
            .where(StoredItem.kind == "vulnerability", StoredItem.known_exploited.is_(True),
                   StoredItem.tlp_rank <= rank, _in(_when(), start, end), Match.rule == "product",
                   Match.status.in_(COUNTED_MATCH)))


def _counts(session: Session, start: datetime, end: datetime, rank: int) -> dict[str, int]:
    """The plain counts for one window."""
    visible = StoredItem.tlp_rank <= rank
    tlps = [t.value_str for t in TLP if t <= rank]

    def one(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    kev = (StoredItem.kind == "vulnerability") & StoredItem.known_exploited.is_(True)
    match_rows = (Match.status.in_(COUNTED_MATCH), _in(_when(), start, end), visible)
    return {
        "advisories": one(select(func.count(StoredItem.id)).where(
            StoredItem.kind == "advisory", visible, _in(_when(), start, end))),
        "kev_added": one(select(func.count(StoredItem.id)).where(kev, visible, _in(_when(), start, end))),
        "kev_matched": one(select(func.count(distinct(StoredItem.id))).where(
            StoredItem.id.in_(_kev_matched_ids(start, end, rank)))),
        "matches": one(select(func.count(Match.id)).join(StoredItem, StoredItem.id == Match.item_id)
                       .where(*match_rows)),
        "constituents": one(select(func.count(distinct(Match.constituent_id)))
                            .join(StoredItem, StoredItem.id == Match.item_id).where(*match_rows)),
        "alerts_sent": one(select(func.count(Notification.id)).where(
            _in(Notification.sent_at, start, end), Notification.tlp.in_(tlps))),
        "delivery_failures": one(select(func.count(Delivery.id))
                                 .join(Notification, Notification.id == Delivery.notification_id)
                                 .where(Delivery.status == "failed", _in(Delivery.created_at, start, end),
                                        Notification.tlp.in_(tlps))),
    }


def _grouped(session: Session, column: Any, start: datetime, end: datetime, rank: int,
             distinct_constituents: bool = False, *where: Any) -> list[Bar]:
    """Counted matches (or distinct constituents) in the window grouped by a column, largest first."""
    counted = func.count(distinct(Match.constituent_id)) if distinct_constituents else func.count(Match.id)
    stmt = (select(column, counted).select_from(Match)
            .join(StoredItem, StoredItem.id == Match.item_id)
            .join(Constituent, Constituent.id == Match.constituent_id)
            .where(Match.status.in_(COUNTED_MATCH), _in(_when(), start, end),
                   StoredItem.tlp_rank <= rank, *where)
            .group_by(column))
    rows = [(str(label) if label is not None else "", int(n)) for label, n in session.execute(stmt)]
    return [Bar(label, n) for label, n in sorted(rows, key=lambda r: (-r[1], r[0]))]


def _included_tlp(session: Session, start: datetime, end: datetime, rank: int) -> TLP:
    """The highest TLP of anything the window's figures count."""
    ranks = [
        session.scalar(select(func.max(StoredItem.tlp_rank)).where(
            StoredItem.tlp_rank <= rank, _in(_when(), start, end),
            (StoredItem.kind == "advisory") | StoredItem.known_exploited.is_(True))),
        session.scalar(select(func.max(StoredItem.tlp_rank)).join(Match, Match.item_id == StoredItem.id)
                       .where(StoredItem.tlp_rank <= rank, Match.status.in_(COUNTED_MATCH),
                              _in(_when(), start, end))),
    ]
    labels = [TLP(int(r)) for r in ranks if r is not None]
    sent = session.scalars(select(Notification.tlp).distinct().where(_in(Notification.sent_at, start, end)))
    labels += [t for t in (parse_tlp(s, TLP.RED) for s in sent) if t <= rank]
    return max_tlp(labels)


def _minutes(pairs: list[tuple[datetime | None, datetime | None]]) -> float | None:
    """Median of (later - earlier) in minutes, ignoring incomplete or negative pairs."""
    spans = [(b - a).total_seconds() / 60 for a, b in pairs if a is not None and b is not None and b >= a]
    return round(statistics.median(spans), 1) if spans else None


def _alert_minutes(session: Session, start: datetime, end: datetime, rank: int) -> float | None:
    """Median time from the first match of an alert to the alert being sent, for alerts sent in the window."""
    tlps = [t.value_str for t in TLP if t <= rank]
    stmt = (select(func.min(Match.created_at), Notification.sent_at)
            .join(NotificationMatch, NotificationMatch.notification_id == Notification.id)
            .join(Match, Match.id == NotificationMatch.match_id)
            .where(_in(Notification.sent_at, start, end), Notification.tlp.in_(tlps))
            .group_by(Notification.id, Notification.sent_at))
    return _minutes([(a, b) for a, b in session.execute(stmt)])


def _answers(session: Session, figures: Figures, start: datetime, end: datetime, rank: int) -> None:
    """Time to acknowledge (alerts sent in the window) and to fix (matches alerted in the window)."""
    tlps = [t.value_str for t in TLP if t <= rank]
    acks = [(a, b) for a, b in session.execute(
        select(Notification.sent_at, Notification.acknowledged_at).where(
            _in(Notification.sent_at, start, end), Notification.tlp.in_(tlps),
            Notification.acknowledged_at.is_not(None)))]
    fixes = [(a, b) for a, b in session.execute(
        select(Match.notified_at, Match.fixed_at).join(StoredItem, StoredItem.id == Match.item_id).where(
            _in(Match.notified_at, start, end), StoredItem.tlp_rank <= rank, Match.fixed_at.is_not(None)))]
    figures.acknowledged, figures.fixed = len(acks), len(fixes)
    figures.median_ack_minutes, figures.median_fix_minutes = _minutes(acks), _minutes(fixes)


def _kev_hits(session: Session, start: datetime, end: datetime, rank: int) -> list[KevHit]:
    """The KEV entries of the window that hit constituents' products, most constituents first."""
    stmt = (select(StoredItem.cve, StoredItem.title, StoredItem.key, StoredItem.tlp,
                   func.count(distinct(Match.constituent_id)))
            .join(Match, Match.item_id == StoredItem.id)
            .where(StoredItem.id.in_(_kev_matched_ids(start, end, rank)), Match.rule == "product",
                   Match.status.in_(COUNTED_MATCH))
            .group_by(StoredItem.id, StoredItem.cve, StoredItem.title, StoredItem.key, StoredItem.tlp))
    hits = [KevHit(cve or key, title or "", int(n), tlp) for cve, title, key, tlp, n in session.execute(stmt)]
    return sorted(hits, key=lambda h: (-h.constituents, h.cve))[:KEV_LIST_LIMIT]


def _sources(session: Session, figures: Figures, start: datetime, end: datetime) -> None:
    """Source health now, and collection runs in the window."""
    enabled = list(session.execute(select(Source.name, Source.consecutive_failures)
                                   .where(Source.enabled.is_(True)).order_by(Source.name)))
    figures.sources_enabled = len(enabled)
    figures.sources_failing = [name for name, failures in enabled if failures > 0]
    runs = select(func.count(SourceRun.id)).where(_in(SourceRun.started_at, start, end))
    figures.source_runs = int(session.scalar(runs) or 0)
    figures.source_runs_failed = int(session.scalar(runs.where(SourceRun.outcome.not_in(OK_OUTCOMES))) or 0)


def compute_figures(session: Session, *, period: Period, ceiling: TLP) -> Figures:
    """Every figure of a report for a period, counting nothing above `ceiling` (RED never)."""
    rank = int(min(ceiling, TLP.AMBER_STRICT))
    start, end = period.start_utc, period.end_utc
    before = period.previous()
    now, prev = _counts(session, start, end, rank), _counts(session, before.start_utc, before.end_utc, rank)
    def trend(key: str) -> Trend:
        return Trend(now[key], prev[key])

    figures = Figures(ceiling=TLP(rank).value_str, tlp=_included_tlp(session, start, end, rank).value_str,
                      start=start, end=end, previous_start=before.start_utc, previous_end=before.end_utc,
                      advisories=trend("advisories"), kev_added=trend("kev_added"),
                      kev_matched=trend("kev_matched"), matches=trend("matches"),
                      constituents=trend("constituents"), alerts_sent=trend("alerts_sent"),
                      delivery_failures=trend("delivery_failures"))
    figures.matches_by_rule = _grouped(session, Match.rule, start, end, rank)
    figures.matches_by_severity = _grouped(session, Match.severity, start, end, rank)
    figures.by_county = _grouped(session, Constituent.county_name, start, end, rank, True,
                                 Constituent.county_name.is_not(None))
    figures.by_kind = _grouped(session, Constituent.kind, start, end, rank, True)
    figures.by_health_region = _grouped(session, Constituent.region, start, end, rank, True,
                                        Constituent.kind.in_(("rhf", "hf")), Constituent.region.is_not(None))
    figures.kev_hits = _kev_hits(session, start, end, rank)
    figures.median_alert_minutes = _alert_minutes(session, start, end, rank)
    figures.median_alert_minutes_previous = _alert_minutes(session, before.start_utc, before.end_utc, rank)
    _answers(session, figures, start, end, rank)
    _sources(session, figures, start, end)
    return figures
