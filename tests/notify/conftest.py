"""Fixtures for alert tests: migrated databases (SQLite, PostgreSQL), a real SMTP server, factories."""

from __future__ import annotations

import email
import itertools
import secrets
import socket
from collections.abc import Iterator
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from certmon.config import Settings
from certmon.db import make_engine
from certmon.dbops import upgrade

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_seq = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'certmon.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not _pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    name = f"certmon_notify_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")


@pytest.fixture
def factory(sqlite_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=sqlite_engine, expire_on_commit=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key=SecretStr("test-secret-" + "x" * 32),
        mail_from="varsel@kommunecert.no",
        base_url="https://certmon.example.no",
        smtp_timeout=5,
    )


# --- a real SMTP server ----------------------------------------------------------------------------
class RecordingHandler:
    """Stores every accepted message; `script` lists replies/actions for successive DATA commands."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.script: list[str] = []  # "451", "550", "drop" for the next DATA commands; then accept
        self.data_calls = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        action = self.script.pop(0) if self.script else "ok"
        if action == "451":
            return "451 4.3.0 Temporary failure, try again"
        if action == "550":
            return "550 5.1.1 User unknown"
        if action == "drop":
            server.transport.close()
            return "421 closing"
        msg = email.message_from_bytes(envelope.original_content, policy=email_policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 2.0.0 Message accepted"

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield handler, port
    finally:
        ctl.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp_server: tuple[RecordingHandler, int]) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server[1]})
