"""Dashboard fixtures: one prepared SQLite database (real registry, demo users and assets, demo samples run
through the real pipeline, plus a TLP:RED item and a hostile item), copied fresh for every test."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon import plugins
from certmon.db import dispose_engines, get_engine, session_factory
from certmon.dbops import upgrade
from certmon.demo.load import load_demo
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.registry.models import Constituent
from certmon.registry.seed import seed_registry
from certmon.sources.models import Source
from certmon.sources.service import sync_catalogue
from tests.conftest import _activate

DEMO_SOURCES = ("nsm-ncsc", "demo-partner-stix", "demo-shadowserver-rdp", "cisa-kev")
RED_TITLE = "RØD: intern hendelse hos Bergen kommune"
XSS_TITLE = '<script>alert("tittel")</script> Skadelig tittel'
XSS_SUMMARY = ('<p>Trygg tekst om æøå</p><script>alert("sammendrag")</script><img src="x" onerror="alert(1)">'
               '<a href="javascript:alert(2)">klikk</a> <a href="https://example.org/les">lenke</a>')


@dataclass(frozen=True)
class Prepared:
    """The template database and the ids of the planted items."""

    path: Path
    red_item_id: int
    red_match_id: int
    xss_item_id: int


def _ingest_demo(session_source_ids: dict[str, int]) -> None:
    from feeds.collect import SAMPLES_DIR, Document, run_source

    samples = {e["name"]: e.get("sample") for e in _raw_catalogue()}
    for name in DEMO_SOURCES:
        sample = SAMPLES_DIR / samples[name]
        report = run_source(session_factory(), session_source_ids[name],
                            documents=[Document(sample.read_bytes(), sample.name)])
        assert report.outcome == "ok", report


def _raw_catalogue() -> list[dict]:
    import yaml

    from feeds.plugin import CATALOGUE

    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["sources"]


def _plant(session: Session, source_id: int) -> tuple[int, int, int]:
    red = Item(kind="advisory", key="test-red-1", tlp="red", source_format="stix", title=RED_TITLE,
               summary="Kun for analytikere.", published="2026-01-10T08:00:00Z")
    xss = Item(kind="advisory", key="test-xss-1", tlp="clear", source_format="rss", title=XSS_TITLE,
               summary=XSS_SUMMARY, url="javascript:alert(3)", published="2026-01-09T08:00:00Z")
    ids = upsert_items(session, source_id=source_id, items=[red, xss]).new_ids
    bergen = session.scalar(select(Constituent).where(Constituent.name == "Bergen",
                                                      Constituent.kind == "kommune"))
    assert bergen is not None
    match = Match(item_id=ids[0], constituent_id=bergen.id, rule="name", asset="Bergen kommune",
                  confidence=60, explanation="Teksten nevner «Bergen kommune».", severity="high",
                  status="new")
    session.add(match)
    session.flush()
    return ids[0], match.id, ids[1]


@pytest.fixture(scope="session")
def prepared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    """Build the database once per session."""
    data = tmp_path_factory.mktemp("dashboard-template") / "data"
    data.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        _activate(mp, data, f"sqlite:///{data / 'certmon.sqlite'}", CERTMON_DEMO="1")
        upgrade(get_engine())
        with session_factory().begin() as session:
            seed_registry(session)
            load_demo(session)
            sync_catalogue(session, plugins.feeds().catalogue(demo=True))
        with session_factory().begin() as session:
            source_ids = {s.name: s.id for s in session.scalars(select(Source))}
        _ingest_demo(source_ids)
        with session_factory().begin() as session:
            red_id, red_match, xss_id = _plant(session, source_ids["demo-partner-stix"])
        dispose_engines()
    yield Prepared(data / "certmon.sqlite", red_id, red_match, xss_id)
    from certmon.config import get_settings

    get_settings.cache_clear()


class Dashboard:
    """A TestClient on a fresh copy of the prepared database, with a login helper."""

    def __init__(self, client: TestClient, prepared: Prepared) -> None:
        self.client = client
        self.prepared = prepared

    def csrf(self, path: str = "/login") -> str:
        """The CSRF token from a page's form."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def login(self, email: str, password: str = "demo") -> str:
        """Sign in; returns the session's CSRF token."""
        token = self.csrf()
        r = self.client.post("/login", data={"csrf_token": token, "email": email, "password": password,
                                             "next": "/"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return self.csrf("/")

    def session(self) -> Session:
        return session_factory()()


@pytest.fixture(autouse=True)
def _no_delivery_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page tests look at states (a confirmed match, a queued alert) that the server's at-once
    delivery would move on from in a background thread; here the tick's job is nobody's.
    Delivery on commit is tested in tests/notify/test_dispatch.py and tests/workers."""
    from certmon.notify import soon

    monkeypatch.setattr(soon, "install", lambda: lambda: None)


@pytest.fixture
def dash(prepared_db: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    """The app on a private copy of the prepared database (demo mode on)."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(prepared_db.path, data / "certmon.sqlite")
    _activate(monkeypatch, data, f"sqlite:///{data / 'certmon.sqlite'}", CERTMON_DEMO="1")
    from certmon.api.app import create_app

    with TestClient(create_app()) as client:
        yield Dashboard(client, prepared_db)
    dispose_engines()


@pytest.fixture
def live_server(prepared_db: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """uvicorn serving the app on a free loopback port (a private database copy); yields the base URL."""


    from tests.conftest import serving

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(prepared_db.path, data / "certmon.sqlite")
    _activate(monkeypatch, data, f"sqlite:///{data / 'certmon.sqlite'}", CERTMON_DEMO="1")
    from certmon.api.app import create_app

    with serving(create_app()) as port:
        yield f"http://127.0.0.1:{port}"
    dispose_engines()
