"""Property test on the real e-mails: generated contacts and matches go through queue_alerts in SQLite,
every delivery is planned and built, and no message carries an item above its recipient's clearance.

Checked in the plain text, the HTML part and the CSV attachment of every generated e-mail: withheld
items' values never appear; the TLP label in the subject, X-TLP and at the top of both bodies is
the highest TLP actually included; TLP:RED never appears; AMBER+STRICT only goes to contacts of the
constituent the match concerns. Each example runs in one transaction that is rolled back, so the
migrated database is created once per test run.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from certmon.config import Settings
from certmon.db import make_engine
from certmon.dbops import upgrade
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.compose import build_message
from certmon.notify.content import plan_delivery
from certmon.notify.models import Delivery, Notification
from certmon.notify.outbox import queue_alerts
from certmon.registry.models import Contact
from certmon.tlp import TLP, parse_tlp
from tests.notify.notify_helpers import make_constituent, make_contact, make_source

NOW = datetime(2026, 3, 10, 12, 3, tzinfo=UTC)
LABEL = re.compile(r"TLP:(CLEAR|GREEN|AMBER\+STRICT|AMBER|RED)")
_serial = itertools.count(1)

tlps = st.sampled_from(list(TLP))
severities = st.sampled_from(["low", "medium", "high", "critical"])
contact_specs = st.lists(
    st.tuples(st.integers(0, 1), tlps, st.sampled_from(["immediate", "digest"]), severities),
    min_size=1,
    max_size=5,
)
# (TLP, severity, which constituents it matches: 0 = own, 1 = other, 2 = both)
item_specs = st.lists(st.tuples(tlps, severities, st.integers(0, 2)), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('tlp') / 'certmon.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def mail_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key=SecretStr("test-secret-" + "x" * 32),
        mail_from="varsel@kommunecert.no",
        base_url="https://certmon.example.no",
    )


def _matches(session: Session, constituents: list, specs: list) -> dict[str, tuple[TLP, set[int]]]:
    """One item per spec, matched to one or both constituents; value → (TLP, constituent ids)."""
    source = make_source(session)
    values: dict[str, tuple[TLP, set[int]]] = {}
    for tlp, severity, target in specs:
        n = next(_serial)
        value = f"marker{n:07d}x.example"
        item = StoredItem(
            source_id=source.id, kind="indicator", key=f"tlp-{n}", tlp=tlp.value_str, tlp_rank=int(tlp),
            indicator_type="domain", value=value, content_hash=f"{n:032d}", data={"value": value},
        )
        session.add(item)
        session.flush()
        owners = [constituents[0], constituents[1]] if target == 2 else [constituents[target]]
        for c in owners:
            session.add(Match(
                item_id=item.id, constituent_id=c.id, rule="domain", asset="example", confidence=95,
                explanation=f"Domenet {value} er registrert.", severity=severity, status="new",
            ))
        values[value] = (tlp, {c.id for c in owners})
    session.flush()
    return values


def _parts(msg: EmailMessage) -> dict[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    csvs = [p.get_content() for p in msg.iter_attachments()]
    csv = "".join(c.decode() if isinstance(c, bytes) else c for c in csvs)
    return {"text": text.get_content(), "html": html.get_content(), "csv": csv}


def _check(msg: EmailMessage, contact: Contact, values: dict[str, tuple[TLP, set[int]]]) -> None:
    parts = _parts(msg)
    everything = "\n".join(parts.values())
    clearance = parse_tlp(contact.tlp_max)
    included = []
    for value, (tlp, owners) in values.items():
        shown = value in everything
        if tlp > clearance or tlp == TLP.RED:
            assert not shown, f"{tlp.label} item sent to a contact cleared for {clearance.label}"
        if shown:
            if tlp == TLP.AMBER_STRICT:
                assert contact.constituent_id in owners, "AMBER+STRICT to another constituent's contact"
            assert all(value in p for p in parts.values())  # text, HTML and CSV agree
            included.append(tlp)
    assert included, "an e-mail with nothing in it"
    top = max(included)
    assert msg["X-TLP"] == top.label and str(msg["Subject"]).startswith(f"[{top.label}] ")
    for name in ("text", "html"):
        labels = [parse_tlp(m) for m in LABEL.findall(parts[name])]
        assert max(labels) == top, f"{name} part shows a label other than {top.label}"
        assert parts[name].index(top.label) <= parts[name].index(_first_value(parts[name], values))
    assert "TLP:RED" not in everything


def _first_value(body: str, values: dict[str, tuple[TLP, set[int]]]) -> str:
    """The first item value appearing in a body (the label must come before any item)."""
    return min((v for v in values if v in body), key=body.index)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contacts=contact_specs, items=item_specs)
def test_generated_emails_respect_tlp(engine: Engine, mail_settings: Settings, contacts, items) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        try:
            constituents = [make_constituent(session, "Egen kommune"), make_constituent(session, "Annen kommune")]
            for who, clearance, mode, min_severity in contacts:
                make_contact(
                    session, constituents[who], f"c{next(_serial)}@k{who}.example.no",
                    tlp_max=clearance.value_str, mode=mode, min_severity=min_severity,
                )
            values = _matches(session, constituents, items)
            ids = [m.id for m in session.scalars(select(Match).where(
                Match.constituent_id.in_([c.id for c in constituents])))]
            queue_alerts(session, match_ids=ids, now=NOW)
            deliveries = session.scalars(
                select(Delivery).join(Notification).where(
                    Notification.constituent_id.in_([c.id for c in constituents])
                )
            ).all()
            for delivery in deliveries:
                planned = plan_delivery(session, delivery, mail_settings)
                if planned.content is None:
                    continue
                msg = build_message(
                    planned.content, to=delivery.email, mail_from=mail_settings.mail_from,
                    message_id="<test@kommunecert.no>", date=NOW,
                )
                contact = session.get(Contact, delivery.contact_id)
                assert contact is not None
                _check(msg, contact, values)
        finally:
            session.rollback()
