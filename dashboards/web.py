"""Shared web plumbing: templates, the signed-in user and roles, CSRF, flash messages, error pages."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.auth.service import clearance, has_role, may_see_contacts, user_for_session
from certmon.config import get_settings
from certmon.i18n import translations
from certmon.tlp import TLP
from certmon.web.deps import SessionDep
from dashboards.formatting import FILTERS, gettext

DASHBOARD_ROLES = ("reader", "analyst", "admin")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("dashboards", "templates"),
                      autoescape=select_autoescape(["html"], default_for_string=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations("nb"), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(FILTERS)
    return env


templates = Jinja2Templates(env=_environment())


class LoginRequired(Exception):
    """No signed-in user: send the browser to the login page."""


class GoToPortal(Exception):
    """A constituent's own user asked for an analyst page: send them to Min side."""


class PageError(Exception):
    """Render an HTML error page with a status (403 role, 404 missing or above clearance)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def safe_next(target: str | None) -> str:
    """A local path to return to after login; anything else (other hosts, schemes) becomes `/`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return "/"
    return target


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def verify_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Reject a form post whose token does not match the session's."""
    expected = request.session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(expected), csrf_token):
        raise PageError(403, gettext("The form has expired or did not come from this site. "
                                     "Reload the page and try again."))


CsrfChecked = Depends(verify_csrf)


# Flash messages travel in the signed session cookie, and browsers drop a cookie above 4 KB (and refuse a
# response whose headers pass ~256 KB): a message that quotes what was typed is cut, and the oldest
# unread ones give way, so the cookie stays small whatever a form held. The budget is the whole session's
# (a single sign-on session also carries the provider's ID token, 1–2.5 KB): a message that does not fit
# beside it is dropped rather than the cookie, which would sign the user out.
FLASH_MAX_CHARS = 200
FLASH_BUDGET_BYTES = 1500  # of the messages' JSON (non-ASCII letters take six bytes each)
SESSION_BUDGET_BYTES = 2800  # of the whole session's JSON: base64 and the signature make ~3.8 KB of it


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Queue a message for the next page the user sees (cut to FLASH_MAX_CHARS)."""
    text = message if len(message) <= FLASH_MAX_CHARS else message[:FLASH_MAX_CHARS - 1] + "…"
    queued = [*request.session.get("flash", []), {"kind": kind, "text": text}]
    rest = len(json.dumps({k: v for k, v in request.session.items() if k != "flash"}))
    while queued and (len(json.dumps(queued)) > FLASH_BUDGET_BYTES
                      or rest + len(json.dumps(queued)) > SESSION_BUDGET_BYTES):
        queued.pop(0)
    request.session["flash"] = queued


def session_user(request: Request, session: Session) -> User | None:
    """The active user of the signed session cookie whose password has not changed since sign-in."""
    return user_for_session(session, request.session) if "session" in request.scope else None


def signed_in_user(request: Request, session: SessionDep) -> User:
    """The dashboard user from the signed session cookie, or a redirect to the login page."""
    user = session_user(request, session)
    if user is None:
        raise LoginRequired()
    if user.role == "constituent" and user.constituent_id is not None:
        raise GoToPortal()
    if user.role not in DASHBOARD_ROLES:
        raise PageError(403, gettext("This account has no access to the analyst dashboard."))
    return user


def role(*roles: str) -> Callable[..., User]:
    """A dependency letting through signed-in users with one of `roles` (admins always)."""

    def check(user: Annotated[User, Depends(signed_in_user)]) -> User:
        if not has_role(user, *roles):
            raise PageError(403, gettext("Your role does not allow this action."))
        return user

    return check


Viewer = Annotated[User, Depends(signed_in_user)]
Analyst = Annotated[User, Depends(role("analyst"))]
Admin = Annotated[User, Depends(role("admin"))]


def render(request: Request, user: User | None, name: str, *, page_tlp: TLP = TLP.CLEAR,
           http_status: int = 200, **context: Any) -> Response:
    """Render a page with the shared context (user, roles, TLP label, DEMO flag, flash, CSRF)."""
    flashes = request.session.pop("flash", []) if "session" in request.scope else []
    base = {
        "user": user, "page_tlp": page_tlp, "demo": get_settings().demo, "flashes": flashes,
        "csrf_token": csrf_token(request), "path": request.url.path,
        "can_triage": user is not None and has_role(user, "analyst"),
        "is_admin": user is not None and has_role(user),
        "can_see_contacts": user is not None and may_see_contacts(user),
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=http_status)


def back_to(target: str | None, fallback: str) -> RedirectResponse:
    """Redirect (303) after a form post to a local path."""
    path = safe_next(target) if target else fallback
    return RedirectResponse(path, status_code=303)


def tlp_ceiling(user: User) -> TLP:
    """The most restrictive TLP this user may see."""
    return clearance(user)


@dataclass
class Pager:
    """Offset pagination with links that keep the other query parameters."""

    request: Request
    total: int
    limit: int
    offset: int

    def _url(self, offset: int) -> str:
        params = dict(self.request.query_params)
        params["offset"] = str(max(offset, 0))
        return self.request.url.path + "?" + urlencode(params)

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def prev_url(self) -> str | None:
        return self._url(self.offset - self.limit) if self.offset > 0 else None

    @property
    def next_url(self) -> str | None:
        return self._url(self.offset + self.limit) if self.offset + self.limit < self.total else None


def page_params(offset: int, limit: int = 25) -> tuple[int, int]:
    """Clamp pagination parameters."""
    return max(offset, 0), min(max(limit, 1), 200)


async def _login_redirect(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?next=" + quote(safe_next(target), safe=""), status_code=303)


async def _portal_redirect(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/min-side", status_code=303)


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    user = None
    if "session" in request.scope and request.session.get("user_id") is not None:
        user = _user_for_error_page(request.session["user_id"])
    return render(request, user, "error.html", http_status=exc.status, message=exc.message,
                  status_code=exc.status)


def _user_for_error_page(user_id: int) -> User | None:
    from certmon.db import session_factory

    with session_factory()() as session:
        user = session.get(User, user_id)
        if user is not None:
            session.expunge(user)
        return user


def install_error_pages(app: FastAPI) -> None:
    """Send anonymous visitors to /login and constituents' users to /min-side; render role, CSRF and
    not-found errors as HTML."""
    app.add_exception_handler(LoginRequired, _login_redirect)
    app.add_exception_handler(GoToPortal, _portal_redirect)
    app.add_exception_handler(PageError, _error_page)
