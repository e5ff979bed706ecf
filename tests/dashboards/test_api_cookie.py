"""The dashboard's session cookie may read the JSON API but never change anything (no CSRF token there)."""


def test_cookie_reads_but_cannot_write_the_api(dash):
    dash.login("admin@demo.invalid")
    assert dash.client.get("/api/v1/sources").status_code == 200
    r = dash.client.post("/api/v1/sources", json={"name": "x", "format": "rss", "url": "https://x.example/"})
    assert r.status_code == 401 and "API-nøkkel" in r.json()["detail"]
    assert dash.client.patch("/api/v1/sources/nsm-ncsc", json={"enabled": False}).status_code == 401
