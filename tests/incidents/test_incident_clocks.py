"""Reporting clocks: concrete deadlines, DST changes in Europe/Oslo, met/late/overdue and the next one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from certmon.incidents.clocks import add_months, deadlines, first_reports, next_open, overdue

OSLO = ZoneInfo("Europe/Oslo")


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def by_key(found):
    return {d.key: d for d in found}


def test_norsk_model_without_personal_data_has_hod_and_nsm():
    found = deadlines(utc(2026, 1, 15, 9, 0), "norsk")
    assert [(d.key, d.name, d.due_at) for d in found] == [
        ("hod-straks", "HOD straks", utc(2026, 1, 15, 10, 0)),  # "straks" read as one hour
        ("nsm-24h", "NSM 24 t", utc(2026, 1, 16, 9, 0)),
    ]


def test_personal_data_adds_datatilsynet_72_hours():
    found = by_key(deadlines(utc(2026, 1, 15, 9, 0), "norsk", personal_data=True))
    assert found["datatilsynet-72h"].due_at == utc(2026, 1, 18, 9, 0)
    assert found["datatilsynet-72h"].name == "Datatilsynet 72 t"


def test_hour_limits_are_elapsed_time_across_spring_forward():
    # aware Saturday 28 March 2026 10:00 CET; clocks go forward the next night at 02:00
    found = by_key(deadlines(oslo(2026, 3, 28, 10, 0), "norsk", personal_data=True))
    assert found["nsm-24h"].due_at == utc(2026, 3, 29, 9, 0)
    assert found["nsm-24h"].due_at.astimezone(OSLO).hour == 11  # wall clock shows 11:00 CEST
    assert found["datatilsynet-72h"].due_at.astimezone(OSLO) == oslo(2026, 3, 31, 11, 0)


def test_hour_limits_across_fall_back():
    # aware Saturday 24 October 2026 10:00 CEST; clocks go back the next night at 03:00
    found = by_key(deadlines(oslo(2026, 10, 24, 10, 0), "nis2"))
    assert found["nis2-24h"].due_at == utc(2026, 10, 25, 8, 0)
    assert found["nis2-24h"].due_at.astimezone(OSLO) == oslo(2026, 10, 25, 9, 0)
    assert found["nis2-72h"].due_at - found["nis2-24h"].due_at == timedelta(hours=48)


def test_straks_over_the_missing_hour():
    found = by_key(deadlines(oslo(2026, 3, 29, 1, 30), "norsk"))  # 01:30 CET, 00:30 UTC
    assert found["hod-straks"].due_at == utc(2026, 3, 29, 1, 30)
    assert found["hod-straks"].due_at.astimezone(OSLO) == oslo(2026, 3, 29, 3, 30)


def test_one_month_keeps_the_oslo_wall_clock_across_dst():
    found = by_key(deadlines(oslo(2026, 3, 15, 12, 0), "nis2"))
    assert found["nis2-1m"].due_at == utc(2026, 4, 15, 10, 0)  # 12:00 CEST
    assert found["nis2-1m"].name == "Sluttrapport 1 mnd"
    autumn = by_key(deadlines(oslo(2026, 10, 10, 12, 0), "nis2"))
    assert autumn["nis2-1m"].due_at == utc(2026, 11, 10, 11, 0)  # 12:00 CET


def test_one_month_is_clamped_to_the_end_of_a_short_month():
    assert add_months(oslo(2026, 1, 31, 12, 0), 1) == utc(2026, 2, 28, 11, 0)
    assert add_months(oslo(2028, 1, 31, 12, 0), 1) == utc(2028, 2, 29, 11, 0)  # leap year
    assert add_months(oslo(2026, 12, 15, 8, 0), 1) == utc(2027, 1, 15, 7, 0)  # over new year


def test_one_month_onto_a_missing_or_repeated_wall_time():
    # 28 March 2027 02:30 does not exist in Oslo: the deadline moves forward to 03:30 CEST
    assert add_months(oslo(2027, 2, 28, 2, 30), 1) == utc(2027, 3, 28, 1, 30)
    # 25 October 2026 02:30 happens twice: the first (CEST) one counts
    assert add_months(oslo(2026, 9, 25, 2, 30), 1) == utc(2026, 10, 25, 0, 30)


def test_met_late_overdue_and_open():
    aware = utc(2026, 5, 4, 8, 0)
    reports = {"hod-straks": utc(2026, 5, 4, 8, 59), "nsm-24h": utc(2026, 5, 5, 8, 1)}
    found = by_key(deadlines(aware, "norsk", personal_data=True, reports=reports))
    now = utc(2026, 5, 7, 9, 0)
    assert found["hod-straks"].met and found["hod-straks"].state(now) == "met"
    assert not found["nsm-24h"].met and found["nsm-24h"].state(now) == "late"
    assert found["datatilsynet-72h"].state(now) == "overdue"
    assert found["datatilsynet-72h"].state(utc(2026, 5, 7, 7, 59)) == "open"
    assert [d.key for d in overdue(list(found.values()), now)] == ["datatilsynet-72h"]


def test_report_exactly_at_due_time_is_met():
    aware = utc(2026, 5, 4, 8, 0)
    found = by_key(deadlines(aware, "norsk", reports={"nsm-24h": utc(2026, 5, 5, 8, 0)}))
    assert found["nsm-24h"].met


def test_next_open_deadline_skips_reported_ones():
    aware = utc(2026, 5, 4, 8, 0)
    found = deadlines(aware, "nis2", reports={"nis2-24h": utc(2026, 5, 4, 20, 0)})
    nxt = next_open(found)
    assert nxt is not None and nxt.key == "nis2-72h" and nxt.due_at == utc(2026, 5, 7, 8, 0)
    done = deadlines(aware, "norsk", reports={"hod-straks": aware, "nsm-24h": aware})
    assert next_open(done) is None


def test_first_report_per_key_wins_and_unknown_model_is_refused():
    early, late = utc(2026, 5, 4, 9, 0), utc(2026, 5, 4, 10, 0)
    assert first_reports([("nsm-24h", late), ("nsm-24h", early), (None, early)]) == {"nsm-24h": early}
    with pytest.raises(ValueError, match="rapporteringsmodell"):
        deadlines(early, "gdpr")


def test_naive_aware_time_is_read_as_utc():
    found = by_key(deadlines(datetime(2026, 1, 15, 9, 0), "norsk"))
    assert found["nsm-24h"].due_at == utc(2026, 1, 16, 9, 0)
