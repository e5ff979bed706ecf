"""Alerts API and the no-login response pages, through the real FastAPI app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.auth.service import create_user, issue_token
from certmon.matching.models import Match
from certmon.notify.links import make_token
from certmon.notify.models import Notification
from certmon.notify.outbox import queue_alerts
from tests.notify.notify_helpers import make_constituent, make_contact, make_match


@pytest.fixture
def api(sqlite_env):
    with sqlite_env.factory.begin() as s:
        tokens = {}
        for role in ("admin", "analyst", "reader"):
            user = create_user(s, email=f"{role}@test.invalid", role=role, password="passord123")
            tokens[role] = issue_token(s, user=user)
        c = make_constituent(s, "Testvik kommune", org_number="999888777")
        make_contact(s, c, "it@testvik.kommune.no")
        amber = make_match(s, c, tlp="amber")
        strict = make_match(s, c, tlp="amber+strict")
        queue_alerts(s, match_ids=[amber.id], now=None)
        make_contact(s, c, "strict@testvik.kommune.no", tlp_max="amber+strict")
        queue_alerts(s, match_ids=[strict.id])
    client = TestClient(create_app())
    client.h = lambda role: {"Authorization": f"Bearer {tokens[role]}"}  # type: ignore[attr-defined]
    client.constituent_id = c.id  # type: ignore[attr-defined]
    return client


def test_list_detail_and_clearance(api, sqlite_env) -> None:
    analyst = api.get("/api/v1/notifications", headers=api.h("analyst")).json()
    assert analyst["total"] >= 1 and {"items", "total"} <= set(analyst)
    reader = api.get("/api/v1/notifications", headers=api.h("reader")).json()
    assert all(i["tlp"] in ("clear", "green", "amber") for i in reader["items"])
    first = analyst["items"][-1]
    detail = api.get(f"/api/v1/notifications/{first['id']}", headers=api.h("analyst")).json()
    assert detail["reference"].startswith("HKC-") and detail["deliveries"][0]["status"] == "queued"
    assert api.get("/api/v1/notifications").status_code == 401
    filtered = api.get("/api/v1/notifications", params={"status": "sent"}, headers=api.h("analyst")).json()
    assert filtered["total"] == 0


def test_policy_requires_admin_and_validates(api) -> None:
    assert api.get("/api/v1/alert-policy", headers=api.h("analyst")).status_code == 403
    policy = api.get("/api/v1/alert-policy", headers=api.h("admin")).json()
    assert policy["min_confidence"] == 80 and policy["max_tlp"] == "amber+strict"
    bad = api.put("/api/v1/alert-policy", json={**policy, "max_tlp": "red"}, headers=api.h("admin"))
    assert bad.status_code == 422 and "max_tlp" in " ".join(bad.json()["problems"])
    ok = api.put("/api/v1/alert-policy", json={**policy, "min_confidence": 70}, headers=api.h("admin"))
    assert ok.status_code == 200 and ok.json()["min_confidence"] == 70
    # the leading edge: shown with its defaults, edited like the rest, bad values named
    assert policy["at_once_min_severity"] == "high" and policy["at_once_known_exploited"] is True
    edge = {**policy, "at_once_min_severity": "critical", "at_once_known_exploited": False}
    ok = api.put("/api/v1/alert-policy", json=edge, headers=api.h("admin"))
    assert ok.json()["at_once_min_severity"] == "critical" and ok.json()["at_once_known_exploited"] is False
    bad = api.put("/api/v1/alert-policy", json={**policy, "at_once_min_severity": "soon"}, headers=api.h("admin"))
    assert bad.status_code == 422 and "at_once_min_severity" in " ".join(bad.json()["problems"])


def test_contacts_crud(api) -> None:
    base = f"/api/v1/constituents/{api.constituent_id}/contacts"
    created = api.post(
        base,
        json={"email": "Ny@Testvik.kommune.no", "language": "en", "tlp_max": "green"},
        headers=api.h("admin"),
    )
    assert created.status_code == 201 and created.json()["email"] == "ny@testvik.kommune.no"
    cid = created.json()["id"]
    assert api.post(base, json={"email": "x@y.no"}, headers=api.h("analyst")).status_code == 403
    bad = api.post(base, json={"email": "nope", "language": "de"}, headers=api.h("admin"))
    assert bad.status_code == 422
    upd = api.put(
        f"{base}/{cid}", json={"email": "ny@testvik.kommune.no", "mode": "digest"}, headers=api.h("admin")
    )
    assert upd.json()["mode"] == "digest"
    assert len(api.get(base, headers=api.h("analyst")).json()) == 3
    assert api.delete(f"{base}/{cid}", headers=api.h("admin")).status_code == 204


def test_response_link_get_shows_post_records(api, sqlite_env) -> None:
    with sqlite_env.factory() as s:
        n = s.scalars(select(Notification).order_by(Notification.id)).first()
        token = make_token(n.id, "utbedret")
    page = api.get(f"/svar/{token}")
    assert page.status_code == 200 and '<form method="post"' in page.text and n.reference in page.text
    with sqlite_env.factory() as s:
        assert s.get(Notification, n.id).response is None  # GET records nothing
    done = api.post(f"/svar/{token}")
    assert done.status_code == 200 and "Takk" in done.text
    assert api.post(f"/svar/{token}").status_code == 200  # idempotent
    with sqlite_env.factory() as s:
        assert s.get(Notification, n.id).response == "utbedret"
        assert all(m.fixed_at for m in s.scalars(select(Match).where(Match.response.is_not(None))))
    assert api.get("/svar/forged.token").status_code == 400


def test_answer_page_speaks_the_recipients_language_and_says_which_answer_is_stored(api, sqlite_env) -> None:
    from certmon.notify.models import Delivery

    with sqlite_env.factory.begin() as s:
        n = s.scalars(select(Notification).order_by(Notification.id)).first()
        delivery = s.scalars(select(Delivery).where(Delivery.notification_id == n.id)).first()
        delivery.language, delivery.tlp = "en", "amber"
        received, fixed = (make_token(n.id, a, delivery_id=delivery.id) for a in ("mottatt", "utbedret"))
    response = api.get(f"/svar/{received}")
    nonce = response.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    page = response.text
    assert f'<style nonce="{nonce}">' in page and "unsafe-inline" not in response.headers["content-security-policy"]
    assert '<html lang="en">' in page and "Confirm: Received" in page and "certmon" in page
    assert '<span class="tlp">TLP:AMBER</span>' in page
    assert "Thank you" in api.post(f"/svar/{received}").text
    assert "Answer stored now: “Received”" in api.get(f"/svar/{fixed}").text
    second = api.post(f"/svar/{fixed}").text
    assert "Stored answer for alert" in second and "“Fixed”" in second
    assert "replaces the earlier answer “Received”" in second
    with sqlite_env.factory.begin() as s:
        s.get(Delivery, delivery.id).language = "nn"
    assert "Stadfest: Motteke" in api.get(f"/svar/{received}").text
    broken = api.get("/svar/forged.token")
    assert broken.status_code == 400 and "Lenken virker ikke" in broken.text and "certmon" in broken.text


def test_response_link_names_the_recipient_in_the_audit_log(api, sqlite_env) -> None:
    from certmon.audit.models import AuditEntry
    from certmon.notify.models import Delivery

    with sqlite_env.factory.begin() as s:
        first = s.scalars(select(Notification).order_by(Notification.id)).first()
        delivery = s.scalars(select(Delivery).where(Delivery.notification_id == first.id)).first()
        second = Notification(reference="HKC-2026-990001", constituent_id=first.constituent_id, mode="manual",
                              tlp="clear", status="sent", dedupe_key="test:second")
        s.add(second)
        s.flush()
        other = Delivery(notification_id=second.id, email="annen@testvik.kommune.no", status="sent")
        s.add(other)
        s.flush()
        good = make_token(first.id, "mottatt", delivery_id=delivery.id)
        crossed = make_token(first.id, "mottatt", delivery_id=other.id)  # a delivery of another alert
        missing = make_token(first.id, "mottatt", delivery_id=999_999)
        email = delivery.email
    assert api.post(f"/svar/{crossed}").status_code == 400
    assert api.post(f"/svar/{missing}").status_code == 400
    assert api.post(f"/svar/{good}").status_code == 200
    with sqlite_env.factory() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "notification.response")).one()
        assert entry.actor == f"svar-lenke:{email}"
