"""Schema management: `certmon db upgrade` runs the Alembic migrations programmatically."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from certmon.db import get_engine


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", "certmon:migrations")
    return cfg


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    """Create or migrate the schema to `revision` on the given (or configured) database."""
    engine = engine or get_engine()
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine | None = None) -> str | None:
    """The schema revision stored in the database, or None for an empty database."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return row[0] if row else None


def head_revision() -> str | None:
    """The newest migration this version of certmon ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()

