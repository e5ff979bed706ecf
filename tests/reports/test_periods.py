"""Report periods: ISO weeks, months, tertials and ranges in Oslo time; the previous period."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from certmon.errors import ValidationFailed
from certmon.reports.periods import current_week, parse_period


@pytest.mark.parametrize(("text", "start", "end", "previous", "label"), [
    ("2026-W47", date(2026, 11, 16), date(2026, 11, 23), "2026-W46", "uke 47 2026"),
    ("2026-W01", date(2025, 12, 29), date(2026, 1, 5), "2025-W52", "uke 1 2026"),
    ("2026-11", date(2026, 11, 1), date(2026, 12, 1), "2026-10", "november 2026"),
    ("2026-01", date(2026, 1, 1), date(2026, 2, 1), "2025-12", "januar 2026"),
    ("2026-T3", date(2026, 9, 1), date(2027, 1, 1), "2026-T2", "3. tertial 2026"),
    ("2026-T1", date(2026, 1, 1), date(2026, 5, 1), "2025-T3", "1. tertial 2026"),
    ("2026-11-01..2026-11-10", date(2026, 11, 1), date(2026, 11, 11), "2026-10-22..2026-10-31",
     "01.11.2026–10.11.2026"),
])
def test_periods(text, start, end, previous, label):
    p = parse_period(text)
    assert (p.start, p.end, p.previous().key, p.label()) == (start, end, previous, label)
    assert p.key == text


def test_boundaries_are_oslo_midnight_in_utc():
    assert parse_period("2026-W47").start_utc == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    assert parse_period("2026-07").start_utc == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)  # summer time
    assert current_week(datetime(2026, 11, 22, 23, 30, tzinfo=UTC)).key == "2026-W48"  # Monday in Oslo


@pytest.mark.parametrize("text", ["2026-W54", "2026-13", "2026-T4", "uke 47", "2026-11-10..2026-11-01", ""])
def test_invalid_periods_are_refused(text):
    with pytest.raises(ValidationFailed):
        parse_period(text)
