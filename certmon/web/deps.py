"""FastAPI dependencies: the request's transaction, the current user, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.auth.service import clearance, has_role, user_for_session, user_for_token
from certmon.db import session_scope
from certmon.errors import CertmonError, Forbidden
from certmon.tlp import TLP


class Unauthorized(CertmonError):
    status = 401


def get_session() -> Iterator[Session]:
    """A session whose transaction the request owns: committed on success, rolled back on error."""
    with session_scope() as session:
        yield session


# Marks a route that sends or exports data (`openapi_extra=SENDS` / `EXPORTS`): the TLP property test
# (tests/api/test_tlp_doors.py) finds every such route and runs it with users of each clearance.
SENDS = {"x-certmon-tlp-door": "sends"}
EXPORTS = {"x-certmon-tlp-door": "exports"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SessionDep = Annotated[Session, Depends(get_session)]


def current_user(request: Request, session: SessionDep) -> User:
    """The caller: a bearer token (scripts) or the dashboard's signed session cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        user = user_for_token(session, auth[7:].strip())
        if user is None:
            raise Unauthorized("ugyldig eller tilbakekalt API-nøkkel")
        return user
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if user_id is not None and request.method not in SAFE_METHODS:
        # the dashboard's cookie carries no CSRF token to the JSON API: changes need an API key
        raise Unauthorized("endringer via API-et krever en API-nøkkel (Authorization: Bearer …)")
    if user_id is not None and (user := user_for_session(session, request.session)) is not None:
        return user
    raise Unauthorized("innlogging kreves")


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str) -> Callable[..., User]:
    """A dependency that lets through only users with one of `roles` (admins always)."""

    def check(user: CurrentUser) -> User:
        if not has_role(user, *roles):
            raise Forbidden(f"rollen {user.role!r} har ikke tilgang; krever {' eller '.join(roles)}")
        return user

    return check


Reader = Annotated[User, Depends(require_role("reader", "analyst"))]
Analyst = Annotated[User, Depends(require_role("analyst"))]
Admin = Annotated[User, Depends(require_role("admin"))]


def user_clearance(user: User) -> TLP:
    """The TLP ceiling for what this user may receive."""
    return clearance(user)


class Page:
    """`limit`/`offset` query parameters with sane bounds."""

    def __init__(self, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends(Page)]
