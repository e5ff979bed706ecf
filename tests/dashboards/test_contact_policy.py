"""One policy for contact addresses (auth.may_see_contacts): analysts and admins see them on the
organisation page, the alert list and in the API; readers see that contacts exist and how they are set
up, with only the organisation's domain, and the contacts API refuses them — dashboard and API agree."""

from __future__ import annotations

from sqlalchemy import select

from certmon.notify.models import Delivery, Notification
from certmon.registry.service import find_by_org_number

BERGEN = "964338531"
ADDRESSES = ("sikkerhet@demo-bergen.example", "it-drift@demo-bergen.example")
NAME = "DEMO Sikkerhetskontakt Bergen"


def _plant_delivery(dash) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with dash.session() as s:
        bergen = find_by_org_number(s, BERGEN)
        n = Notification(reference="HKC-2026-999970", constituent_id=bergen.id, mode="immediate", tlp="green",
                         status="failed", subject="Testvarsel", severity="high", dedupe_key="contact-policy:1")
        s.add(n)
        s.flush()
        s.add(Delivery(notification_id=n.id, email=ADDRESSES[0], status="failed", attempts=3,
                       last_error=f"550 5.1.1 <{ADDRESSES[0].upper()}>: mailbox unavailable"))
        s.commit()
        return bergen.id, n.id


def test_readers_see_contacts_exist_but_not_who(dash):
    bergen_id, notification_id = _plant_delivery(dash)
    dash.login("leser@demo.invalid")
    page = dash.client.get(f"/virksomheter/{bergen_id}").text
    assert "Kontakter" in page and "…@demo-bergen.example" in page
    assert "vises bare for analytikere og administratorer" in page
    assert not any(a in page for a in ADDRESSES) and NAME not in page
    alerts = dash.client.get("/utsendte-varsler").text
    assert "HKC-2026-999970" in alerts and "…@demo-bergen.example" in alerts
    assert ADDRESSES[0] not in alerts.lower() and "mailbox unavailable" in alerts
    # the API says the same with the same session: no contact list, masked recipients
    assert dash.client.get(f"/api/v1/constituents/{bergen_id}/contacts").status_code == 403
    detail = dash.client.get(f"/api/v1/notifications/{notification_id}").json()
    assert [d["email"] for d in detail["deliveries"]] == ["…@demo-bergen.example"]
    assert ADDRESSES[0] not in detail["deliveries"][0]["last_error"].lower()


def test_analysts_and_admins_see_the_addresses_in_both(dash):
    bergen_id, notification_id = _plant_delivery(dash)
    for email in ("analytiker@demo.invalid", "admin@demo.invalid"):
        dash.login(email)
        page = dash.client.get(f"/virksomheter/{bergen_id}").text
        assert all(a in page for a in ADDRESSES) and NAME in page
        assert "vises bare for analytikere" not in page
        assert ADDRESSES[0] in dash.client.get("/utsendte-varsler").text
        api = dash.client.get(f"/api/v1/constituents/{bergen_id}/contacts")
        assert api.status_code == 200 and set(ADDRESSES) <= {c["email"] for c in api.json()}
        detail = dash.client.get(f"/api/v1/notifications/{notification_id}").json()
        assert detail["deliveries"][0]["email"] == ADDRESSES[0]
        with dash.session() as s:
            assert s.scalar(select(Delivery.email).where(Delivery.notification_id == notification_id)) == ADDRESSES[0]


def test_the_alert_list_shows_the_subject_each_recipient_received(dash):
    with dash.session() as s:
        bergen = find_by_org_number(s, BERGEN)
        n = Notification(reference="HKC-2026-999971", constituent_id=bergen.id, mode="immediate", tlp="amber",
                         status="sent", subject="[TLP:AMBER] HKC-2026-999971 Varsel: 2 nye funn (Bergen kommune)",
                         severity="high", dedupe_key="contact-policy:2")
        s.add(n)
        s.flush()
        s.add(Delivery(notification_id=n.id, email=ADDRESSES[0], status="sent", language="en", tlp="green",
                       withheld=1, subject="[TLP:GREEN] HKC-2026-999971 Alert: 1 new finding (Bergen kommune)"))
        s.add(Delivery(notification_id=n.id, email=ADDRESSES[1], status="queued"))
        s.commit()
        notification_id = n.id
    dash.login("leser@demo.invalid")
    page = dash.client.get("/utsendte-varsler").text
    assert "Emne mottakeren fikk" in page and "[TLP:GREEN] HKC-2026-999971 Alert: 1 new finding" in page
    detail = dash.client.get(f"/api/v1/notifications/{notification_id}").json()
    assert [d["subject"] for d in detail["deliveries"]] == [
        "[TLP:GREEN] HKC-2026-999971 Alert: 1 new finding (Bergen kommune)", None]
