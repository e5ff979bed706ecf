"""Digest slots skip weekends and Norwegian public holidays, including the moving Easter-based ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from certmon.notify.schedule import OSLO, is_business_day, next_digest_slot, window_start


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 2),  # skjærtorsdag
        date(2026, 4, 3),  # langfredag
        date(2026, 4, 6),  # 2. påskedag
        date(2026, 5, 1),  # arbeidernes dag
        date(2026, 5, 14),  # Kristi himmelfartsdag
        date(2026, 5, 25),  # 2. pinsedag
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
        date(2027, 3, 25),
        date(2027, 3, 26),
        date(2027, 3, 29),  # Easter 2027 moves to March
    ],
)
def test_holidays_are_not_business_days(day: date) -> None:
    assert not is_business_day(day)


def test_ordinary_days() -> None:
    assert is_business_day(date(2026, 4, 7))  # Tuesday after Easter
    assert not is_business_day(date(2026, 4, 11))  # Saturday
    assert is_business_day(date(2026, 5, 18))  # Monday after 17 May (a Sunday in 2026)


def _local(slot: datetime) -> datetime:
    return slot.astimezone(OSLO)


def test_easter_2026_digest_goes_to_tuesday() -> None:
    wednesday_evening = datetime(2026, 4, 1, 18, 0, tzinfo=OSLO)
    slot = _local(next_digest_slot(wednesday_evening, time(8, 0)))
    assert (slot.date(), slot.hour, slot.minute) == (date(2026, 4, 7), 8, 0)


def test_same_day_before_the_time() -> None:
    early = datetime(2026, 3, 10, 6, 59, tzinfo=OSLO)
    assert _local(next_digest_slot(early, time(7, 0))) == datetime(2026, 3, 10, 7, 0, tzinfo=OSLO)
    at_time = datetime(2026, 3, 10, 7, 0, tzinfo=OSLO)
    assert _local(next_digest_slot(at_time, time(7, 0))).date() == date(2026, 3, 11)


def test_ascension_and_friday() -> None:
    slot = _local(next_digest_slot(datetime(2026, 5, 13, 12, 0, tzinfo=OSLO)))
    assert slot.date() == date(2026, 5, 15)
    slot = _local(next_digest_slot(datetime(2026, 5, 15, 12, 0, tzinfo=OSLO)))
    assert slot.date() == date(2026, 5, 18)


def test_slot_respects_summer_time() -> None:
    slot = next_digest_slot(datetime(2026, 7, 1, 3, 0, tzinfo=UTC), time(8, 0))
    assert slot == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 CEST
    slot = next_digest_slot(datetime(2026, 1, 5, 3, 0, tzinfo=UTC), time(8, 0))
    assert slot == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # 08:00 CET


def test_window_start_is_aligned() -> None:
    now = datetime(2026, 3, 10, 12, 17, 45, tzinfo=UTC)
    assert window_start(now, 10) == datetime(2026, 3, 10, 12, 10, tzinfo=UTC)
    assert window_start(now, 15) == datetime(2026, 3, 10, 12, 15, tzinfo=UTC)
