"""Who a validated ID token is in certmon: the linked account, a first link (through the one-time
invitation link, or the provider's e-mail where the preset allows it), and the explicit role and
organisation mapping. Unknown people are refused, never created. Every sign-in, refusal and link is
audited (`user.oidc-login`, `user.oidc-refused`, `user.oidc-link`); the subject appears only as a digest."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth import invites
from certmon.auth.models import User, UserIdentity
from certmon.auth.oidc.providers import OidcProvider
from certmon.auth.service import ROLE_RANK, find_user, set_role
from certmon.config import get_settings
from certmon.db import utcnow
from certmon.errors import CertmonError
from certmon.registry.models import Constituent

DASHBOARD_ROLES = ("reader", "analyst", "admin")


class SignInRefused(CertmonError):
    """A sign-in that certmon refuses; `reason` is a code the refusal page explains in bokmål."""

    status = 403

    def __init__(self, reason: str, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail or reason, status=status)
        self.reason = reason


def subject_digest(provider: OidcProvider, subject: str) -> str:
    """The stored form of a provider's subject: an HMAC under the installation's secret."""
    key = get_settings().secret().encode()
    return hmac.new(key, f"oidc|{provider.name}|{subject}".encode(), hashlib.sha256).hexdigest()


def _values(claim: Any) -> list[str]:
    if claim is None:
        return []
    if isinstance(claim, list | tuple):
        return [str(v) for v in claim]
    return [str(claim)]


def _check_required(provider: OidcProvider, claims: dict[str, Any]) -> None:
    needed = [provider.subject_claim or "sub", *provider.required_claims]
    if provider.role_map and provider.role_claim:
        needed.append(provider.role_claim)
    if provider.org_claim:
        needed.append(provider.org_claim)
    for name in needed:
        if claims.get(name) in (None, "", []):
            raise SignInRefused("missing-claim", name)


def _linked(session: Session, provider: OidcProvider, digest: str) -> tuple[UserIdentity, User] | None:
    identity = session.scalar(select(UserIdentity).where(UserIdentity.provider == provider.name,
                                                         UserIdentity.subject_digest == digest))
    if identity is None:
        return None
    user = session.get(User, identity.user_id)
    return (identity, user) if user is not None else None


def _first_link(session: Session, provider: OidcProvider, claims: dict[str, Any], digest: str,
                invite: str | None) -> tuple[UserIdentity, User]:
    if invite:
        try:
            user = invites.user_for_token(session, invite)
        except invites.InvalidInvite as exc:
            raise SignInRefused("invite-invalid", exc.message) from None
        user.link_version = (user.link_version or 0) + 1  # the invitation is spent
        how = "invite"
    elif provider.link == "email":
        email = claims.get(provider.email_claim or "email")
        if provider.email_claim == "email" and claims.get("email_verified") is not True:
            raise SignInRefused("unknown-user", "the provider does not vouch for the e-mail address")
        user_or_none = find_user(session, str(email)) if email else None
        if user_or_none is None:
            raise SignInRefused("unknown-user", "no certmon account has this e-mail address")
        user, how = user_or_none, "email"
    else:
        raise SignInRefused("not-linked", "no certmon account is linked to this person yet")
    if not user.active:
        raise SignInRefused("inactive", "the account is deactivated")
    if session.scalar(select(UserIdentity.id).where(UserIdentity.user_id == user.id,
                                                    UserIdentity.provider == provider.name)) is not None:
        raise SignInRefused("already-linked", "the account is linked to another person at this provider")
    identity = UserIdentity(user_id=user.id, provider=provider.name, subject_digest=digest, linked_by=how)
    session.add(identity)
    session.flush()
    record(session, actor=user.email, action="user.oidc-link", entity_type="user", entity_id=user.id,
           provider=provider.name, subject=digest[:12], linked_by=how)
    return identity, user


def _apply_roles(session: Session, provider: OidcProvider, user: User, claims: dict[str, Any]) -> None:
    """The role mapping is authoritative where it is configured: no mapped value, no entry."""
    if not provider.role_map:
        return
    mapped = [provider.role_map[v] for v in _values(claims.get(provider.role_claim or "")) if v in provider.role_map]
    if not mapped:
        raise SignInRefused("no-role", "none of the role claim's values is mapped to a certmon role")
    role = max(mapped, key=lambda r: ROLE_RANK.get(r, -1))
    if (role == "constituent") != (user.role == "constituent"):
        raise SignInRefused("no-role", f"the mapped role {role} does not fit the account's role {user.role}")
    if role != user.role and user.role != "constituent":
        set_role(session, email=user.email, role=role, actor=f"oidc:{provider.name}")


def _apply_org(session: Session, provider: OidcProvider, user: User, claims: dict[str, Any]) -> str | None:
    if not provider.org_claim:
        return None
    org = str(claims.get(provider.org_claim, "")).strip()
    if user.role == "constituent":
        own = session.get(Constituent, user.constituent_id) if user.constituent_id else None
        if own is None or own.org_number != org:
            raise SignInRefused("wrong-organisation", f"the token names organisation {org}, not the account's")
    return org


def resolve_user(session: Session, provider: OidcProvider, claims: dict[str, Any], *,
                 invite: str | None = None, client: str = "") -> User:
    """The certmon user a validated ID token signs in (linking on the first sign-in); SignInRefused
    otherwise. Audits the sign-in; the caller audits a refusal with `record_refusal` and commits."""
    _check_required(provider, claims)
    digest = subject_digest(provider, str(claims[provider.subject_claim or "sub"]))
    found = _linked(session, provider, digest)
    if found is not None and invite:
        raise SignInRefused("already-linked", "this person is linked already; the invitation was not used")
    identity, user = found if found is not None else _first_link(session, provider, claims, digest, invite)
    if not user.active:
        raise SignInRefused("inactive", "the account is deactivated")
    _apply_roles(session, provider, user, claims)
    org = _apply_org(session, provider, user, claims)
    portal = user.role == "constituent" and user.constituent_id is not None
    if user.role not in DASHBOARD_ROLES and not portal:
        raise SignInRefused("no-dashboard", "the account has no access to the dashboard")
    now = utcnow()
    identity.last_login_at = user.last_login_at = now
    record(session, actor=user.email, action="user.oidc-login", entity_type="user", entity_id=user.id,
           provider=provider.name, subject=digest[:12], acr=claims.get("acr"), org=org, client=client)
    return user


def record_refusal(session: Session, provider_name: str, *, reason: str, detail: str,
                   claims: dict[str, Any] | None = None, provider: OidcProvider | None = None,
                   client: str = "") -> None:
    """Audit a refused sign-in (in its own transaction's terms: the caller commits)."""
    subject = None
    if claims and provider is not None and claims.get(provider.subject_claim or "sub"):
        subject = subject_digest(provider, str(claims[provider.subject_claim or "sub"]))[:12]
    record(session, actor=f"oidc:{provider_name}", action="user.oidc-refused", entity_type="oidc",
           entity_id=provider_name, reason=reason, detail=detail[:300], subject=subject, client=client)


def links_of(session: Session, user: User) -> list[UserIdentity]:
    """The account's single sign-on links, oldest first."""
    stmt = select(UserIdentity).where(UserIdentity.user_id == user.id).order_by(UserIdentity.id)
    return list(session.scalars(stmt))


def unlink(session: Session, *, user: User, provider: str, actor: str) -> bool:
    """Remove the account's link to a provider (a new first sign-in is then needed); True if there was
    one. The account's sessions end. Audited."""
    found = [link for link in links_of(session, user) if link.provider == provider]
    for link in found:
        session.delete(link)
    if found:
        user.session_version = (user.session_version or 0) + 1
        record(session, actor=actor, action="user.oidc-unlink", entity_type="user", entity_id=user.id,
               provider=provider)
    return bool(found)
