"""One delivery run drains the whole queue (no per-tick cap) in batches, within its time budget, and
keeps to the relay's rate through a token bucket — against a real aiosmtpd server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from certmon.config import Settings
from certmon.notify import ratelimit
from certmon.notify.deliver import deliver_due
from certmon.notify.models import Delivery
from certmon.notify.outbox import queue_alerts
from certmon.notify.ratelimit import TokenBucket, relay_bucket
from tests.notify.notify_helpers import make_constituent, make_contact, make_match

NOW = datetime(2026, 3, 10, 12, 3, tzinfo=UTC)


def _sector_wide(factory: sessionmaker[Session], organisations: int) -> None:
    """One advisory hitting every organisation: one urgent alert each, each to its own domain."""
    with factory() as s:
        ids = []
        for n in range(organisations):
            c = make_constituent(s, f"Kommune {n}")
            make_contact(s, c, f"sikkerhet@k{n}.kommune.no")
            ids.append(make_match(s, c, severity="critical").id)
        queue_alerts(s, match_ids=ids, now=NOW)
        s.commit()


class FakeTime:
    """A clock the bucket reads and a sleep that only moves it (no real waiting)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(ratelimit, "_monotonic", fake.monotonic)
    monkeypatch.setattr(ratelimit, "_sleep", fake.sleep)
    monkeypatch.setattr(ratelimit, "_buckets", {})
    return fake


def test_one_run_sends_every_due_alert_batch_after_batch(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    _sector_wide(factory, 130)  # more than the old cap of 100 per tick
    unlimited = smtp_settings.model_copy(update={"smtp_rate_per_second": 0})
    report = deliver_due(factory, now=NOW, settings=unlimited, batch=40)
    assert len(report.sent) == 130 and len(handler.messages) == 130 and not report.more
    assert len(set(handler.message_ids())) == 130  # each once
    with factory() as s:
        assert set(s.scalars(select(Delivery.status))) == {"sent"}
    assert deliver_due(factory, now=NOW + timedelta(minutes=1), settings=unlimited).sent == []


def test_a_spent_budget_stops_the_run_and_says_so(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    _sector_wide(factory, 3)
    stopped = deliver_due(factory, now=NOW, settings=smtp_settings, budget_s=0)
    assert stopped.more and stopped.sent == [] and handler.messages == []
    rest = deliver_due(factory, now=NOW, settings=smtp_settings)
    assert len(rest.sent) == 3 and not rest.more


def test_token_bucket_spends_its_burst_then_one_token_per_interval(fake_time: FakeTime) -> None:
    bucket = TokenBucket(rate=4, burst=2)
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.25, 0.5, 0.75]  # reservations queue up behind each other
    fake_time.t += 10  # a quiet spell refills to the burst, never beyond
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.25]


def test_the_relay_rate_is_kept_across_runs(factory, smtp_server, smtp_settings: Settings,
                                            fake_time: FakeTime) -> None:
    handler, _ = smtp_server
    limited = smtp_settings.model_copy(update={"smtp_rate_per_second": 5.0, "smtp_rate_burst": 2})
    assert relay_bucket(smtp_settings.model_copy(update={"smtp_rate_per_second": 0})) is None
    assert relay_bucket(limited.model_copy(update={"smtp_host": ""})) is None  # Maildir: no relay to spare
    _sector_wide(factory, 6)
    first = deliver_due(factory, now=NOW, settings=limited)
    assert len(first.sent) == 6 and len(handler.messages) == 6
    # two from the burst, then one every 0.2 s: the run asked to wait 4 × 0.2 s in all
    assert fake_time.slept == pytest.approx([0.2] * 4) and first.waited_s == pytest.approx(0.8)
    _sector_wide(factory, 1)  # the next run shares the bucket: no fresh burst
    second = deliver_due(factory, now=NOW, settings=limited)
    assert len(second.sent) == 1 and second.waited_s == pytest.approx(0.2)
    with factory() as s:
        assert s.scalar(select(func.count(Delivery.id)).where(Delivery.status == "sent")) == 7
