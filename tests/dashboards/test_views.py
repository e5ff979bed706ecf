"""Dashboard pages through FastAPI's TestClient on SQLite: login, roles, TLP, escaping, CSRF, pagination."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from certmon.matching.models import Match
from certmon.notify.models import Delivery, Notification
from certmon.registry.models import Asset, Constituent
from certmon.sources.models import Source

ANALYST, ADMIN, READER = "analytiker@demo.invalid", "admin@demo.invalid", "leser@demo.invalid"
PAGES = ("/", "/treff", "/treff?status=all", "/varsler-inn", "/sarbarheter", "/sarbarheter?kev=1",
         "/indikatorer", "/indikatorer?type=exposure", "/kilder", "/virksomheter", "/utsendte-varsler")


def _new_match_id(dash) -> int:  # type: ignore[no-untyped-def]
    with dash.session() as s:
        return s.scalar(select(Match.id).where(Match.status == "new", Match.id != dash.prepared.red_match_id)
                        .order_by(Match.id))


def _status(dash, match_id: int) -> str:  # type: ignore[no-untyped-def]
    with dash.session() as s:
        return s.get(Match, match_id).status


def test_pages_require_login_and_keep_the_path(dash):
    for path in PAGES:
        r = dash.client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=")
        assert unquote(r.headers["location"].split("next=", 1)[1]) == path


EVIL = ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]


@pytest.mark.parametrize("target", EVIL)
def test_login_only_returns_to_local_paths(dash, target):
    token = dash.csrf()
    r = dash.client.post("/login", data={"csrf_token": token, "email": ANALYST, "password": "demo",
                                         "next": target}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/"


def test_login_goes_to_next_and_logout_ends_the_session(dash):
    token = dash.csrf("/login?next=/kilder")
    assert 'name="next" value="/kilder"' in dash.client.get("/login?next=/kilder").text
    r = dash.client.post("/login", data={"csrf_token": token, "email": ANALYST, "password": "demo",
                                         "next": "/kilder"}, follow_redirects=False)
    assert r.headers["location"] == "/kilder"
    token = dash.csrf("/kilder")
    r = dash.client.post("/logout", data={"csrf_token": token})
    assert "Du er logget ut" in r.text
    assert dash.client.get("/", follow_redirects=False).status_code == 303


def test_failed_login_says_so_and_demo_box_lists_accounts(dash):
    page = dash.client.get("/login").text
    assert "Demokontoer" in page and ANALYST in page and "demo-ribbon" in page
    token = dash.csrf()
    r = dash.client.post("/login", data={"csrf_token": token, "email": ANALYST, "password": "feil"})
    assert r.status_code == 401
    assert "Feil e-postadresse eller passord." in r.text
    assert dash.client.get("/", follow_redirects=False).status_code == 303


def test_every_page_names_the_icon_it_is_served_with(dash):
    """A browser asks for an icon on every page; the one named is served (no 404 per visit)."""
    icon = re.search(r'<link rel="icon" href="([^"]+)"', dash.client.get("/login").text)
    assert icon, "no icon link"
    r = dash.client.get(icon.group(1))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")


def test_login_without_csrf_token_is_rejected(dash):
    r = dash.client.post("/login", data={"email": ANALYST, "password": "demo"}, follow_redirects=False)
    assert r.status_code == 403
    assert "Skjemaet er utløpt" in r.text


def test_triage_with_a_wrong_csrf_token_is_rejected(dash):
    dash.login(ANALYST)
    match_id = _new_match_id(dash)
    r = dash.client.post(f"/treff/{match_id}", data={"csrf_token": "forfalsket", "action": "confirm"})
    assert r.status_code == 403
    assert _status(dash, match_id) == "new"


def test_every_page_renders_in_bokmal_with_tlp_label_and_demo_ribbon(dash):
    dash.login(ADMIN)
    for path in PAGES:
        r = dash.client.get(path)
        assert r.status_code == 200, path
        label = r'class="page-tlp"[^>]*><span class="tlp tlp-[a-z-]+">TLP:[A-Z+]+</span>'
        assert re.search(label, r.text), path
        assert "DEMO – øvingsdata" in r.text
        assert "<script" not in r.text and ' style="' not in r.text, path  # CSP: nothing inline
        assert "Situasjonsbilde" in r.text and "Logg ut" in r.text


def test_situation_picture_links_key_figures(dash):
    dash.login(ANALYST)
    page = dash.client.get("/").text
    for href in ('href="/varsler-inn"', 'href="/sarbarheter?kev=1"', 'href="/treff?status=new"',
                 'href="/utsendte-varsler?status=sent"', 'href="/kilder"'):
        assert href in page
    assert "nye treff som venter på vurdering" in page and "Nyeste varsler inn" in page


def test_reader_can_view_but_not_triage_run_or_edit(dash):
    token = dash.login(READER)
    match_id = _new_match_id(dash)
    page = dash.client.get("/treff").text
    assert ">Bekreft<" not in page and "Kjør nå" not in dash.client.get("/kilder").text
    r = dash.client.post(f"/treff/{match_id}", data={"csrf_token": token, "action": "confirm"})
    assert r.status_code == 403
    assert "Rollen din gir ikke tilgang" in r.text
    assert _status(dash, match_id) == "new"
    with dash.session() as s:
        source_id = s.scalar(select(Source.id).where(Source.name == "cisa-kev"))
        bergen = s.scalar(select(Constituent.id).where(Constituent.name == "Bergen"))
    assert dash.client.post(f"/kilder/{source_id}/kjor", data={"csrf_token": token}).status_code == 403
    r = dash.client.post(f"/kilder/{source_id}/aktiv", data={"csrf_token": token, "enabled": "0"})
    assert r.status_code == 403
    r = dash.client.post(f"/virksomheter/{bergen}/ressurser",
                         data={"csrf_token": token, "asset_type": "domain", "value": "bergen.example"})
    assert r.status_code == 403


def test_analyst_confirms_marks_false_positive_and_reopens(dash):
    token = dash.login(ANALYST)
    match_id = _new_match_id(dash)
    form = {"csrf_token": token, "action": "confirm", "next": "/treff"}
    r = dash.client.post(f"/treff/{match_id}", data=form)
    assert "Treffet er bekreftet." in r.text
    assert _status(dash, match_id) == "confirmed"
    r = dash.client.post(f"/treff/{match_id}", data={"csrf_token": token, "action": "reopen"})
    assert _status(dash, match_id) == "new"
    r = dash.client.post(f"/treff/{match_id}", data={"csrf_token": token, "action": "false-positive"})
    assert "krever en begrunnelse" in r.text
    assert _status(dash, match_id) == "new"
    dash.client.post(f"/treff/{match_id}", data={"csrf_token": token, "action": "false-positive",
                                                 "reason": "Testnett, ikke i drift"})
    assert _status(dash, match_id) == "false_positive"
    page = dash.client.get("/treff?status=false_positive").text
    assert "Testnett, ikke i drift" in page and "Gjenåpne" in page


def test_red_item_is_invisible_to_a_reader_but_shown_to_analysts(dash):
    red = dash.prepared.red_item_id
    dash.login(READER)
    assert dash.client.get(f"/elementer/{red}").status_code == 404
    for path in ("/", "/varsler-inn", "/treff?status=all", "/varsler-inn?q=RØD"):
        page = dash.client.get(path).text
        assert "intern hendelse" not in page, path
        assert "TLP:RED" not in page, path
    bergen_page = dash.client.get(f"/treff?status=all&constituent={_bergen(dash)}").text
    assert "intern hendelse" not in bergen_page
    dash.client.cookies.clear()
    dash.login(ANALYST)
    page = dash.client.get(f"/elementer/{red}").text
    assert "intern hendelse" in page
    assert '<div class="page-tlp"' in page and "TLP:RED" in page
    assert "TLP:RED" in dash.client.get("/treff").text


def _bergen(dash) -> int:  # type: ignore[no-untyped-def]
    with dash.session() as s:
        return s.scalar(select(Constituent.id).where(Constituent.name == "Bergen"))


def test_hostile_feed_content_is_escaped_or_removed(dash):
    dash.login(ANALYST)
    page = dash.client.get(f"/elementer/{dash.prepared.xss_item_id}").text
    assert "<script>alert" not in page and "<script" not in page
    assert "&lt;script&gt;alert(&#34;tittel&#34;)&lt;/script&gt; Skadelig tittel" in page
    assert "onerror" not in page and "javascript:" not in page
    assert "<p>Trygg tekst om æøå</p>" in page
    assert '<a href="https://example.org/les" rel="noopener noreferrer nofollow">lenke</a>' in page
    listing = dash.client.get("/varsler-inn?q=Skadelig").text
    assert "&lt;script&gt;" in listing and "<script" not in listing


def test_constituents_page_counts_357_municipalities_and_paginates(dash):
    dash.login(READER)
    page = dash.client.get("/virksomheter?kind=kommune").text
    assert "357 kommuner" in page
    assert page.count('href="/virksomheter/') - 0 >= 50
    assert "Viser 1–50 av 357" in page
    assert "offset=50" in page and "kind=kommune" in re.search(r'href="([^"]*offset=50[^"]*)"', page).group(1)
    last = dash.client.get("/virksomheter?kind=kommune&offset=350").text
    assert "Viser 351–357 av 357" in last and 'rel="next"' not in last
    assert "4 regionale helseforetak" in dash.client.get("/virksomheter?kind=rhf").text
    bergen = dash.client.get("/virksomheter?kind=kommune&q=Bergen").text
    assert "1 kommune" in bergen and "Bergen kommune" in bergen


def test_constituent_detail_shows_flags_assets_matches_and_contacts(dash):
    dash.login(ANALYST)
    with dash.session() as s:
        flagged = s.scalar(select(Constituent.id).where(Constituent.needs_org_number.is_(True)))
        with_contacts = s.scalar(select(Constituent.id).where(Constituent.name == "Bergen"))
    assert "mangler organisasjonsnummer" in dash.client.get(f"/virksomheter/{flagged}").text
    page = dash.client.get(f"/virksomheter/{with_contacts}").text
    assert "Ressurser" in page and "Kontakter" in page and "Treff" in page
    assert "Legg til ressurs" not in page  # analysts see assets but do not edit them


def test_admin_adds_and_removes_assets_with_validation_errors_shown(dash):
    token = dash.login(ADMIN)
    cid = _bergen(dash)
    r = dash.client.post(f"/virksomheter/{cid}/ressurser",
                         data={"csrf_token": token, "asset_type": "network", "value": "10.0.0.300/24"})
    assert r.status_code == 422
    assert "Ressursen ble ikke lagt til" in r.text and "10.0.0.300/24" in r.text
    r = dash.client.post(f"/virksomheter/{cid}/ressurser",
                         data={"csrf_token": token, "asset_type": "network", "value": "192.0.2.0/24",
                               "note": "Test"})
    assert r.status_code == 200 and "Ressursen 192.0.2.0/24 er lagt til." in r.text
    with dash.session() as s:
        asset = s.scalar(select(Asset).where(Asset.constituent_id == cid, Asset.value == "192.0.2.0/24"))
    assert asset is not None
    r = dash.client.post(f"/virksomheter/{cid}/ressurser/{asset.id}/slett", data={"csrf_token": token})
    assert "Ressursen er fjernet." in r.text
    with dash.session() as s:
        assert s.get(Asset, asset.id) is None


def test_run_now_dispatches_and_admin_toggles_a_source(dash, monkeypatch):
    import workers.plugin

    queued: list[int] = []
    monkeypatch.setattr(workers.plugin, "dispatch_collect", lambda sid: queued.append(sid) or "t1")
    token = dash.login(ADMIN)
    with dash.session() as s:
        source_id = s.scalar(select(Source.id).where(Source.name == "cisa-kev"))
    r = dash.client.post(f"/kilder/{source_id}/kjor", data={"csrf_token": token})
    assert queued == [source_id]
    assert "er satt i kø" in r.text
    r = dash.client.post(f"/kilder/{source_id}/aktiv", data={"csrf_token": token, "enabled": "0"})
    assert "er deaktivert" in r.text
    with dash.session() as s:
        assert s.get(Source, source_id).enabled is False
    row = _row(dash.client.get("/kilder").text, f'id="kilde-{source_id}"')
    assert "Deaktivert" in row and f"av {ADMIN}" in row  # who switched it off, from the audit log


def _row(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start:page.index("</tr>", start)]


def test_source_health_shows_the_last_error_and_reason(dash):
    with dash.session() as s, s.begin():
        src = s.scalar(select(Source).where(Source.name == "cisa-kev"))
        src.consecutive_failures, src.last_outcome = 3, "unavailable"
        src.last_error = "HTTP 503 fra www.cisa.gov"
    dash.login(READER)
    page = dash.client.get("/kilder").text
    assert "HTTP 503 fra www.cisa.gov" in page and "Utilgjengelig" in page
    row = _row(page, f'id="kilde-{src.id}"')
    assert "Kilden svarte ikke" in row and "Teknisk detalj" in row  # plain words, then the detail
    assert "Tidene er norsk tid." in page and "Neste kjøring" in page
    overview = dash.client.get("/").text
    assert "3 feil på rad" in overview and "HTTP 503 fra www.cisa.gov" in overview


def test_alerts_page_lists_recipients_and_resends_failed_ones(dash, monkeypatch):
    import workers.plugin

    sent: list[list[int]] = []
    monkeypatch.setattr(workers.plugin, "dispatch_send", lambda ids: sent.append(ids) or "t2")
    with dash.session() as s, s.begin():
        n = s.scalar(select(Notification).where(Notification.tlp.in_(("clear", "green", "amber")))
                     .order_by(Notification.id))
        assert n is not None, "the demo ingest should queue alerts"
        n.status = "failed"
        d = s.scalar(select(Delivery).where(Delivery.notification_id == n.id))
        d.status, d.attempts, d.last_error = "failed", 5, "550 mailbox unavailable"
        ref, nid = n.reference, n.id
    token = dash.login(ANALYST)
    page = dash.client.get("/utsendte-varsler").text
    assert ref in page and "550 mailbox unavailable" in page and "Send på nytt" in page
    r = dash.client.post(f"/utsendte-varsler/{nid}/send-igjen", data={"csrf_token": token})
    assert f"Varsel {ref} sendes på nytt til 1 mottaker(e)." in r.text
    assert sent == [[nid]]
    with dash.session() as s:
        assert s.get(Delivery, d.id).status == "queued"


def test_item_lists_search_and_filter(dash):
    dash.login(READER)
    kev = dash.client.get("/sarbarheter?kev=1").text
    assert "CVE-" in kev and "Viser 1–25 av" in kev
    assert "Ingenting passer søket." in dash.client.get("/varsler-inn?q=finnesikke-xyz").text
    nul = dash.client.get("/indikatorer", params={"q": "x\x00y"})  # a NUL: a clear answer, not a 500
    assert nul.status_code < 500 and "NUL" in nul.text, nul.status_code
    exposures = dash.client.get("/indikatorer?type=exposure").text
    assert "Eksponering" in exposures


def test_unknown_item_and_constituent_give_html_404(dash):
    dash.login(READER)
    for path in ("/elementer/999999", "/virksomheter/999999"):
        r = dash.client.get(path)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]


def test_a_message_quoting_a_long_input_keeps_the_session_cookie_small(dash):
    """A refused form's message quotes what was typed and travels in the signed session cookie: a 20,000
    character period (or many unread messages) made a Set-Cookie header far above the 4 KB a browser keeps
    (and above the response-header limit of HTTP clients), so the message, and the page, were lost."""
    token = dash.login(ANALYST)
    for period in ("Ø" * 20_000, "W" * 20_000):
        r = dash.client.post("/rapporter", data={"csrf_token": token, "period": period}, follow_redirects=False)
        assert r.status_code == 303
        assert len(r.headers["set-cookie"]) < 4096, len(r.headers["set-cookie"])
        page = dash.client.get("/rapporter").text
        assert "ugyldig periode" in page and "…" in page
    for n in range(30):  # unread messages give way to the newest
        r = dash.client.post("/rapporter", data={"csrf_token": token, "period": f"feil-{n}-" + "æ" * 150},
                             follow_redirects=False)
        assert len(r.headers["set-cookie"]) < 4096
    assert "feil-29-" in dash.client.get("/rapporter").text


def test_messages_leave_room_for_a_single_sign_on_id_token():
    """A single sign-on session carries the provider's ID token (Entra's and HelseID's run to 2.5 KB):
    messages give way before the cookie passes 4 KB, which would sign the user out."""
    import base64
    import json
    from types import SimpleNamespace

    from dashboards.web import flash

    request = SimpleNamespace(session={"user": 7, "csrf": "c" * 43, "oidc": {"p": "entra", "t": "e" * 2400}})
    for n in range(5):
        flash(request, f"Melding {n}: " + "ø" * 150, "error")  # type: ignore[arg-type]
        cookie = base64.b64encode(json.dumps(request.session).encode()).decode()
        assert len(cookie) + 100 < 4096, len(cookie)  # the signature and cookie attributes take the rest
    assert request.session["oidc"]["t"] == "e" * 2400
