"""Min side in the dashboard: the demo municipality's own user signs in, sees only Bergen's released
alerts below TLP:RED with why they were sent, answers one, and is kept out of the analyst pages."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from certmon.auth.models import User
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Notification, NotificationMatch
from certmon.registry.models import Constituent
from certmon.taxii.service import COLLECTION_NAMESPACE

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
    # what the firewall takes: the TAXII discovery URL and the organisation's own collection id
    with dash.session() as s:
        org_number = s.scalar(select(Constituent.org_number).join(User, User.constituent_id == Constituent.id)
                              .where(User.email == PORTAL_USER))
    assert "/taxii2/</code>" in page.text and "over TAXII 2.1" in page.text
    assert str(uuid.uuid5(COLLECTION_NAMESPACE, f"constituent:{org_number}")) in page.text
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


def _bergen_id(dash) -> int:  # type: ignore[no-untyped-def]
    with dash.session() as s:
        return s.scalar(select(Constituent.id).where(Constituent.name == "Bergen", Constituent.kind == "kommune"))


def test_admin_gives_access_with_a_one_time_link(dash):
    bergen = _bergen_id(dash)
    token = dash.login("admin@demo.invalid")
    page = dash.client.post(f"/virksomheter/{bergen}/brukere",
                            data={"csrf_token": token, "email": "Ny.Kontakt@bergen.example", "name": "Ny Kontakt"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    link = re.search(r'<code class="secret-link">([^<]+)</code>', page.text).group(1)
    path = "/passord/" + link.rsplit("/passord/", 1)[1]
    assert "ny.kontakt@bergen.example" in page.text
    again = dash.client.post(f"/virksomheter/{bergen}/brukere", data={"csrf_token": token,
                                                                      "email": "ny.kontakt@bergen.example"})
    assert again.status_code == 422 and "finnes allerede" in again.text
    dash.client.post("/logout", data={"csrf_token": token})

    form = dash.client.get(path)
    assert form.status_code == 200 and "ny.kontakt@bergen.example" in form.text
    assert form.headers["cache-control"] == "no-store" and form.headers["referrer-policy"] == "no-referrer"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    short = dash.client.post(path, data={"csrf_token": csrf, "password": "kort", "confirm": "kort"})
    assert short.status_code == 422 and "8 tegn" in short.text
    done = dash.client.post(path, data={"csrf_token": csrf, "password": "et-godt-passord",
                                        "confirm": "et-godt-passord"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    used = dash.client.get(path)
    assert used.status_code == 400 and "allerede brukt" in used.text

    r = dash.client.post("/login", data={"csrf_token": dash.csrf(), "email": "ny.kontakt@bergen.example",
                                         "password": "et-godt-passord", "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/min-side"


def test_admin_deactivates_access_and_readers_do_not_see_the_section(dash):
    bergen = _bergen_id(dash)
    with dash.session() as s:
        portal_id = s.scalar(select(User.id).where(User.email == PORTAL_USER))
    token = dash.login("admin@demo.invalid")
    assert "Tilgang til Min side" in dash.client.get(f"/virksomheter/{bergen}").text
    r = dash.client.post(f"/virksomheter/{bergen}/brukere/{portal_id}/aktiv", data={"csrf_token": token, "active": "0"})
    assert r.status_code == 200 and "kan ikke lenger logge inn" in r.text
    other = dash.client.post(f"/virksomheter/{bergen + 1}/brukere/{portal_id}/lenke", data={"csrf_token": token})
    assert other.status_code == 404  # the account belongs to Bergen only
    dash.client.post("/logout", data={"csrf_token": token})
    r = dash.client.post("/login", data={"csrf_token": dash.csrf(), "email": PORTAL_USER, "password": "demo",
                                         "next": "/"}, follow_redirects=False)
    assert r.status_code == 401
    token = dash.login("leser@demo.invalid")
    assert "Tilgang til Min side" not in dash.client.get(f"/virksomheter/{bergen}").text
    r = dash.client.post(f"/virksomheter/{bergen}/brukere", data={"csrf_token": token, "email": "x@bergen.example"})
    assert r.status_code == 403


def test_export_links_work_with_the_dashboard_session(dash):
    dash.login("leser@demo.invalid")
    page = dash.client.get("/indikatorer?type=ipv4").text
    assert "/api/v1/export/indicators?format=stix&amp;type=ipv4" in page
    r = dash.client.get("/api/v1/export/indicators?format=csv&type=ipv4")
    assert r.status_code == 200 and r.headers["x-tlp"] in ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER")
    assert r.content.startswith(b"type,value,tlp")


def test_a_new_password_ends_older_sessions(dash):
    from certmon.auth import invites

    dash.login(PORTAL_USER)
    assert dash.client.get("/min-side", follow_redirects=False).status_code == 200
    with dash.session() as s:
        user = s.scalar(select(User).where(User.email == PORTAL_USER))
        token = invites.make_link(s, user, actor="test").rsplit("/passord/", 1)[1]
        invites.set_password(s, token=token, password="nytt-passord-1", confirm="nytt-passord-1")
        s.commit()
    r = dash.client.get("/min-side", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert dash.client.get("/api/v1/me").status_code == 401


def test_dashboard_login_delays_after_repeated_wrong_passwords(dash):
    for _ in range(5):  # the default: 5 wrong passwords per account and client in 5 minutes
        r = dash.client.post("/login", data={"csrf_token": dash.csrf(), "email": PORTAL_USER, "password": "feil",
                                             "next": "/"}, follow_redirects=False)
        assert r.status_code == 401 and "må du vente litt" in r.text
    r = dash.client.post("/login", data={"csrf_token": dash.csrf(), "email": PORTAL_USER, "password": "demo",
                                         "next": "/"}, follow_redirects=False)
    assert r.status_code == 429 and "Prøv igjen om" in r.text and int(r.headers["retry-after"]) > 60


def test_analysts_see_unanswered_alerts_and_the_answers(dash):
    amber_ref, _red_ref = _plant_alerts(dash)
    dash.login("analytiker@demo.invalid")
    overview = dash.client.get("/").text
    assert "sendte varsler som ikke er besvart" in overview and "/utsendte-varsler?ubesvart=1" in overview
    assert amber_ref in dash.client.get("/utsendte-varsler?ubesvart=1").text
    with dash.session() as s:
        from certmon.notify.service import record_response

        n = s.scalar(select(Notification).where(Notification.reference == amber_ref))
        record_response(s, notification_id=n.id, answer="utbedret", actor="test")
        s.commit()
    assert amber_ref not in dash.client.get("/utsendte-varsler?ubesvart=1").text
    assert "Utbedret" in dash.client.get(f"/virksomheter/{_bergen_id(dash)}").text


def test_audit_log_page_is_for_admins(dash):
    token = dash.login("admin@demo.invalid")
    bergen = _bergen_id(dash)
    dash.client.post(f"/virksomheter/{bergen}/brukere", data={"csrf_token": token, "email": "a@bergen.example"})
    page = dash.client.get("/revisjon?action=user.create")
    assert page.status_code == 200 and "<code>user.create</code>" in page.text
    assert "<code>user.password-link</code>" not in page.text  # filtered to one action
    assert "Revisjonslogg" in page.text and "admin@demo.invalid" in page.text
    dash.client.post("/logout", data={"csrf_token": token})
    dash.login("analytiker@demo.invalid")
    assert dash.client.get("/revisjon").status_code == 403
    assert "/revisjon" not in dash.client.get("/").text


def test_an_alerts_title_counts_only_what_the_reader_may_see(dash):
    """An AMBER alert that also carried a RED finding: the portal user (at most AMBER+STRICT) is told of
    one finding, by its own title, never of two; the source is named by its display name."""
    amber_ref, _red_ref = _plant_alerts(dash)
    with dash.session() as s:
        n = s.scalar(select(Notification).where(Notification.reference == amber_ref))
        s.add(NotificationMatch(notification_id=n.id, match_id=dash.prepared.red_match_id))
        n.subject = "[TLP:RED] Varsel: 2 nye funn (Bergen kommune)"
        s.commit()
    dash.login(PORTAL_USER)
    page = dash.client.get("/min-side").text
    card = page[page.index(f'id="varsel-{amber_ref}"'):]
    card = card[: card.index("</article>")]
    title = re.search(r'<h3 class="match-title">(.*?)</h3>', card, re.S).group(1)  # type: ignore[union-attr]
    assert title.startswith("Varsel inn: DEMO: Kritisk sårbarhet i Fortinet FortiOS")  # the one it may see
    assert "2 nye funn" not in card and "2 funn" not in card and "TLP:RED" not in title
    assert "1 element(er) i dette varselet" in card  # the withheld one is counted, not shown
    assert "Kilde: NSM NCSC – varsler og råd" in card and "Kilde: nsm-ncsc" not in card  # display name, not key
