"""Constituents keep their own registry entry current: the demo municipality's user proposes on Min side,
an analyst approves or rejects in /forslag, the reason goes back, and an approved network re-matches the
history at once. Bad proposals are refused on the form with the reason, and nothing is stored."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from certmon.audit.models import AuditEntry
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.portal.models import Proposal
from certmon.registry.models import Asset, Contact
from certmon.registry.service import find_by_org_number
from certmon.sources.models import Source

PORTAL_USER = "kommune@demo.invalid"
BERGEN = "964338531"


def _propose(dash, token: str, **fields: str):  # type: ignore[no-untyped-def]
    return dash.client.post("/min-side/forslag", data={"csrf_token": token, **fields}, follow_redirects=False)


def _count(dash) -> int:  # type: ignore[no-untyped-def]
    with dash.session() as s:
        return s.scalar(select(func.count()).select_from(Proposal)) or 0


def test_bad_proposals_are_refused_on_the_form_with_the_reason(dash):
    token = dash.login(PORTAL_USER)
    cases = [
        ({"kind": "asset_add", "asset_type": "network", "value": "192.0.2.300/24"},
         "er ikke et IPv4- eller IPv6-nettverk"),
        ({"kind": "asset_add", "asset_type": "network", "value": "198.51.100.128/25"},
         "overlapper et som er registrert på en annen virksomhet"),  # inside another municipality's /24
        ({"kind": "asset_add", "asset_type": "network", "value": "203.0.112.0/23"},
         "overlapper et som er registrert på en annen virksomhet"),  # covers two others' networks
        ({"kind": "asset_add", "asset_type": "product", "value": "fortios 7.2.4"}, "produktet mangler leverandør"),
        ({"kind": "asset_add", "asset_type": "product", "value": ":fortios:7.2.4"}, "produktet mangler leverandør"),
        ({"kind": "asset_add", "asset_type": "domain", "value": "not a domain"}, "er ikke et gyldig domenenavn"),
        ({"kind": "asset_add", "asset_type": "supplier", "value": "974760673"}, "velg hva slags ressurs"),
        ({"kind": "asset_add", "asset_type": "network", "value": "192.0.2.0/24"}, "er allerede registrert"),
        ({"kind": "contact_add", "email": "ikke-en-adresse"}, "ugyldig e-postadresse"),
        ({"kind": "contact_add", "email": "sikkerhet@demo-bergen.example"}, "får allerede varsler"),
    ]
    for fields, reason in cases:
        r = _propose(dash, token, **fields)
        assert r.status_code == 422, (fields, r.status_code)
        assert "Forslaget ble ikke sendt:" in r.text and reason in r.text, (fields, reason)
        assert fields.get("value", fields.get("email", "")) in r.text  # the form keeps what was typed
        assert "Oslo" not in r.text.split("Forslaget ble ikke sendt:")[1][:300]  # never names the other owner
    assert _count(dash) == 0


def test_a_proposal_is_approved_and_the_history_rematches_at_once(dash):
    with dash.session() as s:  # an indicator nobody is registered for yet
        source = s.scalars(select(Source).order_by(Source.id)).first()
        upsert_items(s, source_id=source.id, items=[Item(kind="indicator", key="proposal-test-1", tlp="green",
                                                         source_format="feodo", type="ipv4", value="100.64.7.9")])
        s.commit()
    token = dash.login(PORTAL_USER)
    r = _propose(dash, token, kind="asset_add", asset_type="network", value="100.64.7.0/24", note="Nytt VPN-nett")
    assert r.status_code == 303 and r.headers["location"] == "/min-side#forslag"
    page = dash.client.get("/min-side").text
    assert "Deres forslag" in page and "100.64.7.0/24" in page and "Venter på CERT-et" in page
    again = _propose(dash, token, kind="asset_add", asset_type="network", value="100.64.7.0/24")
    assert again.status_code == 422 and "er allerede foreslått" in again.text
    with dash.session() as s:
        proposal = s.scalars(select(Proposal)).one()
        bergen = find_by_org_number(s, BERGEN)
        assert proposal.constituent_id == bergen.id and proposal.proposed_by == PORTAL_USER
        assert s.scalar(select(Asset).where(Asset.value == "100.64.7.0/24")) is None  # nothing applied yet

    dash.login("leser@demo.invalid")  # readers see the queue but cannot decide
    queue = dash.client.get("/forslag").text
    assert "Forslag fra virksomhetene" in queue and "100.64.7.0/24" in queue and "Nytt VPN-nett" in queue
    assert f"/forslag/{proposal.id}/godkjenn" not in queue
    token = dash.csrf("/forslag")
    refused = dash.client.post(f"/forslag/{proposal.id}/godkjenn", data={"csrf_token": token})
    assert refused.status_code == 403

    token = dash.login("analytiker@demo.invalid")
    r = dash.client.post(f"/forslag/{proposal.id}/godkjenn", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    with dash.session() as s:
        asset = s.scalar(select(Asset).where(Asset.value == "100.64.7.0/24"))
        assert asset is not None and asset.constituent_id == bergen.id and asset.note == "Nytt VPN-nett"
        assert s.get(Proposal, proposal.id).status == "approved"
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"proposal.create", "proposal.approve", "asset.add"} <= actions
    deadline = time.monotonic() + 60  # re-matched in the background, not at the next periodic tick
    found = None
    while time.monotonic() < deadline and found is None:
        with dash.session() as s:
            found = s.scalar(select(Match).where(Match.constituent_id == bergen.id, Match.asset == "100.64.7.0/24"))
        time.sleep(0.2)
    assert found is not None and "100.64.7.9" in found.explanation
    again = dash.client.post(f"/forslag/{proposal.id}/godkjenn", data={"csrf_token": token}, follow_redirects=True)
    assert "allerede behandlet" in again.text


def test_a_rejection_sends_the_reason_back_and_contacts_are_proposed_too(dash):
    token = dash.login(PORTAL_USER)
    assert _propose(dash, token, kind="contact_add", email="Ny.Kontakt@demo-bergen.example", name="Ny Kontakt",
                    language="nn").status_code == 303
    with dash.session() as s:
        bergen = find_by_org_number(s, BERGEN)
        it_drift = s.scalar(select(Contact).where(Contact.email == "it-drift@demo-bergen.example"))
    r = dash.client.post(f"/min-side/forslag/kontakt/{it_drift.id}/fjern", data={"csrf_token": token},
                         follow_redirects=False)
    assert r.status_code == 303
    with dash.session() as s:
        add, remove = s.scalars(select(Proposal).order_by(Proposal.id)).all()
        network = s.scalar(select(Asset).where(Asset.constituent_id == bergen.id, Asset.type == "network"))
    gone = dash.client.post(f"/min-side/forslag/ressurs/{network.id}/fjern", data={"csrf_token": token},
                            follow_redirects=False)
    assert gone.status_code == 303
    assert dash.client.post("/min-side/forslag/ressurs/999999/fjern", data={"csrf_token": token}).status_code == 404
    with dash.session() as s:
        asset_removal = s.scalars(select(Proposal).order_by(Proposal.id.desc())).first()
        assert (asset_removal.kind, asset_removal.value, asset_removal.target_id) == ("asset_remove", network.value,
                                                                                    network.id)
    assert add.value == "ny.kontakt@demo-bergen.example" and add.detail == {"name": "Ny Kontakt", "language": "nn"}

    token = dash.login("analytiker@demo.invalid")
    empty = dash.client.post(f"/forslag/{remove.id}/avvis", data={"csrf_token": token, "reason": "  "})
    assert "skriv hvorfor forslaget avvises" in empty.text
    dash.client.post(f"/forslag/{remove.id}/avvis", data={"csrf_token": token,
                                                          "reason": "IT-drift må beholde varslene til 2027."})
    dash.client.post(f"/forslag/{add.id}/godkjenn", data={"csrf_token": token, "tlp_max": "green",
                                                         "mode": "digest"})
    with dash.session() as s:
        contact = s.scalar(select(Contact).where(Contact.email == "ny.kontakt@demo-bergen.example"))
        assert contact is not None and contact.constituent_id == bergen.id
        assert (contact.tlp_max, contact.mode, contact.language, contact.name) == ("green", "digest", "nn",
                                                                                 "Ny Kontakt")
        assert s.get(Contact, it_drift.id) is not None  # the rejected removal changed nothing

    dash.login(PORTAL_USER)
    page = dash.client.get("/min-side").text
    assert "Avvist" in page and "Begrunnelse: IT-drift må beholde varslene til 2027." in page
    assert "Godkjent" in page


def test_the_api_does_the_same_with_tokens_and_roles(dash):
    from certmon.auth.models import User
    from certmon.auth.service import issue_token

    with dash.session() as s:
        tokens = {email: issue_token(s, user=s.scalar(select(User).where(User.email == email)), name="t")
                  for email in (PORTAL_USER, "analytiker@demo.invalid", "leser@demo.invalid")}
        s.commit()

    def h(email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[email]}"}

    bad = dash.client.post("/api/v1/me/proposals", json={"kind": "asset_add", "asset_type": "network",
                                                         "value": "198.51.100.0/25"}, headers=h(PORTAL_USER))
    assert bad.status_code == 422 and "overlapper" in bad.json()["detail"]
    missing = dash.client.post("/api/v1/me/proposals", json={"kind": "asset_add"}, headers=h(PORTAL_USER))
    assert missing.status_code == 422 and "asset_type mangler" in missing.json()["detail"]
    made = dash.client.post("/api/v1/me/proposals", json={"kind": "asset_add", "asset_type": "product",
                                                          "value": "citrix:netscaler_adc:14.1-12.35"},
                            headers=h(PORTAL_USER))
    assert made.status_code == 201 and made.json()["status"] == "pending"
    pid = made.json()["id"]
    assert dash.client.post("/api/v1/me/proposals", json={"kind": "asset_add", "asset_type": "asn",
                                                          "value": "AS64500"},
                            headers=h("analytiker@demo.invalid")).status_code == 403  # not a constituent user
    listed = dash.client.get("/api/v1/proposals", headers=h("leser@demo.invalid"))
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["items"]] == [pid]
    assert listed.json()["items"][0]["constituent"] == "Bergen kommune"
    assert dash.client.post(f"/api/v1/proposals/{pid}/reject", json={"reason": "nei"},
                            headers=h("leser@demo.invalid")).status_code == 403
    assert dash.client.get("/api/v1/proposals", headers=h(PORTAL_USER)).status_code == 403
    done = dash.client.post(f"/api/v1/proposals/{pid}/reject", json={"reason": "Skriv versjonen som 14.1."},
                            headers=h("analytiker@demo.invalid"))
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    mine = dash.client.get("/api/v1/me/proposals", headers=h(PORTAL_USER)).json()
    assert mine[0]["reason"] == "Skriv versjonen som 14.1."
    assert dash.client.post(f"/api/v1/proposals/{pid}/approve",
                            headers=h("analytiker@demo.invalid")).status_code == 409
    assert dash.client.delete(f"/api/v1/me/proposals/{pid}", headers=h(PORTAL_USER)).status_code == 409


def test_readers_see_proposed_recipients_only_by_their_domain(dash):
    """docs/security.md, "Contact addresses": a proposed (or to be removed) recipient is a contact, so a reader
    sees neither its address nor its name in /forslag or GET /api/v1/proposals, nor the proposer's address."""
    from certmon.auth.models import User
    from certmon.auth.service import issue_token

    token = dash.login(PORTAL_USER)
    assert _propose(dash, token, kind="contact_add", email="kari.nordmann@demo-bergen.example",
                    name="Kari Nordmann").status_code == 303
    with dash.session() as s:
        it_drift = s.scalar(select(Contact).where(Contact.email == "it-drift@demo-bergen.example"))
        tokens = {email: issue_token(s, user=s.scalar(select(User).where(User.email == email)), name="t")
                  for email in ("leser@demo.invalid", "analytiker@demo.invalid")}
        s.commit()
    assert dash.client.post(f"/min-side/forslag/kontakt/{it_drift.id}/fjern", data={"csrf_token": token},
                            follow_redirects=False).status_code == 303
    people = ("kari.nordmann@", "Kari Nordmann", "it-drift@", PORTAL_USER)

    dash.login("leser@demo.invalid")
    page = dash.client.get("/forslag").text
    assert "…@demo-bergen.example" in page and "…@demo.invalid" in page
    assert not [p for p in people if p in page]
    listed = dash.client.get("/api/v1/proposals", headers={"Authorization": f"Bearer {tokens['leser@demo.invalid']}"})
    assert listed.status_code == 200 and not [p for p in people if p in listed.text]
    assert {p["value"] for p in listed.json()["items"]} == {"…@demo-bergen.example"}
    assert listed.json()["items"][0]["detail"] == {"language": "nb"}

    dash.login("analytiker@demo.invalid")  # who handles them sees who they are
    page = dash.client.get("/forslag").text
    assert all(p in page for p in people)
    listed = dash.client.get("/api/v1/proposals",
                             headers={"Authorization": f"Bearer {tokens['analytiker@demo.invalid']}"})
    assert all(p in listed.text for p in people)
