"""The API documentation in headless Chromium: Swagger UI and ReDoc render under their CSP from certmon's own
files, with no request to any other host and no CSP violation."""

from __future__ import annotations

import pytest

from tests.dashboards.test_browser import chromium_page  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("path", "shows"), [("/docs", ".opblock-summary-path"), ("/redoc", "h1")])
def test_api_docs_render_from_local_files(chromium_page, live_server: str, path: str, shows: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = chromium_page
    answered: list[str] = []
    problems: list[str] = []
    page.on("response", lambda r: answered.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(path)
    expect(page.locator(shows).first).to_be_visible(timeout=20_000)
    if path == "/docs":
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/sources").first).to_be_visible()
    else:
        expect(page.locator("h1").first).to_contain_text("certmon")
    foreign = [u for u in answered if not u.startswith((live_server, "data:", "blob:"))]
    assert not foreign, foreign  # nothing came from another host
    # ReDoc's sidebar asks for its maker's logo on cdn.redoc.ly; the page's CSP refuses it (and only it)
    refused = [p for p in problems if "Content Security Policy" in p]
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in p for p in refused), refused
