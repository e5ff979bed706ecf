"""Small SQL helpers that differ by dialect."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy.orm import Session

# PostgreSQL's `integer`, the type of every id: a larger one cannot be stored or looked up
DB_INT_MAX = 2**31 - 1
DbIdValue = Annotated[int, Field(ge=1, le=DB_INT_MAX)]  # an id in a request body


def insert_ignoring_conflicts(session: Session, model: Any) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` for PostgreSQL and SQLite (concurrent writers race safely)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).on_conflict_do_nothing()
