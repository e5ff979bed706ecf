"""Delivery starts when the match is made: a committed transaction that queued alerts calls the
installed dispatcher (a rollback does not); embedded, the default dispatcher delivers in-process at
once, to a real aiosmtpd server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certmon.config import get_settings
from certmon.notify import dispatch, soon
from certmon.notify.models import Delivery
from certmon.notify.outbox import queue_alerts
from tests.notify.notify_helpers import make_constituent, make_contact, make_match


@pytest.fixture
def recorded() -> Iterator[list[list[int]]]:
    calls: list[list[int]] = []
    uninstall = dispatch.install(lambda session, ids: calls.append(ids))
    yield calls
    uninstall()


def _queue(s: Session, severity: str = "critical") -> list[int]:
    c = make_constituent(s)
    make_contact(s, c, "sikkerhet@bergen.kommune.no")
    return [n.id for n in queue_alerts(s, match_ids=[make_match(s, c, severity=severity).id])]


def test_commit_dispatches_what_was_queued_and_rollback_forgets_it(factory: sessionmaker[Session],
                                                                   recorded: list[list[int]]) -> None:
    with factory() as s:
        ids = _queue(s)
        assert recorded == []  # nothing leaves before the commit
        s.commit()
        assert recorded == [ids]
        s.commit()  # an empty commit dispatches nothing
        _queue(s)
        s.rollback()
        s.commit()
    assert recorded == [ids]


def test_nothing_is_dispatched_without_a_dispatcher(factory: sessionmaker[Session]) -> None:
    calls: list[list[int]] = []
    uninstall = dispatch.install(lambda session, ids: calls.append(ids))
    uninstall()
    with factory() as s:
        _queue(s)
        s.commit()
    assert calls == []


def test_a_failing_dispatcher_never_undoes_the_commit(factory: sessionmaker[Session], caplog) -> None:
    def broken(session: Session, ids: list[int]) -> None:
        raise ConnectionError("broker down")

    uninstall = dispatch.install(broken)
    try:
        with factory() as s:
            _queue(s)
            s.commit()
    finally:
        uninstall()
    with factory() as s:
        assert s.scalars(select(Delivery.status)).all() == ["queued"]  # the tick will send it
    assert "next tick" in caplog.text


def test_embedded_delivers_in_process_at_once(sqlite_env, smtp_server, monkeypatch) -> None:
    handler, port = smtp_server
    monkeypatch.setenv("CERTMON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CERTMON_SMTP_PORT", str(port))
    get_settings.cache_clear()
    assert not get_settings().broker_url
    uninstall = soon.install()
    try:
        with sqlite_env.factory() as s:
            _queue(s)
            s.commit()
        deadline = time.monotonic() + 30
        while (not handler.messages or soon._background._running) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        uninstall()
    assert len(handler.messages) == 1  # no tick ran: the commit started the delivery
    with sqlite_env.factory() as s:
        assert s.scalars(select(Delivery.status)).all() == ["sent"]
