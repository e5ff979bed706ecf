"""The reports API (roles, TLP, PDF/HTML) and the /rapporter dashboard page, on the prepared demo database."""

from __future__ import annotations

import re

from sqlalchemy import select

from certmon.auth.models import User
from certmon.auth.service import issue_token

ANALYST, READER = "analytiker@demo.invalid", "leser@demo.invalid"


def _bearer(dash, email: str) -> dict[str, str]:
    with dash.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        token = issue_token(session, user=user, name="test")
        session.commit()
    return {"authorization": f"Bearer {token}"}


def test_api_roles_tlp_and_documents(dash):
    analyst, reader = _bearer(dash, ANALYST), _bearer(dash, READER)
    c = dash.client
    assert c.post("/api/v1/reports", json={"period": "2026-W48"}, headers=reader).status_code == 403
    assert c.post("/api/v1/reports", json={"period": "2026-W48", "tlp": "red"}, headers=analyst).status_code == 422
    r = c.post("/api/v1/reports", json={"period": "2026-W48", "assessment": "Rolig uke på Ørland."},
               headers=analyst)
    assert r.status_code == 201, r.text
    amber = r.json()
    assert amber["status"] == "draft" and amber["figures"]["ceiling"] == "amber"
    strict = c.post("/api/v1/reports", json={"from": "2026-11-01", "to": "2026-11-26", "tlp": "amber+strict"},
                    headers=analyst).json()
    assert strict["period_kind"] == "custom"

    listed = c.get("/api/v1/reports", headers=reader).json()
    assert [i["id"] for i in listed["items"]] == [amber["id"]] and listed["total"] == 1
    assert c.get(f"/api/v1/reports/{strict['id']}", headers=reader).status_code == 404
    assert c.get(f"/api/v1/reports/{strict['id']}.pdf", headers=reader).status_code == 404
    assert c.get("/api/v1/reports", headers=analyst).json()["total"] == 2

    assert c.patch(f"/api/v1/reports/{amber['id']}", json={"assessment": "Ny"}, headers=reader).status_code == 403
    assert c.post(f"/api/v1/reports/{amber['id']}/approve", headers=reader).status_code == 403
    approved = c.post(f"/api/v1/reports/{amber['id']}/approve", headers=analyst)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert c.post(f"/api/v1/reports/{amber['id']}/approve", headers=analyst).status_code == 409
    assert c.patch(f"/api/v1/reports/{amber['id']}", json={"assessment": "x"}, headers=analyst).status_code == 409

    pdf = c.get(f"/api/v1/reports/{amber['id']}.pdf", headers=reader)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["x-content-sha256"] == approved.json()["pdf_sha256"]
    html = c.get(f"/api/v1/reports/{amber['id']}.html", headers=reader)
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert "Rolig uke på Ørland." in html.text and "TLP:" in html.text
    assert c.get("/api/v1/reports").status_code == 401


def test_dashboard_page_create_edit_approve(dash):
    token = dash.login(ANALYST)
    page = dash.client.get("/rapporter")
    assert page.status_code == 200 and 'href="/rapporter"' in page.text and "Lag utkast" in page.text
    r = dash.client.post("/rapporter", data={"csrf_token": token, "period": "2026-W48", "tlp": "amber"},
                         follow_redirects=False)
    assert r.status_code == 303
    path = r.headers["location"]
    assert re.fullmatch(r"/rapporter/\d+", path)
    detail = dash.client.get(path)
    assert "Utkast" in detail.text and "Lagre vurdering" in detail.text and "TLP:" in detail.text
    assert dash.client.post(f"{path}/vurdering", data={"assessment": "x"}).status_code == 403  # no CSRF token
    dash.client.post(f"{path}/vurdering", data={"csrf_token": token, "title": "Uke 48",
                                                "assessment": "<b>Økt</b> aktivitet\n\n- punkt"})
    detail = dash.client.get(path)
    assert "&lt;b&gt;Økt&lt;/b&gt;" in detail.text and "<b>Økt" not in detail.text and "Uke 48" in detail.text
    dash.client.post(f"{path}/godkjenn", data={"csrf_token": token})
    detail = dash.client.get(path)
    assert "Godkjent av analytiker@demo.invalid" in detail.text and "Lagre vurdering" not in detail.text
    assert "SHA-256" in detail.text and "<li>punkt</li>" in detail.text and "<b>Økt" not in detail.text
    assert dash.client.get(f"/api/v1/reports/{path.rsplit('/', 1)[1]}.pdf").content.startswith(b"%PDF")


def test_reader_sees_reports_but_cannot_change_them(dash):
    token = dash.login(ANALYST)
    dash.client.post("/rapporter", data={"csrf_token": token, "period": "2026-11", "tlp": "amber+strict"})
    dash.client.post("/logout", data={"csrf_token": token})
    token = dash.login(READER)
    page = dash.client.get("/rapporter")
    assert page.status_code == 200 and "Lag utkast" not in page.text and "Ingen rapporter ennå" in page.text
    r = dash.client.post("/rapporter", data={"csrf_token": token, "period": "2026-W48"}, follow_redirects=False)
    assert r.status_code == 403
    assert dash.client.get("/rapporter/1").status_code == 404
