"""Hand-sent alerts: the sender's clearance, contacts' ceilings, and TLP:RED only to the organisation's
own RED contacts after a second analyst's approval — delivered through a real SMTP server."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.audit.models import AuditEntry
from certmon.auth.models import User
from certmon.errors import Conflict, Forbidden, NotFound, ValidationFailed
from certmon.notify.deliver import deliver_due
from certmon.notify.manual import approve_manual, reject_manual, send_manual
from certmon.notify.models import Delivery, Notification
from tests.notify.notify_helpers import make_constituent, make_contact, make_match

RED_ANALYST = User(email="kari@cert.no", role="analyst", tlp_max="red")
OTHER_ANALYST = User(email="ola@cert.no", role="analyst", tlp_max="red")
AMBER_ANALYST = User(email="per@cert.no", role="analyst", tlp_max="amber")


def test_the_sender_handles_only_matches_within_their_clearance(any_engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "soc@x.no", tlp_max="red")
        red, strict = make_match(s, c, tlp="red"), make_match(s, c, tlp="amber+strict")
        for match in (red, strict):
            with pytest.raises(NotFound) as exc:  # answered like an unknown id: nothing to learn
                send_manual(s, match_ids=[match.id], recipients=["soc@x.no"], sender=AMBER_ANALYST)
            assert "ukjente treff" in exc.value.message
        with pytest.raises(NotFound):
            send_manual(s, match_ids=[999_999], recipients=["soc@x.no"], sender=RED_ANALYST)
        assert s.scalars(select(Notification)).all() == []


def test_red_goes_only_to_own_red_contacts(any_engine) -> None:
    with Session(any_engine) as s:
        c, other = make_constituent(s), make_constituent(s, "Oslo kommune")
        make_contact(s, c, "amber@x.no", tlp_max="amber")
        make_contact(s, c, "gone@x.no", tlp_max="red", active=False)
        make_contact(s, other, "red@oslo.no", tlp_max="red")
        red = make_match(s, c, tlp="red")
        for address in ("outsider@y.no", "amber@x.no", "gone@x.no", "red@oslo.no"):
            with pytest.raises(Forbidden) as exc:
                send_manual(s, match_ids=[red.id], recipients=[address], sender=RED_ANALYST)
            assert address in exc.value.message


def test_amber_rules_for_typed_addresses_and_contact_ceilings(any_engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "green@x.no", tlp_max="green")
        strict, amber = make_match(s, c, tlp="amber+strict"), make_match(s, c, tlp="amber")
        with pytest.raises(Forbidden):
            send_manual(s, match_ids=[strict.id], recipients=["outsider@y.no"], sender=RED_ANALYST)
        with pytest.raises(Forbidden):
            send_manual(s, match_ids=[amber.id], recipients=["green@x.no"], sender=RED_ANALYST)
        n = send_manual(s, match_ids=[amber.id], recipients=["Partner@Y.no"], sender=AMBER_ANALYST)
        assert n.status == "queued" and n.tlp == "amber" and n.created_by == "per@cert.no"


def test_each_recipient_is_one_plain_address(any_engine) -> None:
    """A comma list would reach people the audit does not name (SMTP takes them all from the To: header),
    and a line break makes the delivery fail with an internal error at every attempt: both are refused,
    naming the bad entry, and nothing is stored."""
    with Session(any_engine) as s:
        c = make_constituent(s)
        amber = make_match(s, c, tlp="amber")
        # header syntax in the local part: a comment, a group, a NUL (a(b@z.no became "To: a")
        for bad in ("soc@x.no, outsider@y.no", "soc@x.no\r\nBcc: outsider@y.no", "x", "<soc@x.no>", "a b@x.no",
                    "a(b@z.no", "x:y@z.no", "a\x00b@z.no", ".a@z.no", "a..b@z.no"):
            with pytest.raises(ValidationFailed) as exc:
                send_manual(s, match_ids=[amber.id], recipients=["ok@x.no", bad], sender=RED_ANALYST)
            assert exc.value.problems and exc.value.problems[0].startswith("body.recipients.1: ")
        with pytest.raises(ValidationFailed, match="ingen mottakere"):
            send_manual(s, match_ids=[amber.id], recipients=[" ", ""], sender=RED_ANALYST)
        assert s.scalars(select(Notification)).all() == []
        n = send_manual(s, match_ids=[amber.id], recipients=[" Soc@X.no ", "soc@x.no"], sender=RED_ANALYST)
        assert [d.email for d in s.scalars(select(Delivery).where(Delivery.notification_id == n.id))] == ["soc@x.no"]


def test_red_waits_for_a_second_analyst_then_is_delivered(factory, smtp_server, smtp_settings) -> None:
    handler, _port = smtp_server
    with factory() as s:
        c = make_constituent(s)
        make_contact(s, c, "Leder@X.no", tlp_max="red")
        red = make_match(s, c, tlp="red")
        n = send_manual(s, match_ids=[red.id], recipients=["leder@x.no"], sender=RED_ANALYST)
        s.commit()
        assert n.status == "awaiting_approval"
    deliver_due(factory, settings=smtp_settings, open_windows=True)
    assert handler.messages == []  # nothing leaves before the approval
    with factory() as s:
        with pytest.raises(Forbidden):  # the sender cannot approve their own
            approve_manual(s, notification_id=n.id, approver=RED_ANALYST)
        with pytest.raises(NotFound):  # nor can one not cleared for RED (nor learn that it exists)
            approve_manual(s, notification_id=n.id, approver=AMBER_ANALYST)
        approve_manual(s, notification_id=n.id, approver=OTHER_ANALYST)
        s.commit()
        with pytest.raises(Conflict):
            approve_manual(s, notification_id=n.id, approver=OTHER_ANALYST)
        approval = s.scalar(select(AuditEntry).where(AuditEntry.action == "notification.approve"))
        assert approval.actor == "ola@cert.no" and approval.detail["sender"] == "kari@cert.no"
    deliver_due(factory, settings=smtp_settings, open_windows=True)
    (message,) = handler.messages
    assert message["To"].lower() == "leder@x.no" and "TLP:RED" in message["Subject"]


def test_a_rejected_red_alert_is_never_sent(factory, smtp_server, smtp_settings) -> None:
    handler, _port = smtp_server
    with factory() as s:
        c = make_constituent(s)
        make_contact(s, c, "leder@x.no", tlp_max="red")
        n = send_manual(s, match_ids=[make_match(s, c, tlp="red").id], recipients=["leder@x.no"],
                        sender=RED_ANALYST)
        reject_manual(s, notification_id=n.id, user=OTHER_ANALYST, reason="feil mottaker")
        s.commit()
        assert {d.status for d in s.scalars(select(Delivery))} == {"cancelled"}
    deliver_due(factory, settings=smtp_settings, open_windows=True)
    assert handler.messages == []
