"""FastAPI dependencies: the request's transaction, the current user, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.auth.service import CONTACT_ROLES, clearance, has_role, user_for_session, user_for_token
from certmon.auth.throttle import SignInThrottle, client_key
from certmon.config import get_settings
from certmon.db import session_scope
from certmon.dbutil import DB_INT_MAX
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
# What each error status means, for the OpenAPI document (certmon/api/openapi.py documents them on every
# route that can answer them, with the one error body `{"detail": "…", "problems": [...]}`)
ERROR_DESCRIPTIONS = {
    400: "The request could not be read (e.g. a body that is not UTF-8), or a link is not valid.",
    401: "Not signed in: no API key, or it is unknown or revoked (`Authorization: Bearer …`).",
    403: "Signed in, but the role, the TLP clearance or the kind of user does not allow this.",
    404: "Nothing with this id (or not within the caller's TLP clearance).",
    405: "The path exists but not with this method; `Allow` lists the methods it has.",
    409: "The change collides with what is stored (a duplicate, or the object's state forbids it).",
    413: "The request body is larger than the service accepts.",
    422: "A parameter or the body is invalid; `detail` says why and `problems` names each field.",
    429: "Too many requests; wait for `Retry-After` seconds.",
    503: "The database (or the broker) is unavailable or overloaded; retry after `Retry-After` seconds.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for error statuses a route's service can answer beyond those certmon/api/openapi.py
    derives from the route itself, e.g. `errors(503)` for a broker; body and text are filled in there."""
    return {status: {"description": ERROR_DESCRIPTIONS.get(status, "Error")} for status in statuses}


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


class RoleCheck:
    """A dependency that lets through only users with one of `roles` (admins always); the OpenAPI document
    reads `roles` to name them (certmon/api/openapi.py)."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    def __call__(self, user: CurrentUser) -> User:
        if not has_role(user, *self.roles):
            raise Forbidden(f"rollen {user.role!r} har ikke tilgang; krever {' eller '.join(self.roles)}")
        return user


def require_role(*roles: str) -> Callable[..., User]:
    """A dependency that lets through only users with one of `roles` (admins always)."""
    return RoleCheck(*roles)


Reader = Annotated[User, Depends(require_role("reader", "analyst"))]
Analyst = Annotated[User, Depends(require_role("analyst"))]
Admin = Annotated[User, Depends(require_role("admin"))]
# who sees contact addresses: one rule with the dashboard (certmon.auth.service.may_see_contacts)
ContactViewer = Annotated[User, Depends(require_role(*CONTACT_ROLES))]


def sign_in_throttle(request: Request) -> SignInThrottle:
    """The app's sign-in counters (made by `create_app`; on first use for an app built otherwise)."""
    throttle = getattr(request.app.state, "signin_throttle", None)
    if throttle is None:
        throttle = request.app.state.signin_throttle = SignInThrottle.from_settings(get_settings())
    return throttle  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    """Who is asking, as the sign-in limits count it (the peer, or X-Forwarded-For from a trusted proxy)."""
    return client_key(request.client.host if request.client else None)


def user_clearance(user: User) -> TLP:
    """The TLP ceiling for what this user may receive."""
    return clearance(user)


# PostgreSQL's `integer`: a larger id or filter cannot be stored, so the API refuses it up front (422) and
# the OpenAPI document says so (tests/api/test_openapi_conformance.py fails on an unbounded integer input)
DbId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
DbIdFilter = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]


class Page:
    """`limit`/`offset` query parameters with sane bounds."""

    def __init__(self, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=DB_INT_MAX)) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends(Page)]
