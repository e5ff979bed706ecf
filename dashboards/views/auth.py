"""Sign in and out with the signed session cookie shared with the API."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from certmon.auth import invites
from certmon.auth.service import end_sessions, password_allowed, refuse_password, session_claims
from certmon.auth.throttle import TooManyAttempts, sign_in
from certmon.config import get_settings
from certmon.errors import ValidationFailed
from certmon.web.deps import SessionDep, client_address, sign_in_throttle
from dashboards.formatting import gettext as _
from dashboards.views.oidc import end_session_page
from dashboards.web import DASHBOARD_ROLES, CsrfChecked, flash, render, safe_next, session_user

router = APIRouter(include_in_schema=False)


def _demo_accounts() -> list[tuple[str, str, str]]:
    if not get_settings().demo:
        return []
    from certmon.demo.load import DEMO_PASSWORD, DEMO_USERS

    return [(email, role, DEMO_PASSWORD) for email, role, _name in DEMO_USERS]


def _login_page(request: Request, *, next_path: str, email: str = "", error: str | None = None,
                status: int = 200, retry_after: int | None = None) -> Response:
    response = render(request, None, "login.html", http_status=status, next_path=safe_next(next_path),
                      email=email, error=error, demo_accounts=_demo_accounts(), providers=get_settings().oidc)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _wait_text(exc: TooManyAttempts) -> str:
    minutes = max(1, round(exc.retry_after / 60))
    if exc.retry_after < 60:
        return _("Too many sign-in attempts. Try again in %(s)s seconds.") % {"s": exc.retry_after}
    return _("Too many sign-in attempts. Try again in %(m)s minutes, or ask for a new password link.") % {
        "m": minutes}


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (with the demo accounts in demo mode)."""
    return _login_page(request, next_path=next)


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request, session: SessionDep, email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the credentials behind the sign-in limits (429 with Retry-After); on success start a fresh
    session (new CSRF token) and go to `next`."""
    try:
        user = sign_in(session, sign_in_throttle(request), email=email, password=password,
                       client=client_address(request))
    except TooManyAttempts as exc:
        return _login_page(request, next_path=next, email=email, status=429, error=_wait_text(exc),
                           retry_after=exc.retry_after)
    if user is None:
        session.commit()  # the audit of a delay that began
        return _login_page(request, next_path=next, email=email, status=401,
                           error=_("Wrong e-mail address or password. After several failed attempts in a "
                                   "row you have to wait a little before trying again."))
    if not password_allowed(user):
        refuse_password(session, user, client=client_address(request))
        session.commit()
        return _login_page(request, next_path=next, email=email, status=403,
                           error=_("Sign-in with a password is switched off for your role. Use one of the "
                                   "sign-in buttons."))
    portal = user.role == "constituent" and user.constituent_id is not None
    if user.role not in DASHBOARD_ROLES and not portal:
        return _login_page(request, next_path=next, email=email, status=403,
                           error=_("This account has no access to the analyst dashboard."))
    session.commit()  # last_login_at
    request.session.clear()
    request.session.update(session_claims(user))  # version and start time: see auth.user_for_session
    request.session["csrf"] = secrets.token_urlsafe(32)
    target = safe_next(next)
    if portal and not target.startswith("/min-side"):
        target = "/min-side"
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep) -> Response:
    """End the session on the server too: the account's session version moves on, so a copied cookie
    (and the account's sessions on other devices) stop working."""
    user = session_user(request, session)
    if user is not None:
        end_sessions(session, user=user, actor=user.email)
        session.commit()
    held = request.session.get("oidc") if user is not None else None
    request.session.clear()
    flash(request, _("You are signed out."))
    onward = end_session_page(request, held) if held is not None else None
    return onward or RedirectResponse("/login", status_code=303)


def _password_page(request: Request, *, account: str = "", error: str | None = None, invalid: str | None = None,
                   status: int = 200, retry_after: int | None = None, token: str = "") -> Response:
    linkable = [p for p in get_settings().oidc if p.link == "invite"] if token else []
    response = render(request, None, "set_password.html", http_status=status, account=account, error=error,
                      invalid=invalid, token=token, linkable=linkable)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the path
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _password_guard(request: Request) -> Response | None:
    """The per-client sign-in limit in front of the password link (setting one hashes it)."""
    try:
        sign_in_throttle(request).guard_client(client_address(request))
    except TooManyAttempts as exc:
        return _password_page(request, invalid=_wait_text(exc), status=429, retry_after=exc.retry_after)
    return None


@router.get("/passord/{token}")
def password_form(request: Request, session: SessionDep, token: str) -> Response:
    """The form behind a one-time link: set the password of a new account, or a new one."""
    if (refused := _password_guard(request)) is not None:
        return refused
    try:
        user = invites.user_for_token(session, token)
    except invites.InvalidInvite as exc:
        return _password_page(request, invalid=exc.message, status=400)
    return _password_page(request, account=user.email, token=token)


@router.post("/passord/{token}", dependencies=[CsrfChecked])
def password_set(
    request: Request, session: SessionDep, token: str, password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Store the password (which spends the link) and send the user to sign in."""
    if (refused := _password_guard(request)) is not None:
        return refused
    try:
        invites.set_password(session, token=token, password=password, confirm=confirm)
    except invites.InvalidInvite as exc:
        return _password_page(request, invalid=exc.message, status=400)
    except ValidationFailed as exc:
        session.rollback()
        account = invites.user_for_token(session, token).email
        return _password_page(request, account=account, error=exc.message, status=422)
    session.commit()
    request.session.clear()
    flash(request, _("Your password is saved. Sign in with it."))
    return RedirectResponse("/login", status_code=303)
