"""Delivery against a real aiosmtpd server: normal, 451 then 250, 550, dropped during DATA, rate limit."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certmon.config import Settings
from certmon.matching.models import Match
from certmon.notify.deliver import deliver_due
from certmon.notify.models import Delivery, Notification
from certmon.notify.outbox import queue_alerts
from tests.notify.notify_helpers import make_constituent, make_contact, make_match, near

NOW = datetime(2026, 3, 10, 12, 3, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)  # the grouping window has closed


def _queue(
    factory: sessionmaker[Session], emails: list[str], n_matches: int = 2, severity: str = "high"
) -> list[int]:
    with factory() as s:
        c = make_constituent(s, "Bergen kommune")
        for e in emails:
            make_contact(s, c, e)
        ms = [make_match(s, c, severity=severity) for _ in range(n_matches)]
        queue_alerts(s, match_ids=[m.id for m in ms], now=NOW)
        s.commit()
        return [m.id for m in ms]


def _deliveries(factory: sessionmaker[Session]) -> list[Delivery]:
    with factory() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def test_feed_to_mail_and_window(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    # medium: below the policy's at-once severity, so these wait for the grouping window
    match_ids = _queue(factory, ["a@bergen.kommune.no", "b@bergen.kommune.no"], severity="medium")
    early = deliver_due(factory, now=NOW, settings=smtp_settings)
    assert early.sent == [] and handler.messages == []  # still inside the grouping window
    report = deliver_due(factory, now=LATER, settings=smtp_settings)
    assert len(report.sent) == 2 and len(handler.messages) == 2
    msg = handler.messages[0]
    assert msg["Subject"].strip().startswith("[TLP:AMBER] HKC-2026-") and "(Bergen kommune)" in msg["Subject"]
    assert msg["Auto-Submitted"] == "auto-generated"
    ds = _deliveries(factory)
    assert {d.status for d in ds} == {"sent"} and sorted(handler.message_ids()) == sorted(
        d.message_id for d in ds
    )
    with factory() as s:
        n = s.scalars(select(Notification)).one()
        assert n.status == "sent" and near(n.sent_at, LATER)
        assert {m.status for m in s.scalars(select(Match).where(Match.id.in_(match_ids)))} == {"notified"}
    assert deliver_due(factory, now=LATER + timedelta(hours=1), settings=smtp_settings).sent == []
    assert len(handler.messages) == 2


def test_an_urgent_finding_is_not_held_by_the_window(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    _queue(factory, ["a@bergen.kommune.no"], severity="high")
    report = deliver_due(factory, now=NOW, settings=smtp_settings)
    assert len(report.sent) == 1 and len(handler.messages) == 1  # the leading edge: at once


def test_temporary_failure_then_success(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    handler.script = ["451"]
    _queue(factory, ["a@bergen.kommune.no"])
    first = deliver_due(factory, now=LATER, settings=smtp_settings)
    assert first.sent == [] and "451" in first.retrying[0][2]
    (d,) = _deliveries(factory)
    assert d.status == "queued" and d.attempts == 1 and near(d.next_attempt_at, LATER + timedelta(minutes=1))
    first_id = d.message_id
    assert deliver_due(factory, now=LATER + timedelta(seconds=30), settings=smtp_settings).sent == []
    second = deliver_due(factory, now=LATER + timedelta(minutes=2), settings=smtp_settings)
    assert len(second.sent) == 1
    (d,) = _deliveries(factory)
    assert d.status == "sent" and d.attempts == 2 and d.message_id == first_id
    assert handler.message_ids() == [first_id]


def test_permanent_failure_is_recorded(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    handler.script = ["550"]
    _queue(factory, ["nobody@bergen.kommune.no"])
    report = deliver_due(factory, now=LATER, settings=smtp_settings)
    assert len(report.failed) == 1
    (d,) = _deliveries(factory)
    assert d.status == "failed" and "550" in (d.last_error or "") and d.attempts == 1
    with factory() as s:
        assert s.scalars(select(Notification)).one().status == "failed"
    assert deliver_due(factory, now=LATER + timedelta(days=1), settings=smtp_settings).sent == []


def test_connection_dropped_during_data(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    handler.script = ["drop"]
    _queue(factory, ["a@bergen.kommune.no"])
    report = deliver_due(factory, now=LATER, settings=smtp_settings)
    assert len(report.retrying) == 1 and handler.messages == []
    assert deliver_due(factory, now=LATER + timedelta(minutes=2), settings=smtp_settings).sent
    assert len(handler.messages) == 1


def test_rate_limit_per_domain(factory, smtp_server, smtp_settings: Settings) -> None:
    handler, _ = smtp_server
    limited = smtp_settings.model_copy(update={"mail_rate_per_domain": 2})
    _queue(factory, [f"p{i}@bergen.kommune.no" for i in range(5)])
    first = deliver_due(factory, now=LATER, settings=limited)
    assert len(first.sent) == 2 and first.rate_limited == 3
    assert deliver_due(factory, now=LATER + timedelta(seconds=30), settings=limited).sent == []
    assert len(deliver_due(factory, now=LATER + timedelta(seconds=61), settings=limited).sent) == 2
    assert len(deliver_due(factory, now=LATER + timedelta(seconds=122), settings=limited).sent) == 1
    assert len(handler.messages) == 5


def test_maildir_fallback(factory, settings: Settings) -> None:
    _queue(factory, ["a@bergen.kommune.no"])
    report = deliver_due(factory, now=LATER, settings=settings)
    assert len(report.sent) == 1
    box = mailbox.Maildir(str(settings.mail_dir), create=False)
    assert len(box) == 1
    (d,) = _deliveries(factory)
    assert next(iter(box))["Message-ID"] == d.message_id


def test_deactivated_contact_is_cancelled(factory, smtp_server, smtp_settings: Settings) -> None:
    _queue(factory, ["a@bergen.kommune.no"])
    with factory() as s:
        from certmon.registry.models import Contact

        s.scalars(select(Contact)).one().active = False
        s.commit()
    report = deliver_due(factory, now=LATER, settings=smtp_settings)
    assert len(report.cancelled) == 1 and smtp_server[0].messages == []


def test_each_delivery_records_the_subject_its_recipient_received(factory, smtp_server, smtp_settings) -> None:
    handler, _ = smtp_server
    with factory() as s:
        c = make_constituent(s, "Bergen kommune")
        make_contact(s, c, "nb@bergen.kommune.no")
        make_contact(s, c, "en@bergen.kommune.no", language="en")
        ms = [make_match(s, c, severity="high") for _ in range(2)]
        queue_alerts(s, match_ids=[m.id for m in ms], now=NOW)
        s.commit()
    assert all(d.subject is None for d in _deliveries(factory))  # nothing built yet
    deliver_due(factory, now=LATER, settings=smtp_settings)
    received = {str(m["To"]): " ".join(str(m["Subject"]).split()) for m in handler.messages}
    recorded = {d.email: d.subject for d in _deliveries(factory)}
    assert recorded == received and len(set(recorded.values())) == 2  # nb and en subjects differ
    assert all(subject.startswith("[TLP:AMBER] HKC-2026-") for subject in recorded.values())
