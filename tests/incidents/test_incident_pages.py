"""Hendelser in the dashboard (TestClient on the prepared demo database): list, detail, forms, roles, TLP."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from certmon.incidents.models import Incident, IncidentEvent
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.registry.models import Constituent

ANALYST, READER = "analytiker@demo.invalid", "leser@demo.invalid"


def _open(dash, token: str, **fields: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": token, "title": "Løsepengevirus i Bergen", "severity": "high", "tlp": "amber",
            "model": "norsk", "orgs": "964338531", **fields}
    return dash.client.post("/hendelser", data=data, follow_redirects=False)


def _incident(dash, incident_id: int) -> Incident:  # type: ignore[no-untyped-def]
    with dash.session() as s:
        incident = s.get(Incident, incident_id)
        s.expunge(incident)
        return incident


def _id(response) -> int:  # type: ignore[no-untyped-def]
    return int(re.search(r"/hendelser/(\d+)", response.headers["location"]).group(1))  # type: ignore[union-attr]


def test_pages_need_login_and_show_an_empty_state(dash):
    assert dash.client.get("/hendelser", follow_redirects=False).status_code == 303
    dash.login(READER)
    page = dash.client.get("/hendelser")
    assert page.status_code == 200 and "Ingen åpne hendelser." in page.text
    assert 'href="/hendelser"' in page.text and ">Hendelser<" in page.text  # nav entry
    assert "Ny hendelse" not in page.text  # readers cannot open incidents
    assert dash.client.get("/hendelser/ny").status_code == 403


def test_analyst_opens_an_incident_and_follows_the_clocks(dash):
    token = dash.login(ANALYST)
    assert "Ny hendelse" in dash.client.get("/hendelser").text
    r = _open(dash, token, aware_at="", personal_data="1")
    assert r.status_code == 303
    incident_id = _id(r)
    page = dash.client.get(f"/hendelser/{incident_id}")
    assert page.status_code == 200
    ref = _incident(dash, incident_id).reference
    assert f"Hendelse {ref} er opprettet." in page.text and "Bergen kommune" in page.text
    assert re.search(r"NSM 24 t:</strong> <span[^>]*>forfaller om 2[34] t \d+ min", page.text)
    assert "Datatilsynet 72 t" in page.text and "TLP:AMBER" in page.text

    r = dash.client.post(f"/hendelser/{incident_id}/logg", data={"csrf_token": token, "kind": "report-sent",
                                                                 "deadline": "hod-straks", "text": "Ringte HOD"})
    assert "Rapporten er registrert." in r.text and "rapportert i tide" in r.text
    r = dash.client.post(f"/hendelser/{incident_id}/logg", data={"csrf_token": token, "kind": "measure",
                                                                 "text": "Isolerte <b>filserveren</b>"})
    assert "Tiltaket er registrert." in r.text and "Isolerte &lt;b&gt;filserveren&lt;/b&gt;" in r.text
    r = dash.client.post(f"/hendelser/{incident_id}/endre", data={"csrf_token": token, "status": "in_progress",
                                                                  "severity": "critical"})
    assert "Hendelsen er oppdatert." in r.text and "Status endret til under arbeid." in r.text
    assert _incident(dash, incident_id).severity == "critical"
    listed = dash.client.get("/hendelser").text
    assert ref in listed and "Under arbeid" in listed


def test_overdue_clock_is_highlighted_in_the_list_and_on_the_situation_page(dash):
    token = dash.login(ANALYST)
    r = _open(dash, token, aware_at="2026-01-05T08:00", title="Gammel hendelse")
    incident_id = _id(r)
    page = dash.client.get(f"/hendelser/{incident_id}").text
    assert 'class="clock clock-overdue" data-deadline="nsm-24h"' in page and "oversittet" in page
    listed = dash.client.get("/hendelser").text
    assert f'id="hendelse-{incident_id}" class="overdue"' in listed and "Frist oversittet" in listed
    overview = dash.client.get("/").text
    assert "Gammel hendelse" in overview and f"/hendelser/{incident_id}" in overview
    dash.client.post(f"/hendelser/{incident_id}/endre", data={"csrf_token": token, "status": "closed"})
    assert "Gammel hendelse" not in dash.client.get("/").text
    assert "Ingen åpne hendelser." in dash.client.get("/hendelser").text
    assert "Gammel hendelse" in dash.client.get("/hendelser?status=closed").text


def test_form_problems_keep_the_values(dash):
    token = dash.login(ANALYST)
    r = _open(dash, token, orgs="123456789", title="Beholdt tittel")
    assert r.status_code == 422 and "Ingen virksomhet har organisasjonsnummer 123456789." in r.text
    assert 'value="Beholdt tittel"' in r.text
    r = _open(dash, token, aware_at="2999-01-01T10:00")
    assert r.status_code == 422 and "fremtiden" in r.text
    r = _open(dash, token, severity="apokalyptisk")
    assert r.status_code == 422


def test_linking_a_red_match_hides_the_incident_from_readers(dash):
    token = dash.login(ANALYST)
    red_match = dash.prepared.red_match_id
    form = dash.client.get(f"/hendelser/ny?match={red_match}").text
    assert f'name="match" value="{red_match}"' in form
    r = _open(dash, token, match=str(red_match), orgs="")
    incident_id = _id(r)
    incident = _incident(dash, incident_id)
    assert incident.tlp == "red"
    page = dash.client.get(f"/hendelser/{incident_id}").text
    assert "TLP:RED" in page and "Bergen kommune" in page
    dash.client.post("/logout", data={"csrf_token": token})
    dash.login(READER)
    assert dash.client.get(f"/hendelser/{incident_id}").status_code == 404
    assert incident.reference not in dash.client.get("/hendelser?status=all").text


def test_reader_cannot_post_and_csrf_is_checked(dash):
    token = dash.login(ANALYST)
    incident_id = _id(_open(dash, token))
    assert _open(dash, "wrong-token").status_code == 403
    r = dash.client.post(f"/hendelser/{incident_id}/logg", data={"csrf_token": "x", "kind": "note", "text": "y"})
    assert r.status_code == 403
    dash.client.post("/logout", data={"csrf_token": token})
    token = dash.login(READER)
    for path, data in ((f"/hendelser/{incident_id}/logg", {"kind": "note", "text": "y"}),
                       (f"/hendelser/{incident_id}/endre", {"status": "closed"}),
                       (f"/hendelser/{incident_id}/koblinger", {"kind": "item", "target": "1"}),
                       ("/hendelser", {"title": "x"})):
        assert dash.client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    page = dash.client.get(f"/hendelser/{incident_id}").text
    assert "Registrer tiltak" not in page and "Lagre" not in page
    with dash.session() as s:
        assert s.scalar(select(IncidentEvent.id).where(IncidentEvent.text == "y")) is None


def test_links_added_and_removed_from_the_page(dash):
    token = dash.login(ANALYST)
    incident_id = _id(_open(dash, token, orgs=""))
    with dash.session() as s:
        match_id = s.scalar(select(Match.id).where(Match.id != dash.prepared.red_match_id).order_by(Match.id))
    url = f"/hendelser/{incident_id}/koblinger"
    r = dash.client.post(url, data={"csrf_token": token, "kind": "match", "target": str(match_id)})
    assert "Koblingen er lagt til." in r.text and "Koblede treff" in r.text
    r = dash.client.post(url, data={"csrf_token": token, "kind": "constituent", "target": "964338531"})
    assert "Koblingen er lagt til." in r.text or "Allerede koblet." in r.text
    r = dash.client.post(url, data={"csrf_token": token, "kind": "item", "target": "abc"})
    assert "Oppgi nummeret (id)" in r.text
    r = dash.client.post(f"{url}/match/{match_id}/slett", data={"csrf_token": token})
    assert "Koblingen er fjernet." in r.text and "Ingen koblede treff." in r.text


def test_triage_rows_offer_to_open_an_incident_for_analysts_only(dash):
    dash.login(READER)
    assert "/hendelser/ny?match=" not in dash.client.get("/treff").text
    dash.client.post("/logout", data={"csrf_token": dash.csrf("/")})
    dash.login(ANALYST)
    page = dash.client.get("/treff").text
    found = re.search(r'href="/hendelser/ny\?match=(\d+)"', page)
    assert found is not None
    form = dash.client.get(f"/hendelser/ny?match={found.group(1)}").text
    assert f'name="match" value="{found.group(1)}"' in form and "Treffet blir koblet til:" in form
    with dash.session() as session:  # the item's title and the match's organisation are filled in
        match = session.get_one(Match, int(found.group(1)))
        item, owner = session.get_one(StoredItem, match.item_id), session.get_one(Constituent, match.constituent_id)
    assert f'value="{html.escape(item.title or item.key)}"' in form
    assert f'name="orgs" value="{owner.org_number}"' in form
    assert 'placeholder="' in form and "dd.mm.åååå tt:mm" in form


def test_awareness_time_in_norwegian_form(dash):
    token = dash.login(ANALYST)
    incident_id = _id(_open(dash, token, aware_at=" 05.01.2026  08:30 ", title="Norsk tid"))
    assert "05.01.2026 kl. 08:30" in dash.client.get(f"/hendelser/{incident_id}").text
    r = _open(dash, token, aware_at="5/1/2026 8:30")
    assert r.status_code == 422 and "dd.mm.åååå tt:mm" in r.text
