"""Response links, answers recorded on alerts and matches, resend, reminders, and the policy check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from certmon.auth.models import User
from certmon.errors import Conflict, ValidationFailed
from certmon.matching.models import Match
from certmon.notify.deliver import deliver_due, send_reminders
from certmon.notify.links import InvalidResponseLink, make_link, make_token, verify
from certmon.notify.models import Delivery, Notification
from certmon.notify.outbox import queue_alerts
from certmon.notify.policy import parse_policy
from certmon.notify.service import list_notifications, record_response, resend
from tests.notify.notify_helpers import make_constituent, make_contact, make_match, near

NOW = datetime(2026, 3, 10, 12, 3, tzinfo=UTC)
ANALYST = User(email="analyst@cert.no", role="analyst", tlp_max="red")
LATER = NOW + timedelta(minutes=10)


def test_links_sign_and_expire(settings) -> None:
    token = make_token(42, "utbedret", settings=settings)
    assert verify(token, settings=settings).notification_id == 42
    assert make_link(42, "mottatt", settings=settings).startswith("https://certmon.example.no/svar/")
    with pytest.raises(InvalidResponseLink):
        verify(token[:-2] + "xx", settings=settings)
    with pytest.raises(InvalidResponseLink):
        verify(token, max_age=-1, settings=settings)
    other = settings.model_copy(
        update={"secret_key": type(settings.secret_key)("another-secret-" + "z" * 30)}
    )
    with pytest.raises(InvalidResponseLink):
        verify(token, settings=other)


def test_policy_validation_names_fields() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_policy({"max_tlp": "red", "auto_rules": ["bogus"], "digest_time": "25:00"})
    text = " ".join(exc.value.problems)
    assert "max_tlp" in text and "auto_rules" in text and "digest_time" in text


def test_answer_reminder_and_resend(factory, smtp_server, smtp_settings) -> None:
    handler, _ = smtp_server
    with factory() as s:
        c = make_constituent(s)
        make_contact(s, c, "a@bergen.kommune.no")
        m1, m2 = make_match(s, c, severity="critical"), make_match(s, c, severity="high")
        queue_alerts(s, match_ids=[m1.id, m2.id], now=NOW)
        s.commit()
    deliver_due(factory, now=LATER, settings=smtp_settings)
    with factory() as s:
        assert send_reminders(s, now=LATER + timedelta(hours=47)) == []
        (reminder,) = send_reminders(s, now=LATER + timedelta(hours=49))
        s.commit()
        assert reminder.reference.endswith("-P1") and reminder.mode == "reminder"
        assert send_reminders(s, now=LATER + timedelta(hours=60)) == []
    deliver_due(factory, now=LATER + timedelta(hours=49), settings=smtp_settings)
    assert len(handler.messages) == 2 and "Påminnelse" in handler.messages[1]["Subject"]
    # the reminder's links answer the original alert
    link = next(
        line
        for line in handler.messages[1].get_body(("plain",)).get_content().splitlines()
        if "Utbedret:" in line
    )
    token = link.rsplit("/svar/", 1)[1]
    with factory() as s:
        original = s.scalars(select(Notification).where(Notification.mode == "immediate")).one()
        assert verify(token, settings=smtp_settings).notification_id == original.id
        record_response(s, notification_id=reminder.id, answer="utbedret", now=LATER + timedelta(hours=50))
        s.commit()
        s.refresh(original)
        assert original.response == "utbedret" and original.acknowledged_at == LATER + timedelta(hours=50)
        for m in s.scalars(select(Match)):
            assert m.response == "utbedret" and m.fixed_at and m.acknowledged_at and near(m.notified_at, LATER)
        items, total = list_notifications(s, status="sent")
        assert total == 2 and items[0].id > items[1].id
        with pytest.raises(Conflict):
            resend(s, notification_id=original.id, user=ANALYST)  # nothing failed
        (_d,) = resend(
            s,
            notification_id=original.id,
            user=ANALYST,
            delivery_ids=[
                s.scalars(select(Delivery.id).where(Delivery.notification_id == original.id)).one()
            ],
        )
        old_mid = handler.messages[0]["Message-ID"]
        s.commit()
    deliver_due(factory, now=LATER + timedelta(hours=51), settings=smtp_settings)
    assert len(handler.messages) == 3 and handler.messages[2]["Message-ID"] != old_mid
