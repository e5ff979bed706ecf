"""Report periods: ISO week `2026-W47`, month `2026-11`, tertial `2026-T3`, or `2026-11-01..2026-11-15`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from certmon.errors import ValidationFailed
from certmon.i18n import translations

OSLO = ZoneInfo("Europe/Oslo")
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_TERTIAL = re.compile(r"^(\d{4})-T([1-3])$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
MAX_DAYS = 400


@dataclass(frozen=True)
class Period:
    """Whole days in Oslo time: `start` inclusive, `end` exclusive."""

    kind: str
    key: str
    start: date
    end: date

    @property
    def start_utc(self) -> datetime:
        """Midnight in Oslo at the start, as UTC."""
        return _oslo_midnight(self.start)

    @property
    def end_utc(self) -> datetime:
        """Midnight in Oslo after the last day, as UTC."""
        return _oslo_midnight(self.end)

    @property
    def last_day(self) -> date:
        """The last day included."""
        return self.end - timedelta(days=1)

    def previous(self) -> Period:
        """The period before: the previous week, month or tertial; or as many days before a custom range."""
        if self.kind == "week":
            return week_period(self.start - timedelta(days=7))
        if self.kind == "month":
            return month_period((self.start - timedelta(days=1)).replace(day=1))
        if self.kind == "tertial":
            return tertial_period(self.start - timedelta(days=1))
        length = self.end - self.start
        return custom_period(self.start - length, self.start - timedelta(days=1))

    def label(self) -> str:
        """Bokmål name of the period: `uke 47 2026`, `november 2026`, `3. tertial 2026`, `01.11.2026–15.11.2026`."""
        if self.kind == "week":
            year, week, _day = self.start.isocalendar()
            return _("week %(week)s %(year)s") % {"week": week, "year": year}
        if self.kind == "month":
            return format_date(self.start, "LLLL y", locale="nb")
        if self.kind == "tertial":
            return _("tertial %(n)s %(year)s") % {"n": (self.start.month - 1) // 4 + 1, "year": self.start.year}
        return f"{self.start:%d.%m.%Y}–{self.last_day:%d.%m.%Y}"


def _(message: str) -> str:
    return translations("nb").gettext(message)


def _oslo_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=OSLO).astimezone(UTC)


def week_period(day: date) -> Period:
    """The ISO week containing a day."""
    year, week, weekday = day.isocalendar()
    start = day - timedelta(days=weekday - 1)
    return Period("week", f"{year}-W{week:02d}", start, start + timedelta(days=7))


def month_period(day: date) -> Period:
    """The calendar month containing a day."""
    start = day.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return Period("month", f"{start:%Y-%m}", start, end)


def tertial_period(day: date) -> Period:
    """The tertial (January–April, May–August, September–December) containing a day."""
    number = (day.month - 1) // 4 + 1
    start = date(day.year, 4 * (number - 1) + 1, 1)
    end = date(day.year + 1, 1, 1) if number == 3 else date(day.year, 4 * number + 1, 1)
    return Period("tertial", f"{day.year}-T{number}", start, end)


def custom_period(first: date, last: date) -> Period:
    """From `first` to `last`, both days included."""
    if last < first:
        raise ValidationFailed(f"perioden slutter ({last}) før den begynner ({first})")
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"perioden kan være høyst {MAX_DAYS} dager")
    return Period("custom", f"{first.isoformat()}..{last.isoformat()}", first, last + timedelta(days=1))


def parse_period(text: str) -> Period:
    """Parse `2026-W47`, `2026-11`, `2026-T3` or `2026-11-01..2026-11-15`; ValidationFailed if invalid."""
    value = text.strip()
    try:
        if m := _WEEK.match(value):
            return week_period(date.fromisocalendar(int(m[1]), int(m[2]), 1))
        if m := _MONTH.match(value):
            return month_period(date(int(m[1]), int(m[2]), 1))
        if m := _TERTIAL.match(value):
            return tertial_period(date(int(m[1]), 4 * (int(m[2]) - 1) + 1, 1))
        if m := _RANGE.match(value):
            return custom_period(date.fromisoformat(m[1]), date.fromisoformat(m[2]))
    except ValueError as exc:
        raise ValidationFailed(f"ugyldig periode {text!r}: {exc}") from None
    raise ValidationFailed(f"ugyldig periode {text!r}; bruk f.eks. 2026-W47, 2026-11, 2026-T3 "
                           "eller 2026-11-01..2026-11-15")


def current_week(now: datetime) -> Period:
    """The ISO week (Oslo time) a moment falls in."""
    return week_period(now.astimezone(OSLO).date())
