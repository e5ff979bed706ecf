"""One-time links to set a password: for new accounts (no password is ever sent) and for resets.

A link carries the user id and a fingerprint of the user's password hash and `link_version`,
signed and timestamped with the installation's secret. Making a link, setting a password and
(de)activating the account all bump `link_version`, so only the newest link works, it works once
(two simultaneous uses: one wins, in SQL), and deactivation voids it for good. It also expires
after seven days. Setting a password ends the user's dashboard sessions (they carry a stamp of
the password hash); API tokens are separate (`certmon users revoke-tokens`).
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update
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
    return hashlib.sha256(f"{user.password_hash}|{user.link_version}".encode()).hexdigest()[:24]


def _serializer(settings: Settings | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer((settings or get_settings()).secret(), salt=SALT)


def make_token(user: User, *, settings: Settings | None = None) -> str:
    """A signed token for this user's current password state."""
    return _serializer(settings).dumps({"u": user.id, "f": _fingerprint(user)})


def make_link(session: Session, user: User, *, actor: str, settings: Settings | None = None) -> str:
    """The URL to give the user (shown once to whoever asked for it); audited, the token is not."""
    settings = settings or get_settings()
    user.link_version = (user.link_version or 0) + 1  # older links stop working
    session.flush()
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
        raise InvalidInvite("Lenken er allerede brukt eller erstattet av en nyere. "
                            "Be Helse- og KommuneCERT om en ny hvis du trenger det.")
    return user


def set_password(session: Session, *, token: str, password: str, confirm: str) -> User:
    """Use a link: check it and the new password, store the password (which spends the link and starts
    the account's sign-in counters afresh); audited."""
    user = user_for_token(session, token)
    if password != confirm:
        raise ValidationFailed("passordene er ikke like")
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"passordet må ha minst {MIN_PASSWORD} tegn")
    done = session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash,
               User.link_version == user.link_version)
        # the new link_version also gives the account fresh sign-in counters (certmon.auth.throttle)
        .values(password_hash=hash_password(password), link_version=User.link_version + 1,
                session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]  # someone used the link a moment ago
        raise InvalidInvite("Lenken er allerede brukt. Be Helse- og KommuneCERT om en ny hvis du trenger det.")
    session.refresh(user)
    record(session, actor=user.email, action="user.password-set", entity_type="user", entity_id=user.id)
    session.flush()
    return user
