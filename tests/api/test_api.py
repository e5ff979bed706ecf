"""The JSON API: roles, pagination, TLP filtering, 4xx with a message, health endpoints."""

import pytest
from fastapi.testclient import TestClient

from certmon.api.app import create_app
from certmon.auth.service import create_user, issue_token
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source


@pytest.fixture
def api(any_env):
    with any_env.factory.begin() as session:
        tokens = {}
        for role in ("admin", "analyst", "reader"):
            user = create_user(session, email=f"{role}@test.invalid", role=role, password="passord123")
            tokens[role] = issue_token(session, user=user)
        source = create_source(session, SourceCreate(name="test", format="rss", url="https://x.example/"))
        items = [Item(kind="advisory", key=f"a{i}", tlp=tlp, source_format="rss", title=f"Varsel {i} æøå",
                      published=f"2026-11-{10 + i}T08:00:00Z")
                 for i, tlp in enumerate(["clear", "green", "amber", "amber+strict", "red"])]
        upsert_items(session, source_id=source.id, items=items)
    client = TestClient(create_app())

    def headers(role):
        return {"Authorization": f"Bearer {tokens[role]}"}

    client.auth_headers = headers  # type: ignore[attr-defined]
    return client


def test_constituents_by_kind_with_total(api):
    r = api.get("/api/v1/constituents", params={"kind": "kommune", "limit": 5}, headers=api.auth_headers("reader"))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 357 and len(body["items"]) == 5
    oslo = api.get("/api/v1/constituents", params={"kind": "fylkeskommune", "q": "Oslo"},
                   headers=api.auth_headers("reader")).json()
    assert oslo["total"] == 1 and oslo["items"][0]["roles"] == ["fylkeskommune", "kommune"]


def test_advisories_are_filtered_by_clearance(api):
    reader = api.get("/api/v1/advisories", headers=api.auth_headers("reader")).json()
    analyst = api.get("/api/v1/advisories", headers=api.auth_headers("analyst")).json()
    assert {i["tlp"] for i in reader["items"]} == {"clear", "green", "amber"}
    assert analyst["total"] == 5
    assert analyst["items"][0]["title"] == "Varsel 4 æøå"  # newest first


def test_every_api_route_requires_login(api):
    for path in ("/api/v1/advisories", "/api/v1/constituents", "/api/v1/sources", "/api/v1/matches",
                 "/api/v1/indicators", "/api/v1/vulnerabilities"):
        r = api.get(path)
        assert r.status_code == 401, path
        assert r.json()["detail"]


def test_roles_are_checked(api):
    r = api.post("/api/v1/sources", json={"name": "x", "format": "rss", "url": "https://x.example/"},
                 headers=api.auth_headers("analyst"))
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = api.post("/api/v1/constituents/1/assets", json={"type": "network", "value": "192.0.2.0/24"},
                 headers=api.auth_headers("reader"))
    assert r.status_code == 403


def test_bad_input_is_4xx_with_a_message(api):
    h = api.auth_headers("admin")
    assert api.get("/api/v1/constituents", params={"kind": "fylke"}, headers=h).status_code == 422
    assert api.get("/api/v1/constituents", params={"limit": 100000}, headers=h).status_code == 422
    assert api.get("/api/v1/constituents/999999", headers=h).status_code == 404
    r = api.post("/api/v1/constituents/1/assets", json={"type": "network", "value": "300.1.2.0/24"}, headers=h)
    assert r.status_code == 422 and "CIDR" in r.json()["detail"]
    r = api.post("/api/v1/sources", json={"name": "x", "format": "gopher", "url": "https://x.example/"}, headers=h)
    assert r.status_code == 422 and "format" in r.json()["detail"]
    assert api.get("/api/v1/items/abc", headers=h).status_code == 422


def test_health_endpoints(api, monkeypatch):
    assert api.get("/healthz").text == "ok"
    monkeypatch.setenv("CERTMON_BROKER_URL", "redis://127.0.0.1:1/0")
    from certmon.config import get_settings

    get_settings.cache_clear()
    import importlib

    import workers.celery_app

    importlib.reload(workers.celery_app)
    r = api.get("/readyz")
    assert r.status_code == 503 and "broker" in r.json()["problems"]
    monkeypatch.delenv("CERTMON_BROKER_URL")
    get_settings.cache_clear()
    importlib.reload(workers.celery_app)
    if not get_settings().is_sqlite:  # production (PostgreSQL) keeps the operations endpoints restricted
        assert api.get("/metrics").status_code == 403
        monkeypatch.setenv("CERTMON_OPS_ACCESS", "open")
        get_settings.cache_clear()
        api = TestClient(create_app())
    metrics = api.get("/metrics")
    assert metrics.status_code == 200 and "certmon_source_healthy" in metrics.text
    assert api.get("/openapi.json").status_code == 200


def test_run_now_with_unreachable_broker_is_503(api, monkeypatch):
    import importlib

    import workers.celery_app
    from certmon.config import get_settings

    monkeypatch.setenv("CERTMON_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    importlib.reload(workers.celery_app)
    try:
        r = api.post("/api/v1/sources/test/run", headers=api.auth_headers("analyst"))
        assert r.status_code == 503 and "broker" in r.json()["detail"]
    finally:
        monkeypatch.delenv("CERTMON_BROKER_URL")
        get_settings.cache_clear()
        importlib.reload(workers.celery_app)


def test_out_of_range_ids_and_null_patches_are_4xx(api):
    h = api.auth_headers("admin")
    assert api.get("/api/v1/items/99999999999999999999", headers=h).status_code in (404, 422)
    assert api.get("/api/v1/constituents/99999999999999999999", headers=h).status_code in (404, 422)
    r = api.patch("/api/v1/sources/test", json={"url": None}, headers=h)
    assert r.status_code == 422 and "null" in str(r.json())
    r = api.patch("/api/v1/sources/test", json={"enabled": False, "interval_s": 900}, headers=h)
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["interval_s"] == 900
    r = api.post("/api/v1/sources", json={"name": "leak", "format": "rss", "url": "https://x.example/",
                                          "auth_user": "u", "auth_secret_env": "CERTMON_SECRET_KEY"}, headers=h)
    assert r.status_code == 422
    r = api.post("/api/v1/sources", json={"name": "local", "format": "rss", "url": "file:///etc/passwd"}, headers=h)
    assert r.status_code == 422 and "http" in r.json()["detail"]


def test_tokens_can_be_revoked(api):
    h = api.auth_headers("analyst")
    assert api.get("/api/v1/auth/me", headers=h).status_code == 200
    assert api.delete("/api/v1/auth/token", headers=h).status_code == 204
    assert api.get("/api/v1/auth/me", headers=h).status_code == 401


@pytest.mark.parametrize("any_env", ["sqlite", "pg"], indirect=True)
def test_lists_page_by_cursor_and_search_by_substring(api):
    h = api.auth_headers("analyst")
    first = api.get("/api/v1/advisories", params={"limit": 2}, headers=h).json()
    assert [i["title"] for i in first["items"]] == ["Varsel 4 æøå", "Varsel 3 æøå"]
    assert first["total"] == 5 and first["total_exact"] is True and first["next_cursor"]
    second = api.get("/api/v1/advisories", params={"limit": 2, "cursor": first["next_cursor"]}, headers=h).json()
    third = api.get("/api/v1/advisories", params={"limit": 2, "cursor": second["next_cursor"]}, headers=h).json()
    assert [i["title"] for i in second["items"] + third["items"]] == [f"Varsel {n} æøå" for n in (2, 1, 0)]
    assert third["next_cursor"] is None
    for bad in ({"cursor": "not-a-cursor"}, {"cursor": first["next_cursor"], "offset": 2}):
        r = api.get("/api/v1/advisories", params=bad, headers=h)
        assert r.status_code == 422 and "cursor" in r.json()["detail"]
    deep = api.get("/api/v1/indicators", params={"offset": 10_001}, headers=h)
    assert deep.status_code == 422 and "offset" in deep.json()["problems"][0]  # deeper: by cursor
    found = api.get("/api/v1/advisories", params={"q": "ARSEL 3 ÆØ"}, headers=h).json()
    assert [i["title"] for i in found["items"]] == ["Varsel 3 æøå"]
    for q in ("x\x00y", "\x00"):  # neither database nor the search index can carry a NUL
        r = api.get("/api/v1/indicators", params={"q": q}, headers=h)
        assert r.status_code == 422 and "NUL" in r.json()["detail"]
