"""Sign in with OpenID Connect: /login/oidc/{provider} starts the authorization code flow, its callback
finishes it. The pending request (state, nonce, PKCE verifier, where to go next, an invitation being used)
lives in its own short-lived signed cookie with SameSite=Lax, because the provider's redirect back is a
cross-site navigation that the Strict session cookie does not travel on. See docs/authentication.md."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from certmon.auth.oidc.client import ProviderMisconfigured, ProviderUnavailable, TokenRejected, client_for
from certmon.auth.oidc.providers import OidcProvider
from certmon.auth.oidc.service import SignInRefused, record_refusal, resolve_user
from certmon.auth.service import session_claims
from certmon.auth.throttle import TooManyAttempts
from certmon.config import get_settings
from certmon.i18n import N_
from certmon.web.deps import SessionDep, client_address, sign_in_throttle
from dashboards.formatting import gettext as _
from dashboards.web import CsrfChecked, render, safe_next

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
PENDING_COOKIE = "certmon_oidc"
PENDING_MAX_AGE_S = 600
PENDING_PATH = "/login/oidc"


def provider_named(name: str) -> OidcProvider | None:
    """The configured provider with this name."""
    return next((p for p in get_settings().oidc if p.name == name), None)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret(), salt="oidc-pending")


def _redirect_uri(provider: OidcProvider) -> str:
    return f"{get_settings().public_base_url}/login/oidc/{provider.name}/callback"


REFUSALS = {  # reason -> what the person is told (bokmål in the catalogue; N_ marks them for extraction)
    "unknown-user": N_("No certmon account belongs to this sign-in. Ask Health and Municipal CERT for an "
                       "account; an account is never created by signing in."),
    "not-linked": N_("Your sign-in is not linked to a certmon account yet. The first time, use the invitation "
                     "link you received from Health and Municipal CERT and choose this provider there."),
    "invite-invalid": N_("The invitation link cannot be used: %(detail)s"),
    "already-linked": N_("This person or account is linked already; the invitation was not used. Sign in "
                         "from the sign-in page."),
    "inactive": N_("The account is deactivated."),
    "no-role": N_("Your account at the provider has no role that gives access to certmon."),
    "wrong-organisation": N_("The sign-in names another organisation than the one your account belongs to."),
    "no-dashboard": N_("This account has no access to the analyst dashboard."),
    "missing-claim": N_("The provider did not send the information certmon needs (%(detail)s)."),
    "acr": N_("The sign-in's level of assurance is too low. Sign in with a higher level (for instance BankID)."),
    "token": N_("The provider's answer did not pass certmon's checks. Try again; if it happens again, "
                "contact Health and Municipal CERT and give the error code below."),
    "code": N_("The sign-in could not be completed: the provider refused the code (it may have been used "
               "already or have expired). Start the sign-in again."),
    "state": N_("The sign-in has expired or was not started in this browser. Start it again."),
    "provider-error": N_("The provider stopped the sign-in (%(detail)s)."),
    "unavailable": N_("The provider could not be reached. Try again in a little while, or sign in another way."),
    "unknown-provider": N_("There is no such sign-in provider."),
    "misconfigured": N_("Sign-in with this provider is not set up correctly in certmon. Contact Health and "
                        "Municipal CERT, or sign in another way."),
    "throttled": N_("Too many sign-in attempts from your address. Wait a little and try again."),
}


def _refused(request: Request, session: SessionDep, provider_name: str, reason: str, detail: str, *,
             status: int = 403, claims: dict[str, Any] | None = None, provider: OidcProvider | None = None,
             audit: bool = True) -> Response:
    """The refusal page (bokmål), audited."""
    if audit:
        session.rollback()  # nothing of a refused sign-in stays, except its audit entry
        record_refusal(session, provider_name, reason=reason, detail=detail, claims=claims, provider=provider,
                       client=client_address(request))
        session.commit()
    log.warning("oidc sign-in refused (%s, %s): %s", provider_name, reason, detail)
    kind = reason
    if reason in REFUSALS:
        pass
    elif reason.startswith(("invalid-acr", "missing-acr")):
        kind = "acr"
    elif reason.startswith(("invalid-", "missing-", "expired", "bad-signature", "no-id-token")):
        kind = "token"
    elif reason == "code-refused":
        kind = "code"
    message = _(REFUSALS.get(kind, REFUSALS["token"])) % {"detail": detail}
    response = render(request, None, "oidc_refused.html", http_status=status, message=message, reason=reason,
                      provider_label=provider.label if provider else provider_name)
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH)
    return response


def leave_page(request: Request, target: str, provider_label: str, heading: str) -> Response:
    """A page that sends the browser on to the provider by itself. After a form post, a redirect to another
    origin would be blocked by the dashboard's `form-action 'self'` policy; a navigation from a page is not."""
    response = render(request, None, "oidc_leave.html", target=target, provider_label=provider_label,
                      heading=heading)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable(request: Request, session: SessionDep, provider: OidcProvider, exc: ProviderUnavailable) -> Response:
    reason = "misconfigured" if isinstance(exc, ProviderMisconfigured) else "unavailable"
    return _refused(request, session, provider.name, reason, exc.message, status=502, provider=provider)


def _start(request: Request, session: SessionDep, name: str, next_path: str, invite: str | None) -> Response:
    provider = provider_named(name)
    if provider is None:
        return _refused(request, session, name, "unknown-provider", name, status=404, audit=False)
    try:
        sign_in_throttle(request).guard_client(client_address(request))
    except TooManyAttempts as exc:
        response = _refused(request, session, name, "throttled", exc.message, status=429, provider=provider,
                            audit=False)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    try:
        started = client_for(provider).start(_redirect_uri(provider))
    except ProviderUnavailable as exc:
        return _unavailable(request, session, provider, exc)
    pending = {"p": provider.name, "s": started.state, "n": started.nonce, "v": started.code_verifier,
               "next": safe_next(next_path), "i": invite or ""}
    if invite:  # a form post: leave through a page
        response = leave_page(request, started.url, provider.label, _("Going to the sign-in service"))
    else:
        response = RedirectResponse(started.url, status_code=303)
        response.headers["Cache-Control"] = "no-store"
    response.set_cookie(PENDING_COOKIE, _serializer().dumps(pending), max_age=PENDING_MAX_AGE_S, path=PENDING_PATH,
                        httponly=True, samesite="lax", secure=get_settings().public_base_url.startswith("https"))
    return response


@router.get("/login/oidc/{name}")
def oidc_start(request: Request, session: SessionDep, name: str, next: str = "/") -> Response:
    """Send the browser to the provider (a new state, nonce and PKCE verifier; PAR where it applies)."""
    return _start(request, session, name, next, None)


@router.post("/login/oidc/{name}", dependencies=[CsrfChecked])
def oidc_start_with_invite(request: Request, session: SessionDep, name: str,
                           invite: Annotated[str, Form()] = "") -> Response:
    """The same, from the invitation page: the first sign-in links this person to the invited account."""
    return _start(request, session, name, "/", invite or None)


def _pending(request: Request, name: str, state: str) -> dict[str, Any] | None:
    raw = request.cookies.get(PENDING_COOKIE, "")
    try:
        data = _serializer().loads(raw, max_age=PENDING_MAX_AGE_S) if raw else None
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("p") != name:
        return None
    if not state or not hmac.compare_digest(str(data.get("s", "")), state):
        return None
    return data


@router.get("/login/oidc/{name}/callback")
def oidc_callback(request: Request, session: SessionDep, name: str, code: str = "", state: str = "",
                  error: str = "", error_description: str = "") -> Response:
    """Finish the sign-in: check state, exchange the code, validate the ID token (Authlib), find the
    account, start a fresh session. Every outcome is audited; refusals get a page in bokmål."""
    provider = provider_named(name)
    if provider is None:
        return _refused(request, session, name, "unknown-provider", name, status=404, audit=False)
    try:
        sign_in_throttle(request).guard_client(client_address(request))
    except TooManyAttempts as exc:
        response = _refused(request, session, name, "throttled", exc.message, status=429, provider=provider)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    pending = _pending(request, name, state)
    if pending is None:
        return _refused(request, session, name, "state", "no pending sign-in with this state", status=400,
                        provider=provider)
    if error:
        return _refused(request, session, name, "provider-error", f"{error}: {error_description}"[:200],
                        provider=provider)
    claims: dict[str, Any] | None = None
    try:
        claims, id_token = client_for(provider).finish(code=code, redirect_uri=_redirect_uri(provider),
                                                       code_verifier=pending["v"], nonce=pending["n"])
        user = resolve_user(session, provider, claims, invite=pending.get("i") or None,
                            client=client_address(request))
    except ProviderUnavailable as exc:
        return _unavailable(request, session, provider, exc)
    except TokenRejected as exc:
        return _refused(request, session, name, exc.reason, exc.message, status=401, provider=provider)
    except SignInRefused as exc:
        return _refused(request, session, name, exc.reason, exc.message, claims=claims, provider=provider)
    session.commit()
    request.session.clear()
    request.session.update(session_claims(user))
    request.session["csrf"] = secrets.token_urlsafe(32)
    request.session["oidc"] = {"p": provider.name, "t": id_token}
    target = str(pending.get("next") or "/")
    if user.role == "constituent" and not target.startswith("/min-side"):
        target = "/min-side"
    # a page that moves on by itself: the Strict session cookie set here is sent on a same-site navigation,
    # not on a redirect that continues the provider's cross-site one
    response = render(request, user, "oidc_done.html", target=safe_next(target))
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH)
    return response


def end_session_page(request: Request, held: object) -> Response | None:
    """Where sign-out sends the browser after the certmon session ended: on to the provider's end-session
    endpoint when the session (`held`: its `oidc` entry) came from a provider that has one, else None."""
    if not isinstance(held, dict):
        return None
    provider = provider_named(str(held.get("p", "")))
    if provider is None:
        return None
    try:
        url = client_for(provider).logout_url(id_token=held.get("t"),
                                              post_logout_redirect_uri=f"{get_settings().public_base_url}/login")
    except ProviderUnavailable as exc:  # the certmon session has ended anyway
        log.warning("sign-out: %s", exc.message)
        return None
    if url is None:
        return None
    return leave_page(request, url, provider.label, _("Signing out at the sign-in service"))

