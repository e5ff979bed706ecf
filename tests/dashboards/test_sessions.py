"""A saved `certmon_session` cookie stops working after sign-out, sign out everywhere, a password change,
a role change, deactivation, and once its absolute lifetime has run out (however much it is used)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.auth import invites
from certmon.auth.models import User
from certmon.auth.service import create_user, issue_token, set_active, set_role
from certmon.db import utcnow

PASSWORD = "okt-passord-123"
EMAIL = "analytiker@cert.example"


@pytest.fixture
def app(sqlite_env):
    with sqlite_env.factory.begin() as s:
        create_user(s, email=EMAIL, role="analyst", password=PASSWORD)
    return create_app()


def _csrf(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def sign_in(app) -> TestClient:
    browser = TestClient(app)
    r = browser.post("/login", data={"csrf_token": _csrf(browser, "/login"), "email": EMAIL, "password": PASSWORD},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    return browser


def works(app, cookie: str) -> bool:
    """Does a stolen copy of the cookie still open the dashboard and the read-only API?"""
    thief = TestClient(app, cookies={"certmon_session": cookie})
    page = thief.get("/treff", follow_redirects=False)
    api = thief.get("/api/v1/auth/me")
    assert (page.status_code == 200) == (api.status_code == 200), (page.status_code, api.status_code)
    return api.status_code == 200


def _user(sqlite_env) -> User:
    with sqlite_env.factory() as s:
        return s.scalar(select(User).where(User.email == EMAIL))


def test_sign_out_ends_the_session_on_the_server(app):
    browser = sign_in(app)
    saved = browser.cookies["certmon_session"]
    assert works(app, saved)
    browser.post("/logout", data={"csrf_token": _csrf(browser, "/treff")}, follow_redirects=False)
    assert not works(app, saved)
    assert works(app, sign_in(app).cookies["certmon_session"])  # signing in again works


def test_sign_out_everywhere(app, sqlite_env):
    saved = [sign_in(app).cookies["certmon_session"] for _ in range(2)]
    with sqlite_env.factory.begin() as s:
        token = issue_token(s, user=s.scalar(select(User).where(User.email == EMAIL)))
    r = TestClient(app).delete("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    assert not any(works(app, c) for c in saved)


def test_a_password_change_ends_sessions(app, sqlite_env):
    saved = sign_in(app).cookies["certmon_session"]
    with sqlite_env.factory.begin() as s:
        link = invites.make_link(s, s.scalar(select(User).where(User.email == EMAIL)), actor="admin")
        invites.set_password(s, token=link.rsplit("/passord/", 1)[1], password="nytt-passord-9",
                             confirm="nytt-passord-9")
    assert not works(app, saved)


def test_a_role_change_ends_sessions(app, sqlite_env):
    saved = sign_in(app).cookies["certmon_session"]
    with sqlite_env.factory.begin() as s:
        set_role(s, email=EMAIL, role="reader", actor="admin")
    assert not works(app, saved)


def test_deactivation_ends_sessions(app, sqlite_env):
    saved = sign_in(app).cookies["certmon_session"]
    with sqlite_env.factory.begin() as s:
        set_active(s, user_id=_user(sqlite_env).id, active=False, actor="admin")
        set_active(s, user_id=_user(sqlite_env).id, active=True, actor="admin")  # back again: still ended
    assert not works(app, saved)


def test_the_absolute_lifetime_does_not_slide(app, monkeypatch):
    browser = sign_in(app)
    assert browser.get("/treff").status_code == 200  # used: the cookie is sent back renewed
    saved = browser.cookies["certmon_session"]
    almost = utcnow() + timedelta(hours=11, minutes=59)
    monkeypatch.setattr("certmon.auth.service.utcnow", lambda: almost)
    assert works(app, saved)
    monkeypatch.setattr("certmon.auth.service.utcnow", lambda: almost + timedelta(minutes=2))
    assert not works(app, saved)


def test_a_cookie_without_the_new_claims_is_refused(app):
    import base64
    import json

    from itsdangerous import TimestampSigner

    old_style = base64.b64encode(json.dumps({"user_id": 1, "stamp": "x"}).encode())
    cookie = TimestampSigner("test-secret-key-not-for-production").sign(old_style).decode()
    assert not works(app, cookie)
