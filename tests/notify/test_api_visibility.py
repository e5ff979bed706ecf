"""The alerts list honours every reader's clearance in SQL: analysts with a lowered clearance, readers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from certmon.api.app import create_app
from certmon.auth.service import create_user, issue_token
from certmon.notify.models import Notification
from certmon.notify.service import list_notifications
from certmon.tlp import TLP
from tests.notify.notify_helpers import make_constituent

LABELS = ["clear", "green", "amber", "amber+strict", "red"]


@pytest.fixture
def api(sqlite_env):
    with sqlite_env.factory.begin() as s:
        own = make_constituent(s, "Testvik kommune", org_number="999888777")
        other = make_constituent(s, "Andvik kommune", org_number="999888778")
        for i in range(30):  # six alerts per label, alternating between two constituents
            c = own if i % 2 else other
            s.add(
                Notification(
                    reference=f"HKC-2026-{900000 + i}",
                    constituent_id=c.id,
                    mode="manual",
                    tlp=LABELS[i % 5],
                    status="sent",
                    dedupe_key=f"test:{i}",
                )
            )
        users = {
            "analyst": dict(role="analyst"),
            "lowered": dict(role="analyst", tlp_max="amber"),
            "reader": dict(role="reader"),
            "constituent": dict(role="constituent", constituent_id=own.id, tlp_max="red"),
            "orphan": dict(role="constituent", constituent_id=other.id),  # unlinked below
        }
        tokens = {}
        for name, kw in users.items():
            user = create_user(s, email=f"{name}@test.invalid", password="passord123", **kw)
            if name == "orphan":  # its organisation was deleted (the link is SET NULL)
                user.constituent_id = None
            tokens[name] = issue_token(s, user=user)
        own_id = own.id
    client = TestClient(create_app())
    client.h = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # type: ignore[attr-defined]
    client.own_id = own_id  # type: ignore[attr-defined]
    return client


def _all(api, who: str, page: int = 7) -> tuple[list[dict], set[int]]:
    items, totals, offset = [], set(), 0
    while True:
        body = api.get("/api/v1/notifications", params={"limit": page, "offset": offset}, headers=api.h(who)).json()
        totals.add(body["total"])
        items += body["items"]
        if not body["items"]:
            return items, totals
        offset += page


@pytest.mark.parametrize(
    ("who", "ceiling", "expected"),
    [("analyst", "red", 30), ("lowered", "amber", 18), ("reader", "amber", 18)],
)
def test_list_is_filtered_paginated_and_counted(api, who: str, ceiling: str, expected: int) -> None:
    items, totals = _all(api, who)
    assert totals == {expected} and len(items) == expected
    assert len({i["id"] for i in items}) == expected  # pages neither overlap nor skip
    assert all(LABELS.index(i["tlp"]) <= LABELS.index(ceiling) for i in items)


def test_lowered_analyst_cannot_open_a_red_alert(api) -> None:
    items, _ = _all(api, "analyst")
    red = next(i for i in items if i["tlp"] == "red")
    assert api.get(f"/api/v1/notifications/{red['id']}", headers=api.h("lowered")).status_code == 404
    assert api.get(f"/api/v1/notifications/{red['id']}", headers=api.h("analyst")).status_code == 200


def test_constituent_users_may_not_list(api) -> None:
    for who in ("constituent", "orphan"):  # the list is for CERT staff; the portal is separate
        assert api.get("/api/v1/notifications", headers=api.h(who)).status_code == 403


def test_service_filters_by_tlp_max(api, sqlite_env) -> None:
    with sqlite_env.factory() as s:
        rows, total = list_notifications(s, tlp_max=TLP.GREEN, limit=5)
        assert total == 12 and len(rows) == 5 and {r.tlp for r in rows} <= {"clear", "green"}
        assert list_notifications(s, tlp_max=None, limit=1)[1] == 30
