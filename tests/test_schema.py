"""The migrations build exactly the schema the ORM models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import certmon.models  # noqa: F401  (every model registered on Base.metadata)
from certmon.db import Base, get_engine
from certmon.items.search import include_object


@pytest.mark.parametrize("any_env", ["sqlite", "pg"], indirect=True)
def test_migrations_match_the_models(any_env):
    with get_engine().connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
