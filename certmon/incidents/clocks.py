"""Reporting clocks: the deadlines an incident starts at the moment of awareness (pure functions).

Product interpretations (see docs/incidents.md):
- "straks" (HOD, immediately) is due one hour after awareness;
- hour limits (24 h, 72 h) are elapsed time, so they shift on the Oslo wall clock across a DST change;
- "1 month" (NIS2 final report) is the same Oslo wall-clock time one calendar month later, on the last
  day of a shorter month; a wall-clock time that does not exist (spring forward) moves forward an hour.
  NIS2 counts the month from the incident notification, which is never before awareness, so counting
  from awareness is never later than the law allows.
- a deadline is met when a `report-sent` timeline event with its key was recorded at or before due_at.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
MODELS = ("norsk", "nis2")


@dataclass(frozen=True)
class DeadlineRule:
    """One reporting obligation: a key, its bokmål name, and when it falls due after awareness."""

    key: str
    name: str
    hours: int = 0
    months: int = 0
    personal_data_only: bool = False


RULES: dict[str, tuple[DeadlineRule, ...]] = {
    "norsk": (
        DeadlineRule("hod-straks", "HOD straks", hours=1),
        DeadlineRule("nsm-24h", "NSM 24 t", hours=24),
        DeadlineRule("datatilsynet-72h", "Datatilsynet 72 t", hours=72, personal_data_only=True),
    ),
    "nis2": (
        DeadlineRule("nis2-24h", "Tidlig varsel 24 t", hours=24),
        DeadlineRule("nis2-72h", "Hendelsesvarsel 72 t", hours=72),
        DeadlineRule("nis2-1m", "Sluttrapport 1 mnd", months=1),
    ),
}
DEADLINE_KEYS: tuple[str, ...] = tuple(rule.key for rules in RULES.values() for rule in rules)


@dataclass(frozen=True)
class Deadline:
    """A deadline of one incident: due time and, if reported, when the report was recorded."""

    key: str
    name: str
    due_at: datetime
    sent_at: datetime | None = None

    @property
    def met(self) -> bool:
        """True when the report was recorded at or before the due time."""
        return self.sent_at is not None and self.sent_at <= self.due_at

    def state(self, now: datetime) -> str:
        """`met`, `late` (reported after due), `overdue` (not reported, past due) or `open`."""
        if self.sent_at is not None:
            return "met" if self.met else "late"
        return "overdue" if now > self.due_at else "open"

    def remaining(self, now: datetime) -> timedelta:
        """Time left until due (negative when past due)."""
        return self.due_at - now


def add_months(moment: datetime, months: int) -> datetime:
    """The same Oslo wall-clock time `months` calendar months later, as UTC (clamped to month end)."""
    local = moment.astimezone(OSLO)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    wall = local.replace(tzinfo=None, year=year, month=month, day=day)
    # fold=0 reads an ambiguous or missing wall time with the offset in force before the change
    return wall.replace(tzinfo=OSLO, fold=0).astimezone(UTC)


def due_at(rule: DeadlineRule, aware_at: datetime) -> datetime:
    """When `rule` falls due for an incident known since `aware_at`."""
    aware = _utc(aware_at)
    if rule.months:
        return add_months(aware, rule.months)
    return aware + timedelta(hours=rule.hours)


def deadlines(aware_at: datetime, model: str, *, personal_data: bool = False,
              reports: Mapping[str, datetime] | None = None) -> list[Deadline]:
    """The deadlines of an incident, earliest first; `reports` maps deadline key → first report time."""
    if model not in RULES:
        raise ValueError(f"ukjent rapporteringsmodell {model!r}; gyldige: {', '.join(MODELS)}")
    reports = reports or {}
    found = [
        Deadline(rule.key, rule.name, due_at(rule, aware_at),
                 _utc(reports[rule.key]) if rule.key in reports else None)
        for rule in RULES[model] if personal_data or not rule.personal_data_only
    ]
    return sorted(found, key=lambda d: d.due_at)


def next_open(found: list[Deadline]) -> Deadline | None:
    """The earliest deadline without a recorded report (overdue ones included), or None."""
    return next((d for d in sorted(found, key=lambda d: d.due_at) if d.sent_at is None), None)


def overdue(found: list[Deadline], now: datetime) -> list[Deadline]:
    """Deadlines past due with no report recorded."""
    return [d for d in found if d.state(_utc(now)) == "overdue"]


def first_reports(events: list[tuple[str | None, datetime]]) -> dict[str, datetime]:
    """From (deadline key, time) of report-sent events: the earliest report per key."""
    first: dict[str, datetime] = {}
    for key, at in events:
        if key and (key not in first or at < first[key]):
            first[key] = at
    return first


def deadline_keys(model: str, *, personal_data: bool = True) -> list[str]:
    """The deadline keys a model uses (all of them when personal data is involved)."""
    return [r.key for r in RULES.get(model, ()) if personal_data or not r.personal_data_only]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
