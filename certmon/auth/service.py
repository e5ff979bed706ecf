"""Users, passwords (argon2), API tokens, and the TLP clearance that follows from a role."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth import usage
from certmon.auth.models import ROLES, ApiToken, User
from certmon.config import get_settings
from certmon.db import utcnow
from certmon.errors import Conflict, NotFound, ValidationFailed
from certmon.tlp import TLP, parse_tlp

_hasher = PasswordHasher()
ROLE_RANK = {"constituent": 0, "reader": 1, "analyst": 2, "admin": 3}


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def create_user(
    session: Session, *, email: str, role: str, password: str | None, name: str = "", actor: str = "cli",
    constituent_id: int | None = None, tlp_max: str | None = None,
) -> User:
    """Create a user; the password must be at least 8 characters. Without one (None) the account cannot
    sign in until a one-time link from `certmon.auth.invites` sets it."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValidationFailed(f"ukjent rolle {role!r}; gyldige roller: {', '.join(ROLES)}")
    if "@" not in email:
        raise ValidationFailed(f"{email!r} er ikke en e-postadresse")
    if role == "constituent" and constituent_id is None:
        raise ValidationFailed("en bruker med rollen constituent må knyttes til en virksomhet (--org ORGNR)")
    if role != "constituent" and constituent_id is not None:
        raise ValidationFailed(f"bare rollen constituent knyttes til en virksomhet, ikke {role}")
    if password is not None and len(password) < 8:
        raise ValidationFailed("passordet må ha minst 8 tegn")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"brukeren {email} finnes allerede")
    # constituent users may be raised to AMBER+STRICT (about their own organisation), like its e-mail contacts
    default_tlp = {"admin": "red", "analyst": "red"}.get(role, "amber")
    try:
        ceiling = parse_tlp(tlp_max or default_tlp)
    except ValueError:
        raise ValidationFailed(f"ukjent TLP {tlp_max!r}; gyldige: clear, green, amber, amber+strict, red") from None
    secret = password if password is not None else secrets.token_urlsafe(32)  # unknown to anyone
    user = User(email=email, role=role, name=name, password_hash=hash_password(secret),
                constituent_id=constituent_id, tlp_max=ceiling.value_str)
    session.add(user)
    session.flush()
    record(session, actor=actor, action="user.create", entity_type="user", entity_id=user.id, role=role)
    return user


def authenticate(session: Session, *, email: str, password: str, now: datetime | None = None) -> User | None:
    """The active user with these credentials, or None (the same work either way: an unknown address
    costs the same hash as a known one). Limits and backoff come before this: `certmon.auth.throttle`."""
    now = now or utcnow()
    user = find_user(session, email)
    candidate = user.password_hash if user else _DUMMY_HASH
    try:
        _hasher.verify(candidate, password)
        correct = user is not None
    except (VerificationError, InvalidHashError):
        correct = False
    if user is None or not user.active or not correct:
        return None
    user.last_login_at = now
    return user


def password_allowed(user: User) -> bool:
    """Whether this account may sign in with its local password (CERTMON_PASSWORD_LOGIN_OFF_ROLES)."""
    return user.role not in get_settings().password_off_roles


def refuse_password(session: Session, user: User, *, client: str) -> None:
    """Audit a right password refused because password sign-in is off for the account's role."""
    record(session, actor=user.email, action="user.login-refused", entity_type="user", entity_id=user.id,
           reason="password-off", role=user.role, client=client)


def find_user(session: Session, email: str) -> User | None:
    """The account with this e-mail address (any case, surrounding spaces ignored), active or not."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, user: User, name: str = "") -> str:
    """A new API token for a user; only its hash is stored, the token is shown once."""
    token = "cm_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_digest(token)))
    record(session, actor=user.email, action="token.issue", entity_type="user", entity_id=user.id, name=name)
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning a bearer token. Reads only: the use is noted for an out-of-band write
    (`certmon.auth.usage`, at most once a minute per token), never in the caller's transaction."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    usage.recorder.note(session.get_bind().engine, row.id, row.last_used_at)
    return user


def revoke_token(session: Session, *, token: str, actor: str) -> bool:
    """Delete the token (by its hash); True if it existed. Audited."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None:
        return False
    record(session, actor=actor, action="token.revoke", entity_type="user", entity_id=row.user_id, name=row.name)
    session.delete(row)
    return True


def revoke_user_tokens(session: Session, *, email: str, actor: str) -> int:
    """Delete every token of a user (e.g. when someone leaves); returns how many. Audited."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"fant ingen bruker {email}")
    rows = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))
    for row in rows:
        session.delete(row)
    record(session, actor=actor, action="token.revoke-all", entity_type="user", entity_id=user.id, count=len(rows))
    return len(rows)


def clearance(user: User) -> TLP:
    """The highest TLP a user may read: RED for analysts and admins only; others at most AMBER, except
    a constituent's own users, who may read AMBER+STRICT about their own organisation."""
    own = parse_tlp(user.tlp_max, TLP.AMBER)
    if user.role in ("admin", "analyst"):
        return own
    cap = TLP.AMBER_STRICT if user.role == "constituent" else TLP.AMBER
    return min(own, cap)


def may_handle(user: User, tlp: TLP | str | None, constituent_id: int | None = None) -> bool:
    """The one clearance rule for everything a user sends, shows or exports: the label is within the
    user's clearance, and a constituent's own user handles nothing about another organisation (nor
    AMBER+STRICT that concerns no organisation). Unknown labels count as RED."""
    label = parse_tlp(tlp, TLP.RED) if not isinstance(tlp, TLP) else tlp
    if label > clearance(user):
        return False
    if user.role != "constituent":
        return True
    if constituent_id is not None:
        return constituent_id == user.constituent_id
    return label < TLP.AMBER_STRICT


CONTACT_ROLES = ("analyst",)  # and admin: who sees contact addresses (docs/security.md, "Contact addresses")


def may_see_contacts(user: User) -> bool:
    """The one rule for contact addresses (a contact's e-mail and name, and the addresses an alert went to):
    analysts and admins, who send, resend and maintain them, see them; readers see that contacts exist and
    how they are set up, not who they are. A constituent's own users see their own organisation's on Min side."""
    return has_role(user, *CONTACT_ROLES)


def hidden_address(email: str) -> str:
    """An address as shown to someone who may not see it: the organisation's domain only (`…@bergen.kommune.no`)."""
    return "…@" + email.rsplit("@", 1)[-1] if "@" in email else "…"


def without_address(text: str | None, email: str) -> str | None:
    """Text (e.g. a relay's error) with the address in it hidden the same way."""
    if not text or not email:
        return text
    return re.sub(re.escape(email), hidden_address(email), text, flags=re.IGNORECASE)


def has_role(user: User, *roles: str) -> bool:
    """True if the user's role is one of `roles`, or admin (who may do everything)."""
    return user.role in roles or user.role == "admin"


def users_of_constituent(session: Session, constituent_id: int) -> list[User]:
    """The accounts linked to one organisation (its Min side users), active first."""
    stmt = select(User).where(User.constituent_id == constituent_id).order_by(User.active.desc(), User.email)
    return list(session.scalars(stmt))


def set_active(session: Session, *, user_id: int, active: bool, actor: str) -> User:
    """Deactivate (or reactivate) an account; a deactivated one can neither sign in nor use its tokens,
    and its signed-in sessions end. Audited."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"fant ingen bruker med id {user_id}")
    user.active = active
    user.link_version = (user.link_version or 0) + 1  # password links made before do not come back
    user.session_version = (user.session_version or 0) + 1
    record(session, actor=actor, action="user.activate" if active else "user.deactivate", entity_type="user",
           entity_id=user.id)
    return user


def set_role(session: Session, *, email: str, role: str, actor: str, tlp_max: str | None = None) -> User:
    """Change a staff account's role (and TLP ceiling); its signed-in sessions end. Audited."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"fant ingen bruker {email}")
    if role not in ROLES or role == "constituent" or user.role == "constituent":
        raise ValidationFailed(f"rollen kan endres mellom admin, analyst og reader, ikke til/fra {role!r}")
    try:
        ceiling = parse_tlp(tlp_max or user.tlp_max)
    except ValueError:
        raise ValidationFailed(f"ukjent TLP {tlp_max!r}; gyldige: clear, green, amber, amber+strict, red") from None
    record(session, actor=actor, action="user.role", entity_type="user", entity_id=user.id, before=user.role,
           role=role, tlp_max=ceiling.value_str)
    user.role, user.tlp_max = role, ceiling.value_str
    user.session_version = (user.session_version or 0) + 1
    return user


def end_sessions(session: Session, *, user: User, actor: str) -> None:
    """Sign a user out everywhere: every session cookie issued before now stops working. Audited."""
    user.session_version = (user.session_version or 0) + 1
    record(session, actor=actor, action="user.sessions-ended", entity_type="user", entity_id=user.id)


def session_stamp(user: User) -> str:
    """Kept in a signed-in session; a changed password changes it, which ends older sessions."""
    return hashlib.sha256(("session|" + user.password_hash).encode()).hexdigest()[:16]


def session_claims(user: User, now: datetime | None = None) -> dict[str, Any]:
    """What a new signed-in session keeps in its signed cookie: who, the password stamp, the server-side
    session version, and when it began (for the absolute lifetime)."""
    return {"user_id": user.id, "stamp": session_stamp(user), "ver": user.session_version or 0,
            "iat": int((now or utcnow()).timestamp())}


def user_for_session(session: Session, cookie: Mapping[str, Any], now: datetime | None = None) -> User | None:
    """The active user a signed session cookie names (the dashboard and the read-only API share this rule).

    Refused when the password changed, the session version moved on (sign-out, sign out everywhere,
    role change, deactivation), or the session began longer ago than CERTMON_SESSION_LIFETIME_HOURS."""
    user_id, began = cookie.get("user_id"), cookie.get("iat")
    if not isinstance(user_id, int) or not isinstance(began, int):
        return None
    age = (now or utcnow()).timestamp() - began
    if not 0 <= age < get_settings().session_lifetime_hours * 3600:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or cookie.get("stamp") != session_stamp(user):
        return None
    if cookie.get("ver") != (user.session_version or 0):
        return None
    return user
