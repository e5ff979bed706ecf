"""Min side in the dashboard: the demo municipality's own user signs in, sees only Bergen's released
alerts below TLP:RED with why they were sent, answers one, and is kept out of the analyst pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Notification, NotificationMatch
from certmon.registry.models import Constituent

PORTAL_USER = "kommune@demo.invalid"


def _plant_alerts(dash) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A sent TLP:AMBER alert with one of Bergen's non-red matches, and a sent TLP:RED one."""
    with dash.session() as s:
        bergen = s.scalar(select(Constituent).where(Constituent.name == "Bergen", Constituent.kind == "kommune"))
        match = s.scalar(select(Match).join(StoredItem, StoredItem.id == Match.item_id)
                         .where(Match.constituent_id == bergen.id, StoredItem.tlp != "red").order_by(Match.id))
        assert match is not None, "the demo scenario gives Bergen matches"
        refs = []
        for i, (tlp, m_id) in enumerate((("amber", match.id), ("red", dash.prepared.red_match_id))):
            n = Notification(reference=f"HKC-2026-99990{i}", constituent_id=bergen.id, mode="immediate", tlp=tlp,
                             status="sent", subject=f"Testvarsel {tlp}", severity="high",
                             dedupe_key=f"portal-test:{i}")
            s.add(n)
            s.flush()
            s.add(NotificationMatch(notification_id=n.id, match_id=m_id))
            refs.append(n.reference)
        s.commit()
        return refs[0], refs[1]


def test_constituent_user_lands_on_min_side_and_sees_own_alerts(dash):
    amber_ref, red_ref = _plant_alerts(dash)
    token = dash.csrf()
    r = dash.client.post("/login", data={"csrf_token": token, "email": PORTAL_USER, "password": "demo",
                                         "next": "/treff"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/min-side"
    page = dash.client.get("/min-side")
    assert page.status_code == 200
    assert "Bergen kommune" in page.text and amber_ref in page.text
    assert red_ref not in page.text and "RØD: intern hendelse" not in page.text
    assert "Hvorfor dere fikk det" in page.text and "Min side" in page.text
    assert "/treff" not in page.text  # no analyst menu
    # analyst pages send the portal user back to Min side
    for path in ("/", "/treff", "/virksomheter", "/utsendte-varsler"):
        r = dash.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/min-side", path


def test_answer_from_min_side_needs_csrf_and_is_recorded(dash):
    amber_ref, red_ref = _plant_alerts(dash)
    dash.login(PORTAL_USER)
    page = dash.client.get("/min-side").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    forged = dash.client.post(f"/min-side/varsler/{amber_ref}/svar", data={"answer": "mottatt"})
    assert forged.status_code == 403
    r = dash.client.post(f"/min-side/varsler/{amber_ref}/svar", data={"csrf_token": token, "answer": "mottatt"})
    assert r.status_code == 200 and "svaret deres på" in r.text and "Mottatt" in r.text
    with dash.session() as s:
        n = s.scalar(select(Notification).where(Notification.reference == amber_ref))
        assert n.response == "mottatt"
    hidden = dash.client.post(f"/min-side/varsler/{red_ref}/svar", data={"csrf_token": token, "answer": "mottatt"})
    assert hidden.status_code == 404


def test_analysts_are_pointed_to_organisations_instead(dash):
    dash.login("analytiker@demo.invalid")
    r = dash.client.get("/min-side")
    assert r.status_code == 403 and "Virksomheter" in r.text
