"""Admins add and remove alert recipients on a constituent's page; readers cannot."""

from sqlalchemy import select

from certmon.registry.models import Contact
from certmon.registry.service import find_by_org_number

BERGEN = "964338531"


def _bergen_id(dash):
    with dash.session() as session:
        return find_by_org_number(session, BERGEN).id


def test_admin_adds_and_removes_a_contact(dash):
    bergen_id = _bergen_id(dash)
    token = dash.login("admin@demo.invalid")
    bad = dash.client.post(f"/virksomheter/{bergen_id}/kontakter",
                           data={"email": "ikke-en-adresse", "tlp_max": "purple", "csrf_token": token})
    assert bad.status_code == 422 and "Kontakten ble ikke lagt til" in bad.text
    ok = dash.client.post(f"/virksomheter/{bergen_id}/kontakter",
                          data={"email": "ny@demo-bergen.example", "name": "Ny", "language": "nn",
                                "tlp_max": "green", "mode": "digest", "csrf_token": token}, follow_redirects=True)
    assert ok.status_code == 200 and "ny@demo-bergen.example" in ok.text
    with dash.session() as session:
        contact = session.scalar(select(Contact).where(Contact.email == "ny@demo-bergen.example"))
        assert (contact.language, contact.tlp_max, contact.mode) == ("nn", "green", "digest")
    gone = dash.client.post(f"/virksomheter/{bergen_id}/kontakter/{contact.id}/slett",
                            data={"csrf_token": token}, follow_redirects=True)
    assert gone.status_code == 200
    with dash.session() as session:
        assert session.get(Contact, contact.id) is None


def test_reader_cannot_add_contacts(dash):
    bergen_id = _bergen_id(dash)
    token = dash.login("leser@demo.invalid")
    assert "Legg til kontakt" not in dash.client.get(f"/virksomheter/{bergen_id}").text
    r = dash.client.post(f"/virksomheter/{bergen_id}/kontakter", data={"email": "x@y.example", "csrf_token": token})
    assert r.status_code == 403
