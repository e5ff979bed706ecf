"""`certmon users …`: accounts for the dashboard and API."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal

import typer

from certmon.cli.common import constituent_id_for, db_session, out
from certmon.cli.framework import CertmonTyper
from certmon.errors import NotFound, ValidationFailed
from certmon.i18n import N_, _, count

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from certmon.auth.models import User

app = CertmonTyper(help=N_("Users and API tokens."))
Role = Literal["admin", "analyst", "reader", "constituent", "feeder"]  # certmon.auth.service.ROLES
StaffRole = Literal["admin", "analyst", "reader"]


def _email() -> str:
    return typer.Option(..., "--email", metavar="EMAIL", help=N_("the user's e-mail address"))  # type: ignore[no-any-return]


TLP_HELP = N_("the highest TLP the user may see (clear, green, amber, amber+strict, red)")


def _user(session: Session, email: str) -> User:
    from sqlalchemy import select

    from certmon.auth.models import User

    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(_("found no user %(email)s") % {"email": email})
    return user


@app.command("create")
def users_create(
    email: str = _email(),
    role: Role = typer.Option(..., "--role", help=N_("the user's role")),
    name: str = typer.Option("", "--name", metavar="NAME", help=N_("the user's name")),
    org: str | None = typer.Option(None, "--org", metavar="ORG_NUMBER", help=N_(
        "organisation number (required for the role constituent)")),
    tlp_max: str | None = typer.Option(None, "--tlp-max", metavar="TLP", help=TLP_HELP),
    token: bool = typer.Option(False, "--token", help=N_("also make an API token and print it once")),
    invite: bool = typer.Option(False, "--invite", help=N_(
        "read no password; print a one-time link (7 days) where the user sets it")),
) -> None:
    """Create a user; the password comes from stdin (piped) or a prompt, or the user sets it (--invite)."""
    from certmon.auth.invites import make_link
    from certmon.auth.service import create_user, issue_token

    password: str | None = None  # with --invite: none; the user sets it through the link
    if invite:
        password = None
    elif sys.stdin.isatty():
        password = typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    with db_session() as session:
        constituent_id = constituent_id_for(session, org)
        user = create_user(session, email=email, role=role, password=password, name=name,
                           constituent_id=constituent_id, tlp_max=tlp_max)
        api_token = issue_token(session, user=user, name="cli") if token else None
        link = make_link(session, user, actor="cli") if invite else None
    where = f" for {org}" if org else ""
    out.print(f"brukeren {user.email} ({user.role}{where}) er opprettet", markup=False)
    if api_token:
        out.print(f"API-nøkkel (vises bare nå): {api_token}", markup=False)
    if link:
        out.print(f"lenke for å sette passord (gjelder i 7 dager, kan brukes én gang): {link}", markup=False)


@app.command("password-link")
def users_password_link(email: str = _email()) -> None:
    """Print a one-time link (7 days) where the user sets a new password; the old one stays valid until then."""
    from certmon.auth.invites import make_link

    with db_session() as session:
        user = _user(session, email)
        if not user.active:
            raise ValidationFailed(f"brukeren {user.email} er deaktivert")
        link = make_link(session, user, actor="cli")
    out.print(f"lenke for å sette passord for {user.email} (gjelder i 7 dager, kan brukes én gang): {link}",
              markup=False)


@app.command("revoke-tokens")
def users_revoke_tokens(email: str = _email()) -> None:
    """Revoke every API token of a user."""
    from certmon.auth.service import revoke_user_tokens

    with db_session() as session:
        revoked = revoke_user_tokens(session, email=email, actor="cli")
    out.print(count("%(num)s API token revoked for %(email)s", "%(num)s API tokens revoked for %(email)s",
                    revoked, email=email), markup=False)


@app.command("set-role")
def users_set_role(
    email: str = _email(),
    role: StaffRole = typer.Option(..., "--role", help=N_("the new role")),
    tlp_max: str | None = typer.Option(None, "--tlp-max", metavar="TLP", help=N_(
        "the new highest TLP (unchanged without)")),
) -> None:
    """Change a staff user's role (and TLP ceiling); the user's signed-in sessions end."""
    from certmon.auth.service import set_role

    with db_session() as session:
        user = set_role(session, email=email, role=role, tlp_max=tlp_max, actor="cli")
    out.print(f"{user.email} har nå rollen {user.role} (TLP {user.tlp_max}); innloggede økter er avsluttet",
              markup=False)


@app.command("sign-out")
def users_sign_out(email: str = _email()) -> None:
    """Sign a user out everywhere: every dashboard session of the account ends now."""
    from certmon.auth.service import end_sessions

    with db_session() as session:
        user = _user(session, email)
        end_sessions(session, user=user, actor="cli")
    out.print(f"alle innloggede økter for {user.email} er avsluttet", markup=False)


@app.command("links")
def users_links(email: str = _email()) -> None:
    """Show which single sign-on providers the account is linked to (docs/authentication.md)."""
    from certmon.auth.oidc.service import links_of

    with db_session() as session:
        user = _user(session, email)
        links = links_of(session, user)
        if not links:
            out.print(_("%(email)s is linked to no sign-in provider") % {"email": user.email}, markup=False)
        for link in links:
            last = link.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if link.last_login_at else "–"
            out.print(_("%(provider)s: linked by %(how)s on %(date)s, last sign-in %(last)s") % {
                "provider": link.provider, "how": link.linked_by, "date": link.created_at.strftime("%Y-%m-%d"),
                "last": last}, markup=False)


@app.command("unlink")
def users_unlink(
    email: str = _email(),
    provider: str = typer.Option(..., "--provider", metavar="NAME", help=N_("the provider's name in "
                                                                          "CERTMON_OIDC_PROVIDERS")),
) -> None:
    """Remove the account's link to a single sign-on provider; the next sign-in there needs a new invitation."""
    from certmon.auth.oidc.service import unlink

    with db_session() as session:
        user = _user(session, email)
        if not unlink(session, user=user, provider=provider, actor="cli"):
            raise NotFound(_("%(email)s is not linked to %(provider)s") % {"email": user.email, "provider": provider})
    out.print(_("the link between %(email)s and %(provider)s is removed; the account's sessions have ended") % {
        "email": user.email, "provider": provider}, markup=False)
