"""Min side through the API: a constituent's own users see only their organisation's released alerts,
never above their clearance, answer them (audited), and are refused everything meant for CERT staff."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.audit.models import AuditEntry
from certmon.auth.service import create_user, issue_token
from certmon.errors import ValidationFailed
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Notification, NotificationMatch
from tests.notify.notify_helpers import make_constituent, make_match, make_source


def _alert(s, ref, constituent, matches, *, tlp, status="sent", mode="immediate"):
    n = Notification(reference=ref, constituent_id=constituent.id, mode=mode, tlp=tlp, status=status,
                     subject=f"Varsel {ref}", severity="high", dedupe_key=f"test:{ref}")
    s.add(n)
    s.flush()
    for m in matches:
        s.add(NotificationMatch(notification_id=n.id, match_id=m.id))
    s.flush()
    return n


@pytest.fixture(params=["sqlite", "pg"])
def portal(request):
    env = request.getfixturevalue(f"{request.param}_env")
    with env.factory.begin() as s:
        own = make_constituent(s, "Testvik kommune", org_number="999777111")
        other = make_constituent(s, "Andvik kommune", org_number="999777112")
        src = make_source(s)
        m_clear = make_match(s, own, tlp="clear", source=src)
        m_strict = make_match(s, own, tlp="amber+strict", source=src)
        m_red = make_match(s, own, tlp="red", source=src)
        m_green = make_match(s, own, tlp="green", source=src)
        m_strict2 = make_match(s, own, tlp="amber+strict", source=src)
        m_other = make_match(s, other, tlp="clear", source=src)
        _alert(s, "HKC-2026-000001", own, [m_clear, m_strict], tlp="amber+strict")
        _alert(s, "HKC-2026-000002", own, [m_red], tlp="red")
        _alert(s, "HKC-2026-000003", own, [m_clear], tlp="clear", status="queued")
        _alert(s, "HKC-2026-000004", other, [m_other], tlp="clear")
        _alert(s, "HKC-2026-000005", own, [m_clear], tlp="clear", mode="reminder")
        _alert(s, "HKC-2026-000006", own, [m_green, m_strict2], tlp="green")
        users = {
            "own": dict(role="constituent", constituent_id=own.id, tlp_max="amber+strict"),
            "own-green": dict(role="constituent", constituent_id=own.id, tlp_max="green"),
            "own-red": dict(role="constituent", constituent_id=own.id, tlp_max="red"),
            "analyst": dict(role="analyst"),
        }
        tokens = {}
        for name, kw in users.items():
            user = create_user(s, email=f"{name}@test.invalid", password="passord123", **kw)
            tokens[name] = issue_token(s, user=user)
        ids = {"strict": m_strict.id, "clear": m_clear.id}
        clear_value = s.get(StoredItem, m_clear.item_id).value
    client = TestClient(create_app())
    client.h = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # type: ignore[attr-defined]
    client.env, client.ids, client.clear_value = env, ids, clear_value  # type: ignore[attr-defined]
    return client


def test_me_names_the_organisation_and_clearance(portal):
    me = portal.get("/api/v1/me", headers=portal.h("own")).json()
    assert me["role"] == "constituent" and me["clearance"] == "amber+strict"
    assert me["organisation"]["org_number"] == "999777111"
    assert me["organisation"]["name"] == "Testvik kommune"
    capped = portal.get("/api/v1/me", headers=portal.h("own-red")).json()
    assert capped["clearance"] == "amber+strict"  # a constituent never reads RED
    staff = portal.get("/api/v1/me", headers=portal.h("analyst")).json()
    assert staff["organisation"] is None and staff["clearance"] == "red"


def test_only_own_released_alerts_at_or_below_clearance(portal):
    body = portal.get("/api/v1/me/alerts", headers=portal.h("own")).json()
    assert body["total"] == 2
    assert [a["reference"] for a in body["items"]] == ["HKC-2026-000006", "HKC-2026-000001"]
    first = body["items"][1]
    assert {i["tlp"] for i in first["items"]} == {"TLP:CLEAR", "TLP:AMBER+STRICT"}
    assert all(i["explanation"].startswith("Adressen") for i in first["items"])
    for hidden in ("HKC-2026-000002", "HKC-2026-000003", "HKC-2026-000004", "HKC-2026-000005"):
        r = portal.get(f"/api/v1/me/alerts/{hidden}", headers=portal.h("own"))
        assert r.status_code == 404 and r.json()["detail"], hidden


def test_withdrawn_matches_leave_the_alert_and_the_export(portal):
    with portal.env.factory.begin() as s:
        s.get(Match, portal.ids["clear"]).status = "false_positive"
    alert = portal.get("/api/v1/me/alerts/HKC-2026-000001", headers=portal.h("own")).json()
    assert [i["tlp"] for i in alert["items"]] == ["TLP:AMBER+STRICT"]
    exported = portal.get("/api/v1/me/indicators", params={"format": "jsonl"}, headers=portal.h("own")).content
    values = {orjson.loads(line)["value"] for line in exported.splitlines()}
    assert len(values) == 3 and portal.clear_value not in values  # alert 1's strict item, alert 6's two


def test_items_above_a_lower_clearance_are_withheld(portal):
    body = portal.get("/api/v1/me/alerts", headers=portal.h("own-green")).json()
    assert [a["reference"] for a in body["items"]] == ["HKC-2026-000006"]
    alert = body["items"][0]
    assert [i["tlp"] for i in alert["items"]] == ["TLP:GREEN"] and alert["withheld"] == 1


def test_answer_is_recorded_on_alert_and_matches_and_audited(portal):
    r = portal.post("/api/v1/me/alerts/HKC-2026-000001/answer", json={"answer": "utbedret"},
                    headers=portal.h("own"))
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "utbedret" and r.json()["acknowledged_at"]
    with portal.env.factory() as s:
        m = s.get(Match, portal.ids["strict"])
        assert m.response == "utbedret" and m.fixed_at is not None
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "notification.response"))
        assert entry is not None and entry.actor == "own@test.invalid"
    bad = portal.post("/api/v1/me/alerts/HKC-2026-000001/answer", json={"answer": "kanskje"},
                      headers=portal.h("own"))
    assert bad.status_code == 422
    other = portal.post("/api/v1/me/alerts/HKC-2026-000004/answer", json={"answer": "mottatt"},
                        headers=portal.h("own"))
    assert other.status_code == 404


def test_roles_are_kept_apart(portal):
    r = portal.get("/api/v1/me/alerts", headers=portal.h("analyst"))
    assert r.status_code == 403 and "virksomhet" in r.json()["detail"]
    for path in ("/api/v1/matches", "/api/v1/notifications", "/api/v1/advisories", "/api/v1/constituents"):
        assert portal.get(path, headers=portal.h("own")).status_code == 403, path
    assert portal.get("/api/v1/me/alerts").status_code == 401
    assets = portal.get("/api/v1/me/assets", headers=portal.h("own"))
    assert assets.status_code == 200 and assets.json() == []


def test_a_constituent_user_needs_an_organisation(sqlite_env):
    with sqlite_env.factory.begin() as s:
        with pytest.raises(ValidationFailed, match="--org"):
            create_user(s, email="x@test.invalid", role="constituent", password="passord123")
        c = make_constituent(s, "Testvik kommune", org_number="999777113")
        with pytest.raises(ValidationFailed, match="bare rollen constituent"):
            create_user(s, email="y@test.invalid", role="reader", password="passord123", constituent_id=c.id)
        with pytest.raises(ValidationFailed, match="ukjent TLP"):
            create_user(s, email="z@test.invalid", role="reader", password="passord123", tlp_max="purple")
