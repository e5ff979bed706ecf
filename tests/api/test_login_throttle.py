"""Repeated wrong passwords lock an account for a while (15 min, 1 h, then a day), on the API and the
dashboard alike; the right password during a lock is refused, and after it resets the count."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.audit.models import AuditEntry
from certmon.auth.models import User
from certmon.auth.service import LOCK_AFTER, authenticate, create_user
from certmon.db import utcnow

PASSWORD = "riktig-passord"


def test_locks_grow_and_a_right_password_resets(sqlite_env):
    now = utcnow()
    with sqlite_env.factory.begin() as s:
        create_user(s, email="ola@test.invalid", role="reader", password=PASSWORD)
        for _ in range(LOCK_AFTER - 1):
            assert authenticate(s, email="ola@test.invalid", password="feil", now=now) is None
        user = s.scalar(select(User).where(User.email == "ola@test.invalid"))
        assert user.locked_until is None and user.failed_logins == LOCK_AFTER - 1
        assert authenticate(s, email="ola@test.invalid", password="feil", now=now) is None
        assert user.locked_until == now + timedelta(minutes=15)
        assert authenticate(s, email="ola@test.invalid", password=PASSWORD, now=now) is None  # locked
        later = now + timedelta(minutes=16)
        for _ in range(LOCK_AFTER):
            authenticate(s, email="ola@test.invalid", password="feil", now=later)
        assert user.locked_until == later + timedelta(minutes=60)  # the second lock is longer
        much_later = later + timedelta(minutes=61)
        assert authenticate(s, email="ola@test.invalid", password=PASSWORD, now=much_later) is user
        assert user.failed_logins == 0 and user.locked_until is None
        locks = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.locked")).all()
        assert [e.detail["minutes"] for e in locks] == [15, 60]


def test_the_api_keeps_the_count_although_it_answers_401(sqlite_env):
    with sqlite_env.factory.begin() as s:
        create_user(s, email="kari@test.invalid", role="reader", password=PASSWORD)
    api = TestClient(create_app())
    for _ in range(LOCK_AFTER):
        r = api.post("/api/v1/auth/token", json={"email": "kari@test.invalid", "password": "feil"})
        assert r.status_code == 401 and "stenges" in r.json()["detail"]
    r = api.post("/api/v1/auth/token", json={"email": "kari@test.invalid", "password": PASSWORD})
    assert r.status_code == 401  # locked, and the answer does not say so
    unknown = api.post("/api/v1/auth/token", json={"email": "ingen@test.invalid", "password": "feil"})
    assert unknown.json()["detail"] == r.json()["detail"]
    with sqlite_env.factory() as s:
        user = s.scalar(select(User).where(User.email == "kari@test.invalid"))
        assert user.failed_logins == LOCK_AFTER and user.locked_until is not None


def test_a_password_link_lifts_the_lock(sqlite_env):
    from certmon.auth import invites

    with sqlite_env.factory.begin() as s:
        user = create_user(s, email="per@test.invalid", role="reader", password=PASSWORD)
        for _ in range(LOCK_AFTER):
            authenticate(s, email="per@test.invalid", password="feil")
        assert user.locked_until is not None
        token = invites.make_link(s, user, actor="admin@test.invalid").rsplit("/passord/", 1)[1]
        invites.set_password(s, token=token, password="nytt-passord-2", confirm="nytt-passord-2")
        assert authenticate(s, email="per@test.invalid", password="nytt-passord-2") is user
