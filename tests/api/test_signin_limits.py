"""Sign-in abuse: a per-client limit (429 + Retry-After) in front of every sign-in path, refused before any
password is hashed; wrong passwords slow down one client for one account, never lock the account for
everyone; a password link starts the counters afresh; delays are audited. In memory and on real Redis."""

from __future__ import annotations

import re

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.audit.models import AuditEntry
from certmon.auth import service as auth_service
from certmon.auth.service import create_user
from certmon.auth.throttle import SignInThrottle, TooManyAttempts, client_key
from certmon.config import get_settings
from tests.conftest import REDIS_URL, _require_port

EMAIL, PASSWORD = "kari@test.invalid", "riktig-passord"


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts argon2 verifications (the expensive step the limits must come before)."""
    calls: list[str] = []
    real = auth_service._hasher

    class Counting:
        def verify(self, hash_: str, password: str) -> bool:
            calls.append(password)
            return real.verify(hash_, password)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(auth_service, "_hasher", Counting())
    return calls


def _user(env) -> None:
    with env.factory.begin() as s:
        create_user(s, email=EMAIL, role="reader", password=PASSWORD)


def _token(api: TestClient, password: str, email: str = EMAIL):
    return api.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_per_client_limit_refuses_before_hashing_on_every_path(sqlite_env, monkeypatch, hashes):
    monkeypatch.setenv("CERTMON_SIGNIN_CLIENT_LIMIT", "3/minute")
    get_settings.cache_clear()
    _user(sqlite_env)
    api = TestClient(create_app())
    for i in range(3):
        assert _token(api, f"gjett-{i}", email=f"ingen{i}@test.invalid").status_code == 401  # sprayed
    assert len(hashes) == 3
    refused = _token(api, PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "For mange" in refused.json()["detail"]
    assert len(hashes) == 3  # refused before argon2 ran
    # the same client allowance covers the dashboard login and the password link
    page = api.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    login = api.post("/login", data={"csrf_token": csrf, "email": EMAIL, "password": PASSWORD, "next": "/"},
                     follow_redirects=False)
    assert login.status_code == 429 and int(login.headers["retry-after"]) >= 1
    assert "For mange innloggingsforsøk" in login.text
    link = api.get("/passord/not-a-real-token")
    assert link.status_code == 429 and "retry-after" in link.headers
    assert len(hashes) == 3


def test_wrong_passwords_delay_one_client_not_the_account(sqlite_env, monkeypatch, hashes):
    monkeypatch.setenv("CERTMON_SIGNIN_ACCOUNT_LIMIT", "3/5 minutes")
    get_settings.cache_clear()
    _user(sqlite_env)
    app = create_app()
    attacker, owner = TestClient(app, client=("203.0.113.7", 5000)), TestClient(app, client=("198.51.100.2", 5000))
    for _ in range(3):
        assert _token(attacker, "feil").status_code == 401
    delayed = _token(attacker, PASSWORD)  # even the right password waits: the attacker learns nothing
    assert delayed.status_code == 429 and int(delayed.headers["retry-after"]) > 200
    assert len(hashes) == 3
    assert _token(owner, PASSWORD).status_code == 200  # the owner, elsewhere, signs in as usual
    # an unknown address is delayed the same way (no hint whether an account exists)
    for _ in range(3):
        assert _token(attacker, "feil", email="ingen@test.invalid").status_code == 401
    assert _token(attacker, "feil", email="ingen@test.invalid").status_code == 429
    with sqlite_env.factory() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.login-delayed")).all()
    assert len(entries) == 1 and entries[0].detail["client"] == "203.0.113.7"
    assert entries[0].detail["failures"] == 3 and entries[0].detail["seconds"] > 200


def test_a_right_password_clears_and_a_password_link_unlocks(sqlite_env, monkeypatch):
    from certmon.auth import invites
    from certmon.auth.models import User

    monkeypatch.setenv("CERTMON_SIGNIN_ACCOUNT_LIMIT", "3/hour")
    get_settings.cache_clear()
    _user(sqlite_env)
    api = TestClient(create_app())
    for _ in range(2):
        _token(api, "feil")
    assert _token(api, PASSWORD).status_code == 200  # the count starts over
    for _ in range(3):
        _token(api, "feil")
    assert _token(api, PASSWORD).status_code == 429
    with sqlite_env.factory.begin() as s:  # an admin sends a password link: fresh counters for the account
        user = s.scalar(select(User).where(User.email == EMAIL))
        invites.make_link(s, user, actor="admin@test.invalid")
    assert _token(api, PASSWORD).status_code == 200


def test_client_keys() -> None:
    assert client_key("192.0.2.10") == "192.0.2.10"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.10") == "192.0.2.10"
    assert client_key(None) == "unknown"


@pytest.mark.redis
def test_redis_counters_are_shared_between_processes_and_survive_a_restart():
    _require_port(6379, "Redis")
    db = redis.Redis.from_url(REDIS_URL)
    for key in db.scan_iter("certmon-signin*"):
        db.delete(key)
    first = SignInThrottle(storage_url=REDIS_URL, client_limits="2/minute", account_limits="5/hour")
    second = SignInThrottle(storage_url=REDIS_URL, client_limits="2/minute", account_limits="5/hour")
    first.guard_client("192.0.2.50")
    second.guard_client("192.0.2.50")  # another API process counts against the same allowance
    with pytest.raises(TooManyAttempts) as refused:
        first.guard_client("192.0.2.50")
    assert 1 <= refused.value.retry_after <= 60
    assert any(db.scan_iter("certmon-signin*"))
    for key in db.scan_iter("certmon-signin*"):
        db.delete(key)


def test_a_redis_that_does_not_answer_falls_back_to_process_memory(caplog):
    throttle = SignInThrottle(storage_url="redis://127.0.0.1:1/0", client_limits="2/minute",
                              account_limits="5/hour")
    throttle.guard_client("192.0.2.60")
    throttle.guard_client("192.0.2.60")
    with pytest.raises(TooManyAttempts):
        throttle.guard_client("192.0.2.60")  # still limited, by this process alone
    assert "counting in this process only" in caplog.text


def test_storage_follows_the_broker(monkeypatch, tmp_path):
    monkeypatch.setenv("CERTMON_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CERTMON_SIGNIN_STORAGE_URL", raising=False)
    monkeypatch.setenv("CERTMON_BROKER_URL", "redis://redis:6379/0")
    get_settings.cache_clear()
    assert get_settings().signin_storage == "redis://redis:6379/0"
    monkeypatch.delenv("CERTMON_BROKER_URL")
    get_settings.cache_clear()
    assert get_settings().signin_storage == "memory://"
    get_settings.cache_clear()


@pytest.mark.parametrize("trusted", [True, False])
def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance(sqlite_env, monkeypatch, trusted):
    """`certmon serve`'s uvicorn options: X-Forwarded-For counts only from CERTMON_TRUSTED_PROXIES."""
    import threading
    import time

    import httpx
    import uvicorn

    from certmon.cli.serve import server_options
    from tests.conftest import free_port

    monkeypatch.setenv("CERTMON_SIGNIN_CLIENT_LIMIT", "2/minute")
    monkeypatch.setenv("CERTMON_TRUSTED_PROXIES", "127.0.0.1" if trusted else "")
    monkeypatch.setenv("CERTMON_PORT", str(free_port()))
    get_settings.cache_clear()
    options = {**server_options(get_settings()), "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(create_app(), **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{options['port']}/api/v1/auth/token"

        def attempt(client_ip: str) -> int:
            return httpx.post(url, json={"email": "x@test.invalid", "password": "feil"},
                              headers={"X-Forwarded-For": client_ip}).status_code

        assert [attempt("203.0.113.1") for _ in range(3)] == [401, 401, 429]
        # another client behind the proxy: its own allowance, unless the header is not believed
        assert attempt("203.0.113.2") == (401 if trusted else 429)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
