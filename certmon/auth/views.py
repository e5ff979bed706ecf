"""API: exchange credentials for an API token; who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from certmon.auth.service import end_sessions, issue_token, password_allowed, refuse_password, revoke_token
from certmon.auth.throttle import sign_in
from certmon.errors import Forbidden
from certmon.web.deps import (
    CurrentUser,
    SessionDep,
    Unauthorized,
    client_address,
    errors,
    sign_in_throttle,
    user_clearance,
)

router = APIRouter(prefix="/api/v1/auth", tags=["innlogging"])


class TokenRequest(BaseModel):
    email: str
    password: str
    name: str = "api"


class TokenResponse(BaseModel):
    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


class Me(BaseModel):
    email: str
    name: str
    role: str
    tlp_max: str


@router.post("/token", response_model=TokenResponse,
             responses=errors(401, 403, 429))
def token(body: TokenRequest, request: Request, session: SessionDep) -> TokenResponse:
    """A new bearer token for scripts (shown once; only its hash is kept). Limited per client and, for
    wrong passwords, per account and client (429 with Retry-After)."""
    user = sign_in(session, sign_in_throttle(request), email=body.email, password=body.password,
                   client=client_address(request))
    if user is None:
        session.commit()  # keep the audit of a delay that began (the error would roll it back)
        raise Unauthorized("feil e-postadresse eller passord (etter flere feil på rad må du vente litt)")
    if not password_allowed(user):
        refuse_password(session, user, client=client_address(request))
        session.commit()
        raise Forbidden("innlogging med passord er slått av for rollen din")
    return TokenResponse(token=issue_token(session, user=user, name=body.name))


@router.delete("/token", status_code=204)
def revoke(request: Request, session: SessionDep, user: CurrentUser) -> None:
    """Revoke the bearer token this request was made with."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise Unauthorized("bare en API-nøkkel kan tilbakekalles (Authorization: Bearer …)")
    revoke_token(session, token=auth[7:].strip(), actor=user.email)


@router.delete("/sessions", status_code=204)
def sign_out_everywhere(session: SessionDep, user: CurrentUser) -> None:
    """Sign out everywhere: every dashboard session of the caller's account ends (API tokens stay)."""
    end_sessions(session, user=user, actor=user.email)


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    """The caller and the TLP ceiling that applies to them."""
    return Me(email=user.email, name=user.name, role=user.role, tlp_max=user_clearance(user).value_str)
