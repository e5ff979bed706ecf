"""The audit log can be read by admins only (API and dashboard), filtered and paginated."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certmon.api.app import create_app
from certmon.audit.service import record
from certmon.auth.service import create_user, issue_token


def test_admins_read_the_audit_log_with_filters(sqlite_env):
    with sqlite_env.factory.begin() as s:
        admin = create_user(s, email="admin@test.invalid", role="admin", password="passord123")
        analyst = create_user(s, email="analyst@test.invalid", role="analyst", password="passord123")
        tokens = {"admin": issue_token(s, user=admin), "analyst": issue_token(s, user=analyst)}
        for i in range(3):
            record(s, actor="analyst@test.invalid", action="match.confirm", entity_type="match", entity_id=i)
        record(s, actor="admin@test.invalid", action="user.deactivate", entity_type="user", entity_id=analyst.id)
    api = TestClient(create_app())
    h = {"Authorization": f"Bearer {tokens['admin']}"}
    everything = api.get("/api/v1/audit", headers=h).json()
    assert everything["total"] == 8  # 2 user.create, 2 token.issue, 3 match.confirm, 1 user.deactivate
    assert everything["items"][0]["action"] == "user.deactivate"
    confirms = api.get("/api/v1/audit", params={"action": "match.confirm", "limit": 2}, headers=h).json()
    assert confirms["total"] == 3 and len(confirms["items"]) == 2
    assert [e["entity_id"] for e in confirms["items"]] == ["2", "1"]  # newest first
    users = api.get("/api/v1/audit", params={"action": "user.", "actor": "ADMIN@test.invalid"}, headers=h).json()
    assert {e["action"] for e in users["items"]} == {"user.deactivate"}
    denied = api.get("/api/v1/audit", headers={"Authorization": f"Bearer {tokens['analyst']}"})
    assert denied.status_code == 403
    assert api.get("/api/v1/audit").status_code == 401
    assert api.get("/api/v1/audit", params={"since": "yesterday"}, headers=h).status_code == 422
