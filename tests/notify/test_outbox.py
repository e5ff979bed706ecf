"""Outbox: grouping per constituent and window, reference numbers, TLP routing — SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.notify.outbox import queue_alerts
from certmon.notify.policy import AlertPolicy, load_policy, save_policy
from tests.notify.notify_helpers import make_constituent, make_contact, make_match

NOW = datetime(2026, 3, 10, 12, 3, tzinfo=UTC)  # a Tuesday


def _links(session: Session, n: Notification) -> set[int]:
    return set(
        session.scalars(select(NotificationMatch.match_id).where(NotificationMatch.notification_id == n.id))
    )


def test_one_email_per_constituent_per_window(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        bergen, oslo = make_constituent(s, "Bergen kommune"), make_constituent(s, "Oslo kommune")
        make_contact(s, bergen, "sikkerhet@bergen.kommune.no")
        make_contact(s, bergen, "it@bergen.kommune.no")
        make_contact(s, oslo, "cert@oslo.kommune.no")
        # medium: below the policy's at-once severity, so the window decides when they leave
        ms = [make_match(s, bergen, severity="medium") for _ in range(5)] + [make_match(s, oslo, severity="medium")]
        first = queue_alerts(s, match_ids=[m.id for m in ms[:3]] + [ms[5].id], now=NOW)
        s.commit()
        later = queue_alerts(s, match_ids=[m.id for m in ms[3:5]], now=NOW + timedelta(minutes=4))
        again = queue_alerts(s, match_ids=[m.id for m in ms], now=NOW + timedelta(minutes=5))
        s.commit()
        assert len(first) == 2 and len(later) == 1 and again == []
        notes = s.scalars(select(Notification).order_by(Notification.id)).all()
        assert len(notes) == 2
        b = next(n for n in notes if n.constituent_id == bergen.id)
        assert _links(s, b) == {m.id for m in ms[:5]}
        assert b.status == "queued" and b.tlp == "amber" and b.severity == "medium"
        assert b.not_before == datetime(2026, 3, 10, 12, 10, tzinfo=UTC)
        assert {d.email for d in s.scalars(select(Delivery).where(Delivery.notification_id == b.id))} == {
            "sikkerhet@bergen.kommune.no",
            "it@bergen.kommune.no",
        }
        for n in notes:
            assert re.fullmatch(rf"HKC-2026-{n.id:06d}", n.reference)


def test_a_claimed_notification_is_not_joined(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "a@bergen.kommune.no")
        m1, m2 = make_match(s, c), make_match(s, c)
        (n1,) = queue_alerts(s, match_ids=[m1.id], now=NOW)
        n1.status = "sending"
        s.commit()
        (n2,) = queue_alerts(s, match_ids=[m2.id], now=NOW + timedelta(minutes=1))
        s.commit()
        assert n2.id != n1.id and n2.dedupe_key == n1.dedupe_key + "#2"
        assert _links(s, n2) == {m2.id}


def test_policy_and_tlp_routing(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "amber@x.no", tlp_max="amber")
        make_contact(s, c, "strict@x.no", tlp_max="amber+strict", mode="digest")
        red = make_match(s, c, tlp="red")
        product = make_match(s, c, rule="product", confidence=95)
        confirmed = make_match(s, c, rule="name", confidence=40, status="confirmed")
        weak = make_match(s, c, confidence=50)
        fp = make_match(s, c, status="false_positive")
        strict = make_match(s, c, tlp="amber+strict")
        notes = queue_alerts(
            s, match_ids=[m.id for m in (red, product, confirmed, weak, fp, strict)], now=NOW
        )
        s.commit()
        linked = set().union(*(_links(s, n) for n in notes))
        assert linked == {confirmed.id, strict.id}
        by_mode = {n.mode: n for n in notes}
        imm = by_mode["immediate"]
        assert _links(s, imm) == {confirmed.id}  # the AMBER+STRICT one only fits the digest contact
        digest = by_mode["digest"]
        assert digest.not_before == datetime(2026, 3, 11, 7, 0, tzinfo=UTC) and digest.tlp == "amber+strict"


def test_nobody_cleared_gives_a_held_notification(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "green@x.no", tlp_max="green")
        m = make_match(s, c, tlp="amber")
        (n,) = queue_alerts(s, match_ids=[m.id], now=NOW)
        s.commit()
        assert n.status == "held" and _links(s, n) == {m.id}
        assert s.scalars(select(Delivery)).all() == []
        assert queue_alerts(s, match_ids=[m.id], now=NOW) == []


def test_policy_round_trip(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        assert load_policy(s) == AlertPolicy()
        save_policy(s, AlertPolicy(min_confidence=50, digest_time="7:30"), actor="admin@x.no")
        s.commit()
        assert load_policy(s).min_confidence == 50 and load_policy(s).digest_time == "07:30"
        c = make_constituent(s)
        make_contact(s, c, "a@x.no")
        weak = make_match(s, c, confidence=60)
        assert queue_alerts(s, match_ids=[weak.id], now=NOW)



WINDOW_END = datetime(2026, 3, 10, 12, 10, tzinfo=UTC)


def test_leading_edge_first_urgent_finding_leaves_at_once_the_rest_follow_up(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "a@bergen.kommune.no")
        first, joins, later, low = (make_match(s, c, severity=sev) for sev in ("high", "critical", "high", "low"))
        (n1,) = queue_alerts(s, match_ids=[first.id], now=NOW)
        s.commit()
        assert n1.not_before == NOW  # due now, not at the window's end
        (same,) = queue_alerts(s, match_ids=[joins.id], now=NOW + timedelta(seconds=5))
        s.commit()
        assert same.id == n1.id and same.not_before == NOW  # not claimed yet: it takes the second along
        n1.status = "sending"  # the sender has claimed it
        s.commit()
        (n2,) = queue_alerts(s, match_ids=[later.id], now=NOW + timedelta(minutes=2))
        (n2b,) = queue_alerts(s, match_ids=[low.id], now=NOW + timedelta(minutes=3))
        s.commit()
        assert n2.id == n2b.id != n1.id and n2.dedupe_key == n1.dedupe_key + "#2"
        assert n2.not_before == WINDOW_END  # the one follow-up, when the window closes
        assert _links(s, n1) == {first.id, joins.id} and _links(s, n2) == {later.id, low.id}
        # the next window's first urgent finding leads again
        nxt = make_match(s, c, severity="high")
        (n3,) = queue_alerts(s, match_ids=[nxt.id], now=WINDOW_END + timedelta(seconds=1))
        s.commit()
        assert n3.not_before == WINDOW_END + timedelta(seconds=1) and "#" not in n3.dedupe_key
        assert queue_alerts(s, match_ids=[first.id, joins.id, later.id, low.id, nxt.id], now=NOW) == []


def test_an_urgent_finding_pulls_the_waiting_window_forward(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "a@bergen.kommune.no")
        quiet = [make_match(s, c, severity="medium") for _ in range(2)]
        (n,) = queue_alerts(s, match_ids=[m.id for m in quiet], now=NOW)
        s.commit()
        assert n.not_before == WINDOW_END
        loud = make_match(s, c, severity="critical")
        (same,) = queue_alerts(s, match_ids=[loud.id], now=NOW + timedelta(minutes=2))
        s.commit()
        s.refresh(same)
        assert same.id == n.id and same.not_before == NOW + timedelta(minutes=2)
        assert _links(s, same) == {quiet[0].id, quiet[1].id, loud.id} and same.severity == "critical"


def test_known_exploited_leads_whatever_its_severity_and_the_policy_sets_the_edge(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        a, b, c = make_constituent(s, "A kommune"), make_constituent(s, "B kommune"), make_constituent(s, "C")
        for org, addr in ((a, "a@a.no"), (b, "b@b.no"), (c, "c@c.no")):
            make_contact(s, org, addr)
        kev = make_match(s, a, severity="medium", kind="vulnerability", known_exploited=True)
        (n,) = queue_alerts(s, match_ids=[kev.id], now=NOW)
        s.commit()
        assert n.not_before == NOW
        save_policy(s, AlertPolicy(at_once_min_severity="critical", at_once_known_exploited=False), actor="x")
        s.commit()
        high, kev2 = make_match(s, b, severity="high"), make_match(s, b, severity="high", known_exploited=True)
        (nb,) = queue_alerts(s, match_ids=[high.id, kev2.id], now=NOW)
        crit = make_match(s, c, severity="critical")
        (nc,) = queue_alerts(s, match_ids=[crit.id], now=NOW)
        s.commit()
        assert nb.not_before == WINDOW_END and nc.not_before == NOW
        save_policy(s, AlertPolicy(at_once_min_severity="never", at_once_known_exploited=False), actor="x")
        s.commit()
        assert load_policy(s).at_once_min_severity == "never"
        late = make_match(s, c, severity="critical")
        (nlate,) = queue_alerts(s, match_ids=[late.id], now=WINDOW_END + timedelta(minutes=1))
        s.commit()
        assert nlate.not_before == WINDOW_END + timedelta(minutes=10)


def test_digest_contacts_are_not_hurried(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        c = make_constituent(s)
        make_contact(s, c, "d@bergen.kommune.no", mode="digest")
        m = make_match(s, c, severity="critical")
        (n,) = queue_alerts(s, match_ids=[m.id], now=NOW)
        s.commit()
        assert n.mode == "digest" and n.not_before == datetime(2026, 3, 11, 7, 0, tzinfo=UTC)
