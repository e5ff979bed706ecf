"""`certmon db …`: schema management."""

from __future__ import annotations

import typer

from certmon.cli.common import out
from certmon.config import get_settings
from certmon.dbops import current_revision, upgrade

app = typer.Typer(help="Databaseskjema (opprett og oppgrader).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema in the configured database."""
    upgrade()
    url = get_settings().db_url.split("@")[-1]
    out.print(f"databasen er oppdatert til revisjon {current_revision()} ({url})")


@app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    out.print(current_revision() or "tom database (kjør `certmon db upgrade`)")
