"""Digest slots: the next business day at a set time in Europe/Oslo, Norwegian public holidays skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

OSLO = ZoneInfo("Europe/Oslo")


@lru_cache(maxsize=32)
def _holidays(year: int) -> frozenset[date]:
    # include_sundays=False: Sundays are excluded by the weekday test anyway, and the flag keeps the
    # list to real public holidays (skjærtorsdag, langfredag, 2. påskedag, Kristi himmelfart, …).
    calendar = holidays.country_holidays("NO", years=year, include_sundays=False)
    return frozenset(calendar.keys())


def is_business_day(day: date) -> bool:
    """Monday–Friday and not a Norwegian public holiday."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_digest_slot(now: datetime, at: time = time(8, 0)) -> datetime:
    """The first business-day `at` (Oslo time) strictly after `now`, returned in UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(OSLO)
    day = local.date()
    for _ in range(30):  # never more than a couple of weeks between business days
        slot = datetime.combine(day, at, tzinfo=OSLO)
        if is_business_day(day) and slot > local:
            return slot.astimezone(UTC)
        day += timedelta(days=1)
    raise RuntimeError("no business day within 30 days")  # pragma: no cover


def window_start(now: datetime, minutes: int) -> datetime:
    """Start of the fixed grouping window (UTC, aligned to the epoch) that contains `now`."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    seconds = int(now.timestamp())
    size = minutes * 60
    return datetime.fromtimestamp(seconds - seconds % size, tz=UTC)
