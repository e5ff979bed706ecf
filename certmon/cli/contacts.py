"""`certmon contacts …`: the people and function mailboxes that receive alerts."""

from __future__ import annotations

from pathlib import Path

import typer

from certmon.cli.common import db_session, out, read_text
from certmon.notify.contacts import import_contacts, list_contacts
from certmon.registry.models import Constituent

app = typer.Typer(help="Kontakter som mottar varsler.", no_args_is_help=True)


@app.command("import")
def contacts_import(
    file: Path = typer.Argument(..., help="CSV: org_number,email,name,language,tlp_max,mode"),
) -> None:
    """Import contacts from CSV; all-or-nothing, every bad row named."""
    text = read_text(file)
    with db_session() as session:
        result = import_contacts(session, text=text, actor="cli")
    out.print(f"{result.created} kontakter opprettet, {result.updated} oppdatert")


@app.command("list")
def contacts_list(
    org: str = typer.Option("", "--org", help="bare denne virksomheten (organisasjonsnummer)"),
) -> None:
    """List contacts: org number, e-mail, language, highest TLP, mode."""
    with db_session() as session:
        for c in list_contacts(session, org_number=org or None):
            owner = session.get(Constituent, c.constituent_id)
            state = "" if c.active else " (inaktiv)"
            out.print(
                f"{owner.org_number if owner else '-'}\t{c.email}\t{c.name}\t{c.language}\t"
                f"{c.tlp_max}\t{c.mode}{state}"
            )
