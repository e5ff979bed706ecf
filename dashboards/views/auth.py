"""Sign in and out with the signed session cookie shared with the API."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from certmon.api.deps import SessionDep
from certmon.auth.service import authenticate
from certmon.config import get_settings
from dashboards.formatting import gettext as _
from dashboards.web import DASHBOARD_ROLES, CsrfChecked, flash, render, safe_next

router = APIRouter(include_in_schema=False)


def _demo_accounts() -> list[tuple[str, str, str]]:
    if not get_settings().demo:
        return []
    from certmon.demo.load import DEMO_PASSWORD, DEMO_USERS

    return [(email, role, DEMO_PASSWORD) for email, role, _name in DEMO_USERS]


def _login_page(request: Request, *, next_path: str, email: str = "", error: str | None = None,
                status: int = 200) -> Response:
    return render(request, None, "login.html", http_status=status, next_path=safe_next(next_path),
                  email=email, error=error, demo_accounts=_demo_accounts())


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (with the demo accounts in demo mode)."""
    return _login_page(request, next_path=next)


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request, session: SessionDep, email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the credentials; on success start a fresh session (new CSRF token) and go to `next`."""
    user = authenticate(session, email=email, password=password)
    if user is None:
        return _login_page(request, next_path=next, email=email, status=401,
                           error=_("Wrong e-mail address or password."))
    portal = user.role == "constituent" and user.constituent_id is not None
    if user.role not in DASHBOARD_ROLES and not portal:
        return _login_page(request, next_path=next, email=email, status=403,
                           error=_("This account has no access to the analyst dashboard."))
    session.commit()  # last_login_at
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)
    target = safe_next(next)
    if portal and not target.startswith("/min-side"):
        target = "/min-side"
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    flash(request, _("You are signed out."))
    return RedirectResponse("/login", status_code=303)
