"""/api/v1/incidents: role checks, TLP clearance, links, timeline and clocks, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from certmon.api.app import create_app
from certmon.auth.service import create_user, issue_token


@pytest.fixture
def api(any_env, world):  # type: ignore[no-untyped-def]
    with any_env.factory.begin() as session:
        tokens = {}
        for role in ("admin", "analyst", "reader"):
            user = create_user(session, email=f"{role}@test.invalid", role=role, password="passord123")
            tokens[role] = issue_token(session, user=user)
    client = TestClient(create_app())
    client.headers_for = lambda role: {"Authorization": f"Bearer {tokens[role]}"}  # type: ignore[attr-defined]
    return client


def _create(api, role="analyst", **body):  # type: ignore[no-untyped-def]
    return api.post("/api/v1/incidents", json={"title": "DDoS mot Oslo", "severity": "high", **body},
                    headers=api.headers_for(role))


def test_every_route_requires_login_and_changes_need_an_analyst(api, world):
    assert api.get("/api/v1/incidents").status_code == 401
    assert api.get("/api/v1/incidents/1").status_code == 401
    r = _create(api, role="reader")
    assert r.status_code == 403 and "analyst" in r.json()["detail"]
    created = _create(api).json()
    path = f"/api/v1/incidents/{created['id']}"
    reader = api.headers_for("reader")
    assert api.patch(path, json={"status": "closed"}, headers=reader).status_code == 403
    assert api.post(path + "/events", json={"kind": "note", "text": "x"}, headers=reader).status_code == 403
    assert api.post(path + "/links", json={"kind": "item", "id": world.items["clear"]},
                    headers=reader).status_code == 403
    assert api.delete(path + "/links/item/1", headers=reader).status_code == 403
    assert api.get(path, headers=reader).status_code == 200
    assert _create(api, role="admin").status_code == 201


def test_create_show_with_clocks_timeline_and_links(api, world):
    aware = datetime.now(UTC) - timedelta(hours=2)
    r = _create(api, aware_at=aware.isoformat(), personal_data=True, constituent_ids=[world.oslo_id])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["reference"].startswith("HKH-") and body["status"] == "open" and body["tlp"] == "amber"
    assert [d["key"] for d in body["deadlines"]] == ["hod-straks", "nsm-24h", "datatilsynet-72h"]
    assert body["deadlines"][0]["state"] == "overdue" and body["overdue"] == 1
    assert body["next_deadline"]["key"] == "hod-straks"
    assert [c["id"] for c in body["constituents"]] == [world.oslo_id]
    path, h = f"/api/v1/incidents/{body['id']}", api.headers_for("analyst")
    r = api.post(path + "/events", json={"kind": "report-sent", "deadline": "nsm-24h"}, headers=h)
    assert r.status_code == 201 and r.json()["deadline"] == "nsm-24h"
    r = api.post(path + "/events", json={"kind": "measure", "text": "Sperret trafikk i brannmur"}, headers=h)
    assert r.status_code == 201
    detail = api.get(path, headers=h).json()
    nsm = next(d for d in detail["deadlines"] if d["key"] == "nsm-24h")
    assert nsm["met"] and nsm["state"] == "met"
    assert [e["kind"] for e in detail["timeline"]][-2:] == ["report-sent", "measure"]
    r = api.post(path + "/links", json={"kind": "match", "id": world.green_match_id}, headers=h)
    assert r.status_code == 200 and world.bergen_id in [c["id"] for c in r.json()["constituents"]]
    assert api.delete(path + f"/links/match/{world.green_match_id}", headers=h).status_code == 204
    assert api.get(path, headers=h).json()["matches"] == []


def test_linking_a_red_item_hides_the_incident_from_readers(api, world):
    created = _create(api).json()
    path, h = f"/api/v1/incidents/{created['id']}", api.headers_for("analyst")
    assert api.get("/api/v1/incidents", headers=api.headers_for("reader")).json()["total"] == 1
    r = api.post(path + "/links", json={"kind": "item", "id": world.items["red"]}, headers=h)
    assert r.status_code == 200 and r.json()["tlp"] == "red"
    assert api.get(path, headers=api.headers_for("reader")).status_code == 404
    assert api.get("/api/v1/incidents", headers=api.headers_for("reader")).json() == {"items": [], "total": 0}
    assert api.get("/api/v1/incidents", headers=h).json()["total"] == 1
    r = api.patch(path, json={"tlp": "green"}, headers=h)
    assert r.status_code == 422 and "TLP:RED" in r.json()["detail"]


def test_list_filters_and_paging(api, world):
    for title, sev in (("A", "low"), ("B", "critical"), ("C", "critical")):
        _create(api, title=title, severity=sev, constituent_ids=[world.bergen_id] if title == "C" else [])
    h = api.headers_for("reader")
    page = api.get("/api/v1/incidents", params={"limit": 2, "offset": 0}, headers=h).json()
    assert page["total"] == 3 and [i["title"] for i in page["items"]] == ["C", "B"]
    crit = api.get("/api/v1/incidents", params={"severity": "critical"}, headers=h).json()
    assert crit["total"] == 2
    mine = api.get("/api/v1/incidents", params={"constituent_id": world.bergen_id}, headers=h).json()
    assert [i["title"] for i in mine["items"]] == ["C"]
    assert api.get("/api/v1/incidents", params={"status": "gone"}, headers=h).status_code == 422


def test_bad_input_is_4xx_with_a_message(api, world):
    h = api.headers_for("analyst")
    assert _create(api, severity="apocalyptic").status_code == 422
    assert _create(api, title="  ").status_code == 422
    assert _create(api, tlp="purple").status_code == 422
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = _create(api, aware_at=future)
    assert r.status_code == 422 and "fremtiden" in r.json()["detail"]
    created = _create(api).json()
    path = f"/api/v1/incidents/{created['id']}"
    assert api.patch(path, json={"status": None}, headers=h).status_code == 422
    r = api.post(path + "/events", json={"kind": "report-sent", "deadline": "nis2-1m"}, headers=h)
    assert r.status_code == 422 and "nsm-24h" in r.json()["detail"]
    assert api.get("/api/v1/incidents/999999", headers=h).status_code == 404
    r = api.post(path + "/links", json={"kind": "constituent", "id": 999999}, headers=h)
    assert r.status_code == 404
