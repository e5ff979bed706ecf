"""Incident fixtures: a source with items at every TLP level and a match, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.registry.models import Constituent
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from tests.dashboards.conftest import dash, prepared_db  # noqa: F401  (dashboard fixtures for the page tests)

TLPS = ("clear", "green", "amber", "amber+strict", "red")


@dataclass(frozen=True)
class World:
    """Ids planted in the test database."""

    items: dict[str, int]  # tlp → item id
    bergen_id: int
    oslo_id: int
    red_match_id: int
    green_match_id: int


def plant(factory) -> World:  # type: ignore[no-untyped-def]
    """Items at every TLP level, and matches on a GREEN and a RED item for Bergen kommune."""
    with factory.begin() as session:
        source = create_source(session, SourceCreate(name="inc-test", format="rss", url="https://x.example/"))
        items = [Item(kind="advisory", key=f"inc-{tlp}", tlp=tlp, source_format="rss", title=f"Varsel {tlp}",
                      published="2026-11-10T08:00:00Z") for tlp in TLPS]
        ids = upsert_items(session, source_id=source.id, items=items).new_ids
        bergen = session.scalars(select(Constituent).where(Constituent.name == "Bergen",
                                                           Constituent.kind == "kommune")).one()
        oslo = session.scalars(select(Constituent).where(Constituent.name == "Oslo")).first()
        assert oslo is not None
        matches = [Match(item_id=ids[i], constituent_id=bergen.id, rule="name", asset="Bergen kommune",
                         confidence=60, explanation=f"Teksten nevner «Bergen kommune» ({i}).", severity="high")
                   for i in (1, 4)]
        session.add_all(matches)
        session.flush()
        return World(dict(zip(TLPS, ids, strict=True)), bergen.id, oslo.id, matches[1].id, matches[0].id)


@pytest.fixture
def world(any_env) -> World:  # type: ignore[no-untyped-def]
    """The planted world on SQLite and PostgreSQL."""
    return plant(any_env.factory)
