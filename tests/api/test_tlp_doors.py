"""TLP at every door: every route that sends or exports, found from the app's own routes, run by users
of each role and clearance against data of each TLP (hypothesis). A new sending or exporting route
fails `test_every_door_is_known` until it has a case here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.auth.models import User
from certmon.auth.service import create_user, issue_token
from certmon.exports.service import indicator_id
from certmon.items.models import StoredItem
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.registry.models import Constituent, Contact
from certmon.reports.models import Report
from certmon.sources.models import Source
from certmon.tlp import TLP

PASSWORD = "dorvakt-passord-1"
ROLES = ("reader", "analyst", "admin", "constituent")
# words in a path that suggest data leaves: such a route must be a door below or explained in NOT_DOORS
HINTS = ("send", "manual", "export", "approve", "godkjenn", "igjen", "indicators", ".pdf", ".html")
NOT_DOORS = {
    ("GET", "/api/v1/indicators"): "a list filtered by clearance in SQL (tests/items); shows, sends nothing",
    ("POST", "/api/v1/reports/{report_id}/approve"): "freezes a report; nothing leaves",
    ("POST", "/rapporter/{report_id}/godkjenn"): "freezes a report; nothing leaves",
    ("GET", "/indikatorer"): "the dashboard's list, filtered by clearance (tests/dashboards)",
    ("GET", "/utsendte-varsler"): "the dashboard's list of alerts, filtered by clearance in SQL",
    ("POST", "/utsendte-varsler/{notification_id}/avvis"): "turns an alert down; nothing leaves",
    ("POST", "/api/v1/proposals/{proposal_id}/approve"): "applies a registry change; alerts that follow go "
                                                         "through the outbox's own TLP rules (tests/notify)",
    ("POST", "/forslag/{proposal_id}/godkjenn"): "applies a registry change (as the API's approve)",
}
_seq = itertools.count(1)


def cleared(user: User) -> TLP:
    """The test's own oracle, written from the rules rather than from certmon's helper."""
    cap = {"admin": TLP.RED, "analyst": TLP.RED, "reader": TLP.AMBER, "constituent": TLP.AMBER_STRICT}[user.role]
    return min(TLP[user.tlp_max.upper().replace("+", "_")], cap)


@dataclass
class World:
    client: TestClient
    factory: Callable
    org: int
    other_org: int
    users: dict[tuple[str, str, bool], tuple[User, str]]
    cookies: dict[int, tuple[TestClient, str]]

    def api(self, user_token: str, method: str, url: str, **kw):
        return self.client.request(method, url, headers={"Authorization": f"Bearer {user_token}"}, **kw)

    def dashboard(self, user: User) -> tuple[TestClient, str]:
        """A browser signed in as `user`, and its CSRF token."""
        if user.id not in self.cookies:
            browser = TestClient(self.client.app)
            token = _csrf(browser.get("/login").text)
            r = browser.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD},
                             follow_redirects=False)
            assert r.status_code == 303, r.text
            self.cookies[user.id] = (browser, _csrf(browser.get("/").text))
        return self.cookies[user.id]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
def world(sqlite_env, monkeypatch) -> World:
    monkeypatch.setenv("CERTMON_LOGIN_RATE", "1000/minute")
    with sqlite_env.factory.begin() as s:
        org, other = s.scalars(select(Constituent.id).order_by(Constituent.id).limit(2)).all()
        s.add(Contact(constituent_id=org, email="soc@org.example", name="SOC", tlp_max="red", mode="immediate"))
        users = {}
        for role, tlp in itertools.product(ROLES, TLP):
            for own in (True, False) if role == "constituent" else (True,):
                user = create_user(s, email=f"{role}-{tlp.value_str}-{own}@cert.example".replace("+", "-"),
                                   role=role, password=PASSWORD, tlp_max=tlp.value_str,
                                   constituent_id=(org if own else other) if role == "constituent" else None)
                users[(role, tlp.value_str, own)] = (user, issue_token(s, user=user))
        s.flush()
        for user, _ in users.values():
            s.expunge(user)
    return World(TestClient(create_app()), sqlite_env.factory, org, other, users, {})


# --- data each case plants --------------------------------------------------------------------------
def _indicator(w: World, tlp: TLP) -> tuple[int, int, str]:
    """A fresh source with one indicator of this TLP, matched to the organisation: (match, source, value)."""
    n = next(_seq)
    value = f"door-{n}.example"
    with w.factory.begin() as s:
        src = Source(name=f"door-{n}", title="Door", format="stix", url="https://door.invalid/")
        s.add(src)
        s.flush()
        (item_id,) = upsert_items(s, source_id=src.id, items=[Item(
            kind="indicator", key=f"door-{n}", tlp=tlp.value_str, source_format="stix", type="domain",
            value=value)]).new_ids
        match = Match(item_id=item_id, constituent_id=w.org, rule="domain", asset="example", confidence=90,
                      explanation="Dør.", severity="high", status="confirmed")
        s.add(match)
        s.flush()
        return match.id, src.id, value


def _notification(w: World, tlp: TLP, *, status: str = "sent", mode: str = "immediate",
                  by: str | None = None) -> tuple[int, str]:
    """An alert of this TLP with one failed recipient: (notification id, recipient address)."""
    match_id, _src, _value = _indicator(w, tlp)
    n = next(_seq)
    rcpt = "soc@org.example" if mode == "manual" else f"rcpt-{n}@org.example"
    with w.factory.begin() as s:
        note = Notification(reference=f"HKC-2026-9{n:05d}", constituent_id=w.org, mode=mode, status=status,
                            dedupe_key=f"door:{n}", tlp=tlp.value_str, severity="high", created_by=by)
        s.add(note)
        s.flush()
        s.add(NotificationMatch(notification_id=note.id, match_id=match_id))
        s.add(Delivery(notification_id=note.id, email=rcpt, tlp=tlp.value_str,
                       status="failed" if status == "sent" else "queued"))
        return note.id, rcpt


# --- the doors ---------------------------------------------------------------------------------------
# Each case plants data of TLP `tlp`, calls the route as `user`, and returns (went_through, leaked_text):
# whether the action happened or the data came back, and the response text, which must never carry
# the planted secret when the door stays shut.
def manual(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    match_id, _src, value = _indicator(w, tlp)
    r = w.api(token, "POST", "/api/v1/notifications/manual",
              json={"match_ids": [match_id], "recipients": ["soc@org.example"]})
    with w.factory() as s:
        sent = s.scalar(select(NotificationMatch.notification_id).where(NotificationMatch.match_id == match_id))
    assert (r.status_code == 201) == (sent is not None), r.text
    if sent is not None and tlp == TLP.RED:
        assert r.json()["status"] == "awaiting_approval"
    return sent is not None, r.text, value


def resend(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    note_id, rcpt = _notification(w, tlp)
    r = w.api(token, "POST", f"/api/v1/notifications/{note_id}/resend", json={})
    return _requeued(w, note_id), r.text, rcpt


def approve(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    note_id, rcpt = _notification(w, tlp, status="awaiting_approval", mode="manual", by="sender@cert.example")
    r = w.api(token, "POST", f"/api/v1/notifications/{note_id}/approve")
    return _status(w, note_id) == "queued", r.text, rcpt


def dash_resend(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    note_id, rcpt = _notification(w, tlp)
    text = _dashboard_post(w, user, f"/utsendte-varsler/{note_id}/send-igjen")
    return _requeued(w, note_id), text, rcpt


def dash_approve(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    note_id, rcpt = _notification(w, tlp, status="awaiting_approval", mode="manual", by="sender@cert.example")
    text = _dashboard_post(w, user, f"/utsendte-varsler/{note_id}/godkjenn")
    return _status(w, note_id) == "queued", text, rcpt


def export(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    _match, src, value = _indicator(w, tlp)
    r = w.api(token, "GET", f"/api/v1/export/indicators?format=jsonl&source_id={src}")
    return r.status_code == 200 and value in r.text, r.text, value


def my_export(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    _indicator(w, tlp)  # an item never alerted must never be in the organisation's file
    note_id, _rcpt = _notification(w, tlp)
    with w.factory() as s:
        item_id = s.scalar(select(Match.item_id).join(NotificationMatch, NotificationMatch.match_id == Match.id)
                           .where(NotificationMatch.notification_id == note_id))
        value = s.scalar(select(StoredItem.value).where(StoredItem.id == item_id))
    r = w.api(token, "GET", "/api/v1/me/indicators?format=jsonl")
    return r.status_code == 200 and value in r.text, r.text, value


def _alerted_value(w: World, tlp: TLP) -> tuple[str, str]:
    """An indicator of this TLP alerted to the organisation: (its value, its STIX id)."""
    note_id, _rcpt = _notification(w, tlp)
    with w.factory() as s:
        item = s.scalar(select(StoredItem).join(Match, Match.item_id == StoredItem.id)
                        .join(NotificationMatch, NotificationMatch.match_id == Match.id)
                        .where(NotificationMatch.notification_id == note_id))
        assert item is not None and item.value
        return item.value, indicator_id(item.source_id, item.key)


def _taxii_collections(w: World, token: str) -> tuple[list[str], str]:
    r = w.api(token, "GET", "/taxii2/certmon/collections/")
    return ([c["id"] for c in r.json()["collections"]] if r.status_code == 200 else []), r.text


def taxii_objects(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    value, _stix_id = _alerted_value(w, tlp)  # staff see it in its level's collection, the organisation in its own
    ids, text = _taxii_collections(w, token)
    for cid in ids:
        text += w.api(token, "GET", f"/taxii2/certmon/collections/{cid}/objects/?limit=5000").text
    return value in text, text, value


def taxii_object(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
    value, stix_id = _alerted_value(w, tlp)
    ids, text = _taxii_collections(w, token)
    for cid in ids:
        text += w.api(token, "GET", f"/taxii2/certmon/collections/{cid}/objects/{stix_id}/").text
    return value in text, text, value


def report(ext: str) -> Callable[[World, User, str, TLP], tuple[bool, str, str]]:
    def case(w: World, user: User, token: str, tlp: TLP) -> tuple[bool, str, str]:
        n = next(_seq)
        secret = f"rapport-hemmelighet-{n}"
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with w.factory.begin() as s:
            row = Report(period_kind="custom", period_key=f"door-{n}", period_start=start, period_end=start,
                         title="Dør", tlp_max=tlp.value_str, tlp=tlp.value_str, status="approved",
                         created_by="a@cert.example", html=f"<p>{secret}</p>", pdf=f"%PDF-1.7 {secret}".encode())
            s.add(row)
            s.flush()
            report_id = row.id
        r = w.api(token, "GET", f"/api/v1/reports/{report_id}.{ext}")
        return r.status_code == 200 and secret in r.text, r.text, secret
    return case


def _dashboard_post(w: World, user: User, path: str) -> str:
    if user.role == "constituent":
        browser, csrf = TestClient(w.client.app), "none"
    else:
        browser, csrf = w.dashboard(user)
    r = browser.post(path, data={"csrf_token": csrf}, follow_redirects=False)
    return r.text + (browser.get("/utsendte-varsler").text if r.status_code == 303 else "")


def _requeued(w: World, note_id: int) -> bool:
    with w.factory() as s:
        return s.scalar(select(Delivery.status).where(Delivery.notification_id == note_id)) == "queued"


def _status(w: World, note_id: int) -> str | None:
    with w.factory() as s:
        return s.scalar(select(Notification.status).where(Notification.id == note_id))


STAFF = ("analyst", "admin")
# (method, path) → (case, roles the route admits, the TLP levels that can exist there)
DOORS = {
    ("POST", "/api/v1/notifications/manual"): (manual, STAFF, tuple(TLP)),
    ("POST", "/api/v1/notifications/{notification_id}/resend"): (resend, STAFF, tuple(TLP)),
    ("POST", "/api/v1/notifications/{notification_id}/approve"): (approve, STAFF, (TLP.RED,)),
    ("POST", "/utsendte-varsler/{notification_id}/send-igjen"): (dash_resend, STAFF, tuple(TLP)),
    ("POST", "/utsendte-varsler/{notification_id}/godkjenn"): (dash_approve, STAFF, (TLP.RED,)),
    ("GET", "/api/v1/export/indicators"): (export, ("reader", *STAFF), tuple(TLP)),
    ("GET", "/api/v1/me/indicators"): (my_export, ("constituent",), tuple(TLP)),
    ("GET", "/api/v1/reports/{report_id}.pdf"): (report("pdf"), ("reader", *STAFF), tuple(TLP)),
    ("GET", "/api/v1/reports/{report_id}.html"): (report("html"), ("reader", *STAFF), tuple(TLP)),
    ("GET", "/taxii2/{api_root}/collections/{collection_id}/objects/"):
        (taxii_objects, ("reader", "constituent", *STAFF), tuple(TLP)),
    ("GET", "/taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/"):
        (taxii_object, ("reader", "constituent", *STAFF), tuple(TLP)),
}


def discovered_doors() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(routes marked as doors, routes whose path hints that data leaves) in the running app."""
    marked, hinted = set(), set()
    for path, route in all_routes(create_app()):
        for method in route.methods - {"HEAD", "OPTIONS"}:
            if (route.openapi_extra or {}).get("x-certmon-tlp-door"):
                marked.add((method, path))
            if any(word in path for word in HINTS):
                hinted.add((method, path))
    return marked, hinted


def all_routes(app) -> list[tuple[str, APIRoute]]:
    """Every API route with its full path (FastAPI ≥ 0.16x keeps included routers as branches)."""
    found = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append((route.path, route))
        for ctx in getattr(route, "effective_route_contexts", list)():
            if isinstance(ctx.original_route, APIRoute):
                found.append((ctx.path, ctx.original_route))
    assert len(found) > 50, "the route walk found too few routes: FastAPI changed how it keeps them"
    return found


def test_every_door_is_known(sqlite_env) -> None:
    marked, hinted = discovered_doors()
    assert marked == set(DOORS), "a route marked SENDS/EXPORTS needs a case in DOORS"
    unexplained = hinted - set(DOORS) - set(NOT_DOORS)
    assert not unexplained, f"new routes that may send or export: {sorted(unexplained)} — add them to DOORS"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(door=st.sampled_from(sorted(DOORS)), role=st.sampled_from(ROLES), user_tlp=st.sampled_from(list(TLP)),
       own=st.booleans(), data=st.data())
def test_no_door_lets_anything_past_the_callers_clearance(world, door, role, user_tlp, own, data) -> None:
    case, roles, levels = DOORS[door]
    tlp = data.draw(st.sampled_from(levels), label="tlp")
    user, token = world.users[(role, user_tlp.value_str, own or role != "constituent")]
    went_through, text, secret = case(world, user, token, tlp)
    own_org = user.role != "constituent" or user.constituent_id == world.org
    expected = user.role in roles and tlp <= cleared(user) and own_org
    assert went_through == expected, (door, user.email, tlp, text[:300])
    if not expected:
        assert secret not in text, (door, user.email, tlp)
