"""`certmon users …`: accounts for the dashboard and API."""

from __future__ import annotations

import sys

import typer

from certmon.auth.service import create_user, issue_token, revoke_user_tokens
from certmon.cli.common import db_session, out
from certmon.errors import NotFound
from certmon.registry.service import find_by_org_number

app = typer.Typer(help="Brukere og API-nøkler.", no_args_is_help=True)


@app.command("create")
def users_create(
    email: str = typer.Option(..., "--email"),
    role: str = typer.Option(..., "--role", help="admin, analyst, reader eller constituent"),
    name: str = typer.Option("", "--name"),
    org: str | None = typer.Option(None, "--org", help="organisasjonsnummer (kreves for rollen constituent)"),
    tlp_max: str | None = typer.Option(
        None, "--tlp-max", help="høyeste TLP brukeren får se (clear, green, amber, amber+strict, red)"
    ),
    token: bool = typer.Option(False, "--token", help="lag også en API-nøkkel og skriv den ut én gang"),
) -> None:
    """Create a user; the password is read from stdin (piped) or prompted for."""
    if sys.stdin.isatty():
        password = typer.prompt("Passord", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    with db_session() as session:
        constituent_id = None
        if org:
            constituent = find_by_org_number(session, org)
            if constituent is None:
                raise NotFound(f"fant ingen virksomhet med organisasjonsnummer {org}")
            constituent_id = constituent.id
        user = create_user(session, email=email, role=role, password=password, name=name,
                           constituent_id=constituent_id, tlp_max=tlp_max)
        api_token = issue_token(session, user=user, name="cli") if token else None
    where = f" for {org}" if org else ""
    out.print(f"brukeren {user.email} ({user.role}{where}) er opprettet")
    if api_token:
        out.print(f"API-nøkkel (vises bare nå): {api_token}")


@app.command("revoke-tokens")
def users_revoke_tokens(email: str = typer.Option(..., "--email")) -> None:
    """Revoke every API token of a user."""
    with db_session() as session:
        count = revoke_user_tokens(session, email=email, actor="cli")
    out.print(f"{count} API-nøkler tilbakekalt for {email}")
