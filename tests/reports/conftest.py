"""Report fixtures: planted items, matches and alerts in week 2026-W47 (and one in the week before)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.registry.models import Constituent
from certmon.sources.models import Source
from tests.dashboards.conftest import dash, prepared_db  # noqa: F401 - fixtures for the page and API tests

PERIOD = "2026-W47"  # Monday 16 November – Sunday 22 November 2026
IN_PERIOD = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
BEFORE = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
RED_TITLE = "RØD hemmelighet om Tromsø"
STRICT_TITLE = "AMBER+STRICT intern sak"
AMBER_KEV = "CVE-2026-0003"


@dataclass
class Planted:
    """Ids of what was planted."""

    ids: dict[str, int]


def _constituent(session: Session, name: str, kind: str) -> Constituent:
    found = session.scalar(select(Constituent).where(Constituent.name == name, Constituent.kind == kind))
    assert found is not None, name
    return found


def _items(session: Session, source_id: int) -> dict[str, int]:
    day, prev = "2026-11-17T08:00:00Z", "2026-11-10T08:00:00Z"
    specs = {
        "adv-clear-1": Item(kind="advisory", key="adv-clear-1", tlp="clear", source_format="rss",
                            title="Sårbarhet i journalsystem – æøå", published=day),
        "adv-clear-2": Item(kind="advisory", key="adv-clear-2", tlp="clear", source_format="rss",
                            title="Ny phishing-kampanje", published=day),
        "adv-green": Item(kind="advisory", key="adv-green", tlp="green", source_format="rss", title="Grønn",
                          published=day),
        "adv-amber": Item(kind="advisory", key="adv-amber", tlp="amber", source_format="rss", title="Gul",
                          published=day),
        "adv-strict": Item(kind="advisory", key="adv-strict", tlp="amber+strict", source_format="rss",
                           title=STRICT_TITLE, published=day),
        "adv-red": Item(kind="advisory", key="adv-red", tlp="red", source_format="rss", title=RED_TITLE,
                        published=day),
        "adv-prev": Item(kind="advisory", key="adv-prev", tlp="clear", source_format="rss", title="Forrige uke",
                         published=prev),
        "kev-hit": Item(kind="vulnerability", key="CVE-2026-0001", tlp="clear", source_format="kev",
                        cve="CVE-2026-0001", known_exploited=True, title="Eksempel VPN – kodeinjeksjon",
                        published=day),
        "kev-miss": Item(kind="vulnerability", key="CVE-2026-0002", tlp="clear", source_format="kev",
                         cve="CVE-2026-0002", known_exploited=True, title="Ingen treff", published=day),
        "kev-amber": Item(kind="vulnerability", key=AMBER_KEV, tlp="amber", source_format="kev",
                          cve=AMBER_KEV, known_exploited=True, title="Gul KEV", published=day),
        "kev-red": Item(kind="vulnerability", key="CVE-2026-0009", tlp="red", source_format="kev",
                        cve="CVE-2026-0009", known_exploited=True, title="Rød KEV", published=day),
    }
    report = upsert_items(session, source_id=source_id, items=list(specs.values()))
    assert len(report.new_ids) == len(specs)
    return dict(zip(specs, report.new_ids, strict=True))


def _match(session: Session, item_id: int, who: Constituent, rule: str, severity: str,
           status: str = "new", at: datetime = IN_PERIOD) -> Match:
    m = Match(item_id=item_id, constituent_id=who.id, rule=rule, asset="x", confidence=90,
              explanation="Planted.", severity=severity, status=status, created_at=at)
    session.add(m)
    session.flush()
    return m


def _alert(session: Session, ref: str, who: Constituent, tlp: str, match: Match, sent: datetime) -> Notification:
    n = Notification(reference=ref, constituent_id=who.id, tlp=tlp, subject=ref, status="sent",
                     dedupe_key=ref, created_at=sent, sent_at=sent)
    session.add(n)
    session.flush()
    session.add(NotificationMatch(notification_id=n.id, match_id=match.id))
    return n


def plant(session: Session) -> Planted:
    """Items, matches, alerts and answers for the report tests."""
    source = Source(name="report-test", format="rss", url="file:///dev/null")
    session.add(source)
    session.flush()
    ids = _items(session, source.id)
    bergen, oslo = _constituent(session, "Bergen", "kommune"), _constituent(session, "Oslo", "kommune")
    tromso = _constituent(session, "Tromsø", "kommune")
    helse_bergen = _constituent(session, "Helse Bergen HF", "hf")
    kev_bergen = _match(session, ids["kev-hit"], bergen, "product", "critical", at=IN_PERIOD - timedelta(hours=1))
    _match(session, ids["kev-hit"], oslo, "product", "critical")
    _match(session, ids["adv-amber"], helse_bergen, "name", "high")
    _match(session, ids["kev-amber"], tromso, "product", "high")
    _match(session, ids["adv-red"], tromso, "name", "high")  # RED: never counted
    _match(session, ids["adv-strict"], tromso, "name", "medium")  # AMBER+STRICT: not in an AMBER report
    _match(session, ids["kev-miss"], tromso, "product", "low", status="false_positive")
    _match(session, ids["adv-prev"], oslo, "domain", "medium", at=BEFORE)
    alert = _alert(session, "HKC-2026-000001", bergen, "clear", kev_bergen, IN_PERIOD)
    alert.acknowledged_at = IN_PERIOD + timedelta(hours=2)
    kev_bergen.notified_at, kev_bergen.fixed_at = IN_PERIOD, IN_PERIOD + timedelta(days=1)
    session.add(Delivery(notification_id=alert.id, email="a@bergen.kommune.no", status="failed",
                         created_at=IN_PERIOD))
    red_match = session.scalar(select(Match).where(Match.item_id == ids["adv-red"]))
    assert red_match is not None
    _alert(session, "HKC-2026-000002", tromso, "red", red_match, IN_PERIOD)
    session.flush()
    return Planted(ids)
