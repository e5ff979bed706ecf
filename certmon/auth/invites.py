"""One-time links to set a password: for new accounts (no password is ever sent) and for resets.

A link carries the user id and a fingerprint of the user's current password hash, signed and
timestamped with the installation's secret. Setting a password changes the hash, so a link works
once; it also expires after seven days, and an inactive account cannot use one.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth.models import User
from certmon.auth.service import hash_password
from certmon.config import Settings, get_settings
from certmon.errors import CertmonError, ValidationFailed

SALT = "set-password"
MAX_AGE_S = 7 * 24 * 3600
MIN_PASSWORD = 8


class InvalidInvite(CertmonError):
    """The link was tampered with, has expired, or was used already."""

    status = 400


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:24]


def _serializer(settings: Settings | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer((settings or get_settings()).secret(), salt=SALT)


def make_token(user: User, *, settings: Settings | None = None) -> str:
    """A signed token for this user's current password state."""
    return _serializer(settings).dumps({"u": user.id, "f": _fingerprint(user)})


def make_link(session: Session, user: User, *, actor: str, settings: Settings | None = None) -> str:
    """The URL to give the user (shown once to whoever asked for it); audited, the token is not."""
    settings = settings or get_settings()
    record(session, actor=actor, action="user.password-link", entity_type="user", entity_id=user.id)
    return f"{settings.public_base_url}/passord/{make_token(user, settings=settings)}"


def user_for_token(session: Session, token: str, *, settings: Settings | None = None) -> User:
    """The active user a valid, unused, unexpired link is for; InvalidInvite with a plain reason otherwise."""
    try:
        data = _serializer(settings).loads(token, max_age=MAX_AGE_S)
    except SignatureExpired:
        raise InvalidInvite("Lenken er utløpt. Be Helse- og KommuneCERT om en ny.") from None
    except BadSignature:
        raise InvalidInvite("Lenken er ugyldig.") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("f"), str):
        raise InvalidInvite("Lenken er ugyldig.")
    user = session.get(User, data["u"])
    if user is None or not user.active:
        raise InvalidInvite("Kontoen finnes ikke eller er deaktivert.")
    if _fingerprint(user) != data["f"]:
        raise InvalidInvite("Lenken er allerede brukt. Be Helse- og KommuneCERT om en ny hvis du trenger det.")
    return user


def set_password(session: Session, *, token: str, password: str, confirm: str) -> User:
    """Use a link: check it and the new password, store the password (which spends the link); audited."""
    user = user_for_token(session, token)
    if password != confirm:
        raise ValidationFailed("passordene er ikke like")
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"passordet må ha minst {MIN_PASSWORD} tegn")
    user.password_hash = hash_password(password)
    record(session, actor=user.email, action="user.password-set", entity_type="user", entity_id=user.id)
    session.flush()
    return user
