"""The demo stays current: samples are read with dates moved to the day the demo was loaded, and a
data directory set up in demo mode keeps the CLI in demo mode."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from certmon import plugins
from certmon.config import get_settings
from certmon.demo.dates import DEMO_NEWEST, record_loaded, shift_dates, shift_days
from feeds.collect import SAMPLES_DIR, read_local, run_source

DEMO_DIR = SAMPLES_DIR / "demo"
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})?")
_RFC = re.compile(r"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}")


def _instants(text: str) -> list[datetime]:
    found = [parsedate_to_datetime(m) for m in _RFC.findall(text)]
    for day, clock, zone in _ISO.findall(text):
        stamp = datetime.fromisoformat(f"{day}T{clock}{(zone or '+00:00').replace('Z', '+00:00')}")
        found.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
    return found


def _all_sample_instants(read=lambda p: p.read_text(encoding="utf-8")) -> list[datetime]:  # type: ignore[no-untyped-def]
    return [t for path in sorted(DEMO_DIR.iterdir()) for t in _instants(read(path))]


def test_demo_newest_is_the_newest_event_in_the_samples() -> None:
    assert max(_all_sample_instants()) == DEMO_NEWEST


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_shift_puts_the_newest_event_within_the_day_before_loading(loaded: datetime) -> None:
    moved = DEMO_NEWEST + timedelta(days=shift_days(loaded))
    assert loaded - timedelta(days=1) < moved <= loaded
    assert moved.time() == DEMO_NEWEST.time()


@given(st.integers(min_value=-4000, max_value=4000))
def test_shift_moves_iso_and_rfc822_dates_by_whole_days(days: int) -> None:
    original = (DEMO_DIR / "demo-varsler.rss.xml").read_bytes() + (DEMO_DIR / "demo-indicators.stix.json").read_bytes()
    before = _instants(original.decode())
    after = _instants(shift_dates(original, days).decode())
    assert [t + timedelta(days=days) for t in before] == after
    for stamp in _RFC.findall(shift_dates(original, days).decode()):  # weekday names recomputed
        assert stamp[:3] == parsedate_to_datetime(stamp).strftime("%a")


def test_shift_leaves_versions_and_cve_ids_alone() -> None:
    text = b'CVE-2026-10001 version 2026-11-31 "2026-02-30" demo-varsel-2026-001 /2026/11/'
    assert shift_dates(text, 3) == text


def test_read_local_moves_the_demo_to_the_day_it_was_loaded(sqlite_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CERTMON_DEMO", "1")
    get_settings.cache_clear()
    now = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
    record_loaded(sqlite_env.data_dir, now)
    moved = [t for p in sorted(DEMO_DIR.iterdir()) for t in _instants(read_local(p.as_uri()).decode())]
    assert now - timedelta(days=1) < max(moved) <= now
    spread = max(_all_sample_instants()) - min(_all_sample_instants())
    assert max(moved) - min(moved) == spread  # the scenario keeps its shape


def test_a_demo_data_dir_keeps_the_cli_in_demo_mode(sqlite_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CERTMON_DEMO", raising=False)
    get_settings.cache_clear()
    assert get_settings().demo is False
    record_loaded(sqlite_env.data_dir)
    get_settings.cache_clear()
    assert get_settings().demo is True
    monkeypatch.setenv("CERTMON_DEMO", "0")  # an explicit setting wins
    get_settings.cache_clear()
    assert get_settings().demo is False


def test_a_refusal_caused_by_the_caller_does_not_mark_the_source_unhealthy(sqlite_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from certmon.sources.models import Source, SourceRun
    from certmon.sources.service import sync_catalogue

    monkeypatch.setenv("CERTMON_DEMO", "1")
    get_settings.cache_clear()
    with sqlite_env.factory.begin() as session:
        sync_catalogue(session, plugins.feeds().catalogue(demo=True))
    monkeypatch.setenv("CERTMON_DEMO", "0")
    get_settings.cache_clear()
    with sqlite_env.factory.begin() as session:
        source = session.scalars(select(Source).where(Source.name == "demo-partner-stix")).one()
    report = run_source(sqlite_env.factory, source.id)
    assert report.outcome == "refused" and "demomodus" in (report.error or "")
    with sqlite_env.factory.begin() as session:
        assert session.get_one(Source, source.id).healthy
        assert session.scalar(select(func.count()).select_from(SourceRun)) == 0
