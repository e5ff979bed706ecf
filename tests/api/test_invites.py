"""One-time password links: a new account without a password, set through a link that works once,
expires, and dies with a deactivated account."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from certmon.audit.models import AuditEntry
from certmon.auth import invites
from certmon.auth.service import authenticate, create_user, set_active
from certmon.config import get_settings
from certmon.errors import ValidationFailed


def _token(link: str) -> str:
    return link.rsplit("/passord/", 1)[1]


def test_new_account_cannot_sign_in_until_the_link_is_used(sqlite_env):
    with sqlite_env.factory.begin() as s:
        user = create_user(s, email="ny@test.invalid", role="reader", password=None)
        link = invites.make_link(s, user, actor="admin@test.invalid")
        assert link.startswith(get_settings().public_base_url + "/passord/")
        assert authenticate(s, email="ny@test.invalid", password="") is None
        with pytest.raises(ValidationFailed, match="ikke like"):
            invites.set_password(s, token=_token(link), password="langt-passord", confirm="annet-passord")
        with pytest.raises(ValidationFailed, match="8 tegn"):
            invites.set_password(s, token=_token(link), password="kort", confirm="kort")
        invites.set_password(s, token=_token(link), password="langt-passord", confirm="langt-passord")
        assert authenticate(s, email="ny@test.invalid", password="langt-passord") is not None
        with pytest.raises(invites.InvalidInvite, match="allerede brukt"):
            invites.user_for_token(s, _token(link))
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"user.password-link", "user.password-set"} <= actions
        entries = " ".join(str(e.detail) for e in s.scalars(select(AuditEntry)))
        assert _token(link) not in entries  # the token itself is never stored


def test_tampered_expired_and_deactivated_links_are_refused(sqlite_env, monkeypatch):
    with sqlite_env.factory.begin() as s:
        user = create_user(s, email="x@test.invalid", role="reader", password=None)
        token = invites.make_token(user)
        with pytest.raises(invites.InvalidInvite, match="ugyldig"):
            invites.user_for_token(s, token[:-2] + "xx")
        forged = URLSafeTimedSerializer("not-our-secret", salt=invites.SALT).dumps({"u": user.id, "f": "x"})
        with pytest.raises(invites.InvalidInvite, match="ugyldig"):
            invites.user_for_token(s, forged)
        monkeypatch.setattr(invites, "MAX_AGE_S", -1)
        with pytest.raises(invites.InvalidInvite, match="utløpt"):
            invites.user_for_token(s, token)
        monkeypatch.setattr(invites, "MAX_AGE_S", 3600)
        set_active(s, user_id=user.id, active=False, actor="admin@test.invalid")
        with pytest.raises(invites.InvalidInvite, match="deaktivert"):
            invites.user_for_token(s, token)


def test_only_the_newest_link_works_and_deactivation_voids_links(sqlite_env):
    with sqlite_env.factory.begin() as s:
        user = create_user(s, email="n@test.invalid", role="reader", password=None)
        first = _token(invites.make_link(s, user, actor="admin@test.invalid"))
        second = _token(invites.make_link(s, user, actor="admin@test.invalid"))  # the first went astray
        with pytest.raises(invites.InvalidInvite, match="allerede brukt"):
            invites.user_for_token(s, first)
        assert invites.user_for_token(s, second).id == user.id
        set_active(s, user_id=user.id, active=False, actor="admin@test.invalid")
        set_active(s, user_id=user.id, active=True, actor="admin@test.invalid")
        with pytest.raises(invites.InvalidInvite):
            invites.user_for_token(s, second)  # reactivation does not bring it back


def test_a_link_used_meanwhile_cannot_be_used_again(sqlite_env):
    with sqlite_env.factory.begin() as s:
        user = create_user(s, email="r@test.invalid", role="reader", password=None)
        token = _token(invites.make_link(s, user, actor="admin@test.invalid"))
    with sqlite_env.factory() as first, sqlite_env.factory() as second:
        invites.user_for_token(second, token)  # the second request has read the user already
        invites.set_password(first, token=token, password="forste-passord", confirm="forste-passord")
        first.commit()
        with pytest.raises(invites.InvalidInvite, match="allerede brukt"):
            invites.set_password(second, token=token, password="andre-passord", confirm="andre-passord")
