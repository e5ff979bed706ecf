"""Batches: leases stamped at the real time of each claim, per-delivery error isolation, the attempt cap,
and the per-domain rate limit taking domains literally."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from certmon.config import Settings
from certmon.notify import clock as clock_module
from certmon.notify import deliver as deliver_module
from certmon.notify.claims import MAX_ATTEMPTS, claim
from certmon.notify.deliver import deliver_due
from certmon.notify.models import Delivery, Notification
from certmon.notify.outbox import queue_alerts
from tests.notify.notify_helpers import make_constituent, make_contact, make_match

NOW = datetime(2026, 3, 10, 12, 3, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)


def _queue(factory: sessionmaker[Session], emails: list[str]) -> None:
    with factory() as s:
        c = make_constituent(s, "Bergen kommune")
        for e in emails:
            make_contact(s, c, e)
        m = make_match(s, c)
        queue_alerts(s, match_ids=[m.id], now=NOW)
        s.commit()


def _deliveries(factory: sessionmaker[Session]) -> list[Delivery]:
    with factory() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


class SlowTransport:
    """Each send takes `minutes` of (simulated) time; meanwhile a rival worker tries to take it over."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, offset: list[float]) -> None:
        self.factory, self.settings, self.offset = factory, settings, offset
        self.rival_claims: list[bool] = []
        self.sent: list[str] = []

    def send(self, msg: EmailMessage) -> None:
        self.offset[0] += 6 * 60  # six minutes in SMTP per message
        rival_now = LATER + timedelta(seconds=self.offset[0])
        with self.factory() as s:
            delivery_id = s.scalar(select(Delivery.id).where(Delivery.message_id == msg["Message-ID"]))
            assert delivery_id is not None
            self.rival_claims.append(
                claim(s, delivery_id=delivery_id, now=rival_now, mail_from=self.settings.mail_from)
            )
        self.sent.append(str(msg["Message-ID"]))

    def close(self) -> None:
        pass


def test_long_batch_never_hands_out_expired_leases(factory, settings: Settings, monkeypatch) -> None:
    offset = [0.0]
    real = clock_module._monotonic
    monkeypatch.setattr(clock_module, "_monotonic", lambda: real() + offset[0])
    _queue(factory, [f"p{i}@bergen.kommune.no" for i in range(4)])
    transport = SlowTransport(factory, settings, offset)
    report = deliver_due(factory, now=LATER, settings=settings, transport=transport)
    assert len(report.sent) == 4 and len(transport.sent) == 4
    assert transport.rival_claims == [False] * 4  # nobody could take over a delivery still in SMTP
    for i, d in enumerate(_deliveries(factory)):
        assert d.status == "sent" and d.attempts == 1
        assert d.sent_at is not None and d.sent_at >= LATER + timedelta(minutes=6 * (i + 1))


def test_error_before_sending_is_isolated_recorded_and_capped(
    factory, settings: Settings, monkeypatch, caplog
) -> None:
    _queue(factory, ["bad@bergen.kommune.no", "good@bergen.kommune.no"])
    bad_id = _deliveries(factory)[0].id
    real_plan = deliver_module.plan_delivery

    def failing_plan(session: Session, delivery: Delivery, s: Settings):  # type: ignore[no-untyped-def]
        if delivery.id == bad_id:
            raise RuntimeError("template exploded; password=hunter2")
        return real_plan(session, delivery, s)

    monkeypatch.setattr(deliver_module, "plan_delivery", failing_plan)
    with caplog.at_level(logging.INFO, logger="certmon.notify.deliver"):
        report = deliver_due(factory, now=LATER, settings=settings)
    assert [e for _, e in report.sent] == ["good@bergen.kommune.no"]  # the batch went on
    assert report.retrying == [(report.sent[0][0], "bad@bergen.kommune.no", "intern feil: RuntimeError")]
    bad = _deliveries(factory)[0]
    assert bad.status == "queued" and bad.attempts == 1 and bad.last_error == "intern feil: RuntimeError"
    assert f"delivery {bad_id}" in caplog.text and "hunter2" not in caplog.text
    when = LATER
    for _ in range(MAX_ATTEMPTS + 3):
        when += timedelta(days=1)
        deliver_due(factory, now=when, settings=settings)
    bad = _deliveries(factory)[0]
    assert bad.status == "failed" and bad.attempts == MAX_ATTEMPTS
    with factory() as s:
        assert s.scalars(select(Notification)).one().status == "sent"  # one recipient got it


def test_claim_refuses_beyond_max_attempts_and_stuck_rows_fail(factory, settings: Settings) -> None:
    _queue(factory, ["a@bergen.kommune.no"])
    (d,) = _deliveries(factory)
    with factory() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == d.id)
            .values(status="sending", attempts=MAX_ATTEMPTS, next_attempt_at=LATER, message_id="<x@y>")
        )
        s.commit()
        assert not claim(s, delivery_id=d.id, now=LATER + timedelta(hours=1), mail_from=settings.mail_from)
    report = deliver_due(factory, now=LATER + timedelta(hours=1), settings=settings)
    assert report.sent == []
    (d,) = _deliveries(factory)
    assert d.status == "failed" and d.attempts == MAX_ATTEMPTS and "forsøk" in (d.last_error or "")
    with factory() as s:
        assert s.scalars(select(Notification)).one().status == "failed"


@pytest.mark.parametrize("wildcard", ["b_c.no", "b%c.no"])
def test_rate_limit_takes_domain_literally(factory, settings: Settings, wildcard: str) -> None:
    limited = settings.model_copy(update={"mail_rate_per_domain": 1})
    _queue(factory, [f"y@{wildcard}"])
    with factory() as s:  # a message just sent to a domain the LIKE wildcard would also match
        n = s.scalars(select(Notification)).one()
        s.add(Delivery(notification_id=n.id, email="x@bxc.no", status="sent", sent_at=LATER))
        s.commit()
    report = deliver_due(factory, now=LATER + timedelta(seconds=5), settings=limited)
    assert report.rate_limited == 0 and [e for _, e in report.sent] == [f"y@{wildcard}"]
