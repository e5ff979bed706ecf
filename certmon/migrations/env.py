"""Alembic environment: the URL comes from certmon settings unless the caller passes a connection."""

from __future__ import annotations

from alembic import context

import certmon.models  # noqa: F401  (registers every table)
from certmon.db import Base, get_engine
from certmon.items.search import include_object  # the search index objects are not in the models

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations on the connection given in config.attributes, or on the configured engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        return
    with get_engine().connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()


run_migrations()
