"""`certmon db …`: schema management."""

from __future__ import annotations

from certmon.cli.common import out
from certmon.cli.framework import CertmonTyper
from certmon.i18n import N_

app = CertmonTyper(help=N_("Database schema (create and upgrade)."))


@app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema in the configured database."""
    from certmon.config import get_settings
    from certmon.dbops import current_revision, upgrade

    upgrade()
    url = get_settings().db_url.split("@")[-1]
    out.print(f"databasen er oppdatert til revisjon {current_revision()} ({url})")


@app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    from certmon.dbops import current_revision

    out.print(current_revision() or "tom database (kjør `certmon db upgrade`)")
