"""Operations endpoints: open on the embedded set-up, in production only for an allow-listed network, the
operations token, or (documentation only) signed-in staff; the API documentation loads nothing from a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from certmon.api.app import create_app
from certmon.auth.service import create_user
from certmon.config import Settings, get_settings

OPS = ("/metrics", "/openapi.json", "/docs", "/redoc")
TOKEN = "ops-token-for-the-scraper-0123456789"


def _restricted(monkeypatch, **extra: str) -> None:
    monkeypatch.setenv("CERTMON_OPS_ACCESS", "restricted")
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


def _sign_in(client: TestClient, email: str, password: str = "passord123") -> None:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"csrf_token": csrf, "email": email, "password": password, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def test_open_on_the_embedded_setup_and_the_docs_load_only_local_files(sqlite_env):
    client = TestClient(create_app())
    for path in OPS:
        assert client.get(path).status_code == 200, path
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert "cdn" not in page.text.lower() and "https://" not in page.text and "<script>" not in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
            r = client.get(asset)
            assert r.status_code == 200 and len(r.content) > 100, asset
    assert "SwaggerUIBundle" in client.get("/static/api-docs/swagger-ui-bundle.js").text[:2000]


def test_restricted_refuses_everyone_else_but_keeps_the_probes(sqlite_env, monkeypatch):
    _restricted(monkeypatch, CERTMON_OPS_TOKEN=TOKEN)
    client = TestClient(create_app())
    for path in (*OPS, "/static/api-docs/swagger-ui.css", "/docs/init.js"):
        r = client.get(path)
        assert r.status_code == 403 and "CERTMON_OPS_ACCESS" in r.json()["detail"], path
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
    for path in OPS:
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code in (200, 503)


def test_restricted_lets_an_allow_listed_network_through(sqlite_env, monkeypatch):
    _restricted(monkeypatch, CERTMON_OPS_NETWORKS="192.0.2.0/24, 2001:db8::/32")
    app = create_app()
    inside, outside = TestClient(app, client=("192.0.2.44", 4000)), TestClient(app, client=("198.51.100.1", 4000))
    v6 = TestClient(app, client=("2001:db8::7", 4000))
    for path in OPS:
        assert inside.get(path).status_code == 200 and v6.get(path).status_code == 200, path
        assert outside.get(path).status_code == 403, path


def test_signed_in_staff_read_the_docs_but_not_the_metrics(sqlite_env, monkeypatch):
    from certmon.registry.models import Constituent

    _restricted(monkeypatch)
    with sqlite_env.factory.begin() as s:
        create_user(s, email="leser@test.invalid", role="reader", password="passord123")
        org = s.query(Constituent).first()
        create_user(s, email="kommune@test.invalid", role="constituent", password="passord123",
                    constituent_id=org.id)
    staff, constituent = TestClient(create_app()), TestClient(create_app())
    _sign_in(staff, "leser@test.invalid")
    _sign_in(constituent, "kommune@test.invalid")
    for path in ("/docs", "/redoc", "/openapi.json", "/static/api-docs/swagger-ui.css"):
        assert staff.get(path).status_code == 200, path
        assert constituent.get(path).status_code == 403, path
    assert staff.get("/metrics").status_code == 403


def test_docs_can_be_switched_off(sqlite_env, monkeypatch):
    monkeypatch.setenv("CERTMON_API_DOCS", "false")
    get_settings.cache_clear()
    client = TestClient(create_app())
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200  # clients are generated from it


@pytest.mark.parametrize(("url", "configured", "expected"), [
    ("sqlite:///x.sqlite", "", "open"),
    ("postgresql+psycopg://u@h/db", "", "restricted"),
    ("postgresql+psycopg://u@h/db", "open", "open"),
    ("sqlite:///x.sqlite", "restricted", "restricted"),
])
def test_default_access_follows_the_setup(url, configured, expected, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=url, ops_access=configured)
    assert settings.effective_ops_access == expected


def test_bad_settings_are_refused(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, ops_access="sometimes")
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, ops_networks="not-a-network")
