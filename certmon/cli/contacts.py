"""`certmon contacts …`: the people and function mailboxes that receive alerts."""

from __future__ import annotations

from pathlib import Path

import typer

from certmon.cli.common import db_session, out, read_text
from certmon.cli.framework import CertmonTyper, existing_path
from certmon.i18n import N_, _, count

app = CertmonTyper(help=N_("Contacts who receive alerts."))


@app.command("import")
def contacts_import(
    file: Path = typer.Argument(..., help=N_("CSV: org_number,email,name,language,tlp_max,mode"),
                                callback=existing_path),
) -> None:
    """Import contacts from CSV; all-or-nothing, every bad row named."""
    from certmon.notify.contacts import import_contacts

    text = read_text(file)
    with db_session() as session:
        result = import_contacts(session, text=text, actor="cli")
    out.print(", ".join([count("%(num)s contact created", "%(num)s contacts created", result.created),
                         _("%(num)s updated") % {"num": result.updated}]))


@app.command("list")
def contacts_list(
    org: str = typer.Option("", "--org", metavar="ORG_NUMBER", help=N_(
        "only this organisation (organisation number)")),
) -> None:
    """List contacts: org number, e-mail, language, highest TLP, mode."""
    from certmon.notify.contacts import list_contacts
    from certmon.registry.models import Constituent

    with db_session() as session:
        for c in list_contacts(session, org_number=org or None):
            owner = session.get(Constituent, c.constituent_id)
            state = "" if c.active else " " + _("(inactive)")
            out.print(f"{owner.org_number if owner else '-'}\t{c.email}\t{c.name}\t{c.language}\t"
                      f"{c.tlp_max}\t{c.mode}{state}", markup=False)
