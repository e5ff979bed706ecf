"""Shared fixtures: real PostgreSQL databases, an isolated certmon environment, a loopback file server."""

from __future__ import annotations

import functools
import http.server
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from certmon import plugins
from certmon.config import get_settings
from certmon.db import dispose_engines, get_engine, session_factory
from certmon.dbops import upgrade

FIXTURES = Path(__file__).parent / "fixtures"
PG_HOST = os.environ.get("CERTMON_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:5432/postgres"
REDIS_URL = os.environ.get("CERTMON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require_port(port: int, what: str) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return
    except OSError:
        pytest.fail(f"{what} is not running on 127.0.0.1:{port}; `.ci/run` starts it (see README)")


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT connection to the PostgreSQL server for creating and dropping databases."""
    _require_port(5432, "PostgreSQL")
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> Iterator[str]:
    """A migrated, seeded template database; tests get fast copies of it."""
    from certmon.db import make_engine
    from certmon.registry.seed import seed_registry

    name = f"certmon_tpl_{secrets.token_hex(4)}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}")
    upgrade(engine)
    with sessionmaker(engine).begin() as session:
        seed_registry(session)
    engine.dispose()
    yield name
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_admin: Engine, pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database (schema and real registry loaded) for one test."""
    name = f"certmon_t_{secrets.token_hex(4)}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"
    dispose_engines()
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class CertmonEnv:
    """An isolated certmon configuration: its data directory and database."""

    data_dir: Path
    database_url: str

    @property
    def factory(self) -> sessionmaker[Session]:
        return session_factory()

    def session(self) -> Session:
        return session_factory()()


def _activate(monkeypatch: pytest.MonkeyPatch, data_dir: Path, url: str, **extra: str) -> CertmonEnv:
    monkeypatch.setenv("CERTMON_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CERTMON_DATABASE_URL", url)
    monkeypatch.setenv("CERTMON_SECRET_KEY", "test-secret-key-not-for-production")
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    dispose_engines()
    return CertmonEnv(data_dir=data_dir, database_url=url)


@pytest.fixture
def pg_env(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CertmonEnv]:
    """certmon configured on a fresh PostgreSQL database with the real registry."""
    env = _activate(monkeypatch, tmp_path / "data", pg_url)
    yield env
    dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CertmonEnv]:
    """certmon configured on embedded defaults: a SQLite file with the real registry."""
    from certmon.registry.seed import seed_registry

    env = _activate(monkeypatch, tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'certmon.sqlite'}")
    upgrade(get_engine())
    with session_factory().begin() as session:
        seed_registry(session)
    yield env
    dispose_engines()
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", "pg"])
def any_env(request: pytest.FixtureRequest) -> CertmonEnv:
    """The same test on embedded SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_env")  # type: ignore[no-any-return]


@pytest.fixture
def catalogue_sources(sqlite_env: CertmonEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Demo mode, with the demo catalogue (bundled samples as file:// URLs) synced into the database."""
    from certmon.sources.service import sync_catalogue

    monkeypatch.setenv("CERTMON_DEMO", "1")
    get_settings.cache_clear()
    with sqlite_env.factory.begin() as session:
        sync_catalogue(session, plugins.feeds().catalogue(demo=True))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a folder; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


@contextmanager
def serving(app: Any, **options: Any) -> Iterator[int]:
    """Run `app` under a real uvicorn on loopback in a thread; yields the port, stops it afterwards."""
    import uvicorn

    options = {"host": "127.0.0.1", "log_level": "warning", **options}
    options.setdefault("port", free_port())
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield int(options["port"])
    finally:
        server.should_exit = True
        thread.join(timeout=15)

