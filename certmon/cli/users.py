"""`certmon users …`: accounts for the dashboard and API."""

from __future__ import annotations

import sys

import typer
from sqlalchemy import select

from certmon.auth.invites import make_link
from certmon.auth.models import User
from certmon.auth.service import create_user, end_sessions, issue_token, revoke_user_tokens, set_role
from certmon.cli.common import constituent_id_for, db_session, out
from certmon.errors import NotFound, ValidationFailed

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
    invite: bool = typer.Option(
        False, "--invite", help="ikke les noe passord; skriv ut en engangslenke (7 dager) der brukeren setter det"
    ),
) -> None:
    """Create a user; the password is read from stdin (piped) or prompted for, or set by the user
    through a one-time link (--invite)."""
    password: str | None = None  # with --invite: none; the user sets it through the link
    if invite:
        password = None
    elif sys.stdin.isatty():
        password = typer.prompt("Passord", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    with db_session() as session:
        constituent_id = constituent_id_for(session, org)
        user = create_user(session, email=email, role=role, password=password, name=name,
                           constituent_id=constituent_id, tlp_max=tlp_max)
        api_token = issue_token(session, user=user, name="cli") if token else None
        link = make_link(session, user, actor="cli") if invite else None
    where = f" for {org}" if org else ""
    out.print(f"brukeren {user.email} ({user.role}{where}) er opprettet")
    if api_token:
        out.print(f"API-nøkkel (vises bare nå): {api_token}")
    if link:
        out.print(f"lenke for å sette passord (gjelder i 7 dager, kan brukes én gang): {link}")


@app.command("password-link")
def users_password_link(email: str = typer.Option(..., "--email")) -> None:
    """Print a one-time link (7 days) where the user sets a new password; the old one stays valid until then."""
    with db_session() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise NotFound(f"fant ingen bruker {email}")
        if not user.active:
            raise ValidationFailed(f"brukeren {user.email} er deaktivert")
        link = make_link(session, user, actor="cli")
    out.print(f"lenke for å sette passord for {user.email} (gjelder i 7 dager, kan brukes én gang): {link}")


@app.command("revoke-tokens")
def users_revoke_tokens(email: str = typer.Option(..., "--email")) -> None:
    """Revoke every API token of a user."""
    with db_session() as session:
        count = revoke_user_tokens(session, email=email, actor="cli")
    out.print(f"{count} API-nøkler tilbakekalt for {email}")


@app.command("set-role")
def users_set_role(
    email: str = typer.Option(..., "--email"),
    role: str = typer.Option(..., "--role", help="admin, analyst eller reader"),
    tlp_max: str | None = typer.Option(None, "--tlp-max", help="ny høyeste TLP (uendret uten)"),
) -> None:
    """Change a staff user's role (and TLP ceiling); the user's signed-in sessions end."""
    with db_session() as session:
        user = set_role(session, email=email, role=role, tlp_max=tlp_max, actor="cli")
    out.print(f"{user.email} har nå rollen {user.role} (TLP {user.tlp_max}); innloggede økter er avsluttet")


@app.command("sign-out")
def users_sign_out(email: str = typer.Option(..., "--email")) -> None:
    """Sign a user out everywhere: every dashboard session of the account ends now."""
    with db_session() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise NotFound(f"fant ingen bruker {email}")
        end_sessions(session, user=user, actor="cli")
    out.print(f"alle innloggede økter for {user.email} er avsluttet")
