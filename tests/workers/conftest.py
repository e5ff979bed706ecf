"""Fixtures for the fault tests: private Redis, PostgreSQL and SMTP servers (tests/faults.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from certmon.config import get_settings
from certmon.db import dispose_engines, make_engine
from certmon.dbops import upgrade
from tests.conftest import CertmonEnv, _activate
from tests.faults import PostgresServer, RedisServer, SmtpServer


@dataclass
class PrivatePostgres:
    """The session's own PostgreSQL server and its migrated, seeded template database."""

    server: PostgresServer
    template: str

    def create_database(self) -> str:
        name = f"faults_{secrets.token_hex(4)}"
        admin = create_engine(self.server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        admin.dispose()
        return self.server.url(name)


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the tests' own (initdb + pg_ctl), which a test may restart."""
    from certmon.registry.seed import seed_registry

    server = PostgresServer()
    try:
        server.start()
        admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "faults_tpl"'))
        admin.dispose()
        engine = make_engine(server.url("faults_tpl"))
        upgrade(engine)
        with sessionmaker(engine).begin() as session:
            seed_registry(session)
        engine.dispose()
        yield PrivatePostgres(server, "faults_tpl")
    finally:
        server.remove()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own on a private port, running; the test may stop and start it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_smtp() -> Iterator[SmtpServer]:
    """aiosmtpd on a private port, running; the test may take it down and bring it back."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@dataclass
class FaultEnv:
    """certmon configured on the private servers."""

    env: CertmonEnv
    pg: PrivatePostgres
    redis: RedisServer
    smtp: SmtpServer

    @property
    def factory(self) -> sessionmaker:  # type: ignore[type-arg]
        return self.env.factory


@pytest.fixture
def fault_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_pg: PrivatePostgres,
              private_redis: RedisServer, private_smtp: SmtpServer) -> Iterator[FaultEnv]:
    """A fresh database on the private PostgreSQL, the private Redis as broker, the private SMTP relay."""
    if not private_pg.server.data.joinpath("postmaster.pid").exists():  # a test before stopped it for good
        private_pg.server.start()
    url = private_pg.create_database()
    env = _activate(monkeypatch, tmp_path / "data", url, CERTMON_BROKER_URL=private_redis.url,
                    CERTMON_SMTP_HOST="127.0.0.1", CERTMON_SMTP_PORT=str(private_smtp.port),
                    CERTMON_SMTP_TIMEOUT="5", CERTMON_LOG_LEVEL="INFO")
    yield FaultEnv(env, private_pg, private_redis, private_smtp)
    dispose_engines()
    get_settings.cache_clear()
