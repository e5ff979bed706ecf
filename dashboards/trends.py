"""The situation picture's trends: the last 30 days, day by day in Norwegian time (TLP-filtered).

Each series has one definition, printed under its chart: new matches by the day certmon made them,
alerts by the day they were sent and the day they were answered, sources by the days on which at
least one of their runs failed. Counts are grouped by hour in SQL and folded into Oslo days here, so
the days are right across the change to and from summer time on both databases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certmon.db import utcnow
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Notification
from certmon.notify.service import notification_tlp_rank
from certmon.sources.models import SourceRun
from certmon.tlp import TLP
from dashboards.formatting import OSLO

DAYS = 30
SEVERITIES = ("critical", "high", "medium", "low", "info")
FAILED = ("ok", "not-modified", "running", "refused", "skipped")  # outcomes that are not failures


@dataclass
class Trends:
    """Per-day counts for the last `DAYS` days (oldest first)."""

    days: list[date]
    matches: dict[str, list[int]] = field(default_factory=dict)  # severity -> per day
    alerts_sent: list[int] = field(default_factory=list)
    alerts_answered: list[int] = field(default_factory=list)
    sources_failing: list[int] = field(default_factory=list)

    def total(self, series: Iterable[int]) -> int:
        """Sum of one series (for the text beside a chart)."""
        return sum(series)


def _hour(session: Session, column: Any) -> Any:
    """`column` truncated to its UTC hour as text, on PostgreSQL and SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def _oslo_day(hour: str) -> date:
    return datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(OSLO).date()


def _fold(rows: Iterable[Any], days: list[date]) -> list[int]:
    """(hour, count) rows as counts per Oslo day."""
    index = {d: i for i, d in enumerate(days)}
    out = [0] * len(days)
    for hour, count in rows:
        slot = index.get(_oslo_day(str(hour)))
        if slot is not None:
            out[slot] += int(count)
    return out


def trends(session: Session, *, ceiling: TLP, now: datetime | None = None) -> Trends:
    """The last 30 days of matches by severity, alerts sent and answered, and failing sources."""
    today = (now or utcnow()).astimezone(OSLO).date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    since = datetime.combine(days[0], datetime.min.time(), OSLO).astimezone(UTC)
    out = Trends(days=days)
    hour = _hour(session, Match.created_at)
    by_severity: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for severity, at, count in session.execute(
            select(Match.severity, hour, func.count(Match.id)).join(StoredItem, StoredItem.id == Match.item_id)
            .where(Match.created_at >= since, StoredItem.tlp_rank <= int(ceiling),
                   Match.status.not_in(("false_positive", "retired")))
            .group_by(Match.severity, hour)):
        by_severity[severity if severity in SEVERITIES else "info"].append((at, count))
    out.matches = {s: _fold(by_severity.get(s, []), days) for s in SEVERITIES}
    visible = notification_tlp_rank <= int(ceiling)
    for column, target in ((Notification.sent_at, out.alerts_sent), (Notification.acknowledged_at,
                                                                     out.alerts_answered)):
        h = _hour(session, column)
        target += _fold(session.execute(select(h, func.count(Notification.id))
                                        .where(column >= since, visible, Notification.mode != "reminder")
                                        .group_by(h)), days)
    failing: dict[date, set[int]] = defaultdict(set)
    h = _hour(session, SourceRun.started_at)
    for at, source_id in session.execute(select(h, SourceRun.source_id).distinct()
                                         .where(SourceRun.started_at >= since,
                                                SourceRun.outcome.not_in(FAILED))):
        failing[_oslo_day(str(at))].add(source_id)
    out.sources_failing = [len(failing.get(d, ())) for d in days]
    return out

