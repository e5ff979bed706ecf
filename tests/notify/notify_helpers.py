"""Factories for alert tests (imported by the tests as `notify_helpers`)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.registry.models import Constituent, Contact
from certmon.sources.models import Source

_seq = itertools.count(1)


def near(value: datetime | None, expected: datetime) -> bool:
    """Delivery stamps `now=` plus the real time elapsed in the run: at or just after `expected`."""
    return value is not None and expected <= value < expected + timedelta(minutes=1)


def make_constituent(session: Session, name: str = "Bergen kommune", **kw: Any) -> Constituent:
    n = next(_seq)
    c = Constituent(
        name=name, kind=kw.pop("kind", "kommune"), org_number=kw.pop("org_number", f"{900000000 + n}"), **kw
    )
    session.add(c)
    session.flush()
    return c


def make_contact(session: Session, constituent: Constituent, email_addr: str, **kw: Any) -> Contact:
    c = Contact(
        constituent_id=constituent.id,
        email=email_addr,
        name=kw.pop("name", "Sikkerhet"),
        language=kw.pop("language", "nb"),
        tlp_max=kw.pop("tlp_max", "amber"),
        mode=kw.pop("mode", "immediate"),
        min_severity=kw.pop("min_severity", "low"),
        **kw,
    )
    session.add(c)
    session.flush()
    return c


def make_source(session: Session) -> Source:
    src = Source(
        name=f"src-{next(_seq)}", title="abuse.ch Feodo Tracker", format="feodo", url="https://x.invalid/"
    )
    session.add(src)
    session.flush()
    return src


def make_match(
    session: Session,
    constituent: Constituent,
    *,
    tlp: str = "amber",
    rule: str = "ip-network",
    confidence: int = 90,
    severity: str = "high",
    status: str = "new",
    value: str | None = None,
    source: Source | None = None,
    kind: str = "indicator",
    known_exploited: bool = False,
) -> Match:
    n = next(_seq)
    src = source or make_source(session)
    value = value or f"192.0.2.{n % 250}"
    item = StoredItem(
        source_id=src.id,
        kind=kind,
        key=f"k{n}",
        tlp=tlp,
        indicator_type="ipv4",
        value=value,
        content_hash=f"{n:032d}",
        data={"kind": kind, "value": value},
        known_exploited=known_exploited,
    )
    session.add(item)
    session.flush()
    m = Match(
        item_id=item.id,
        constituent_id=constituent.id,
        rule=rule,
        asset="192.0.2.0/24",
        confidence=confidence,
        explanation=f"Adressen {value} ligger i nettet 192.0.2.0/24.",
        severity=severity,
        status=status,
    )
    session.add(m)
    session.flush()
    return m
