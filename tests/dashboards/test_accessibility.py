"""Accessibility and layout in the real browser: axe-core on every page type for every role (no serious
or critical violations), and screenshots at desktop and phone width with nothing overflowing.

Screenshots are saved under `test-results/screenshots/` (see docs/dashboard.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.dashboards.test_browser import chromium_page  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
DESKTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}
BLOCKING = ("serious", "critical")
STAFF_PAGES = ("/", "/treff", "/indikatorer", "/sarbarheter", "/varsler-inn", "/kilder", "/virksomheter",
               "/virksomheter/{constituent}", "/elementer/{item}", "/hendelser", "/hendelser/{incident}",
               "/hendelser/ny", "/rapporter", "/rapporter/{report}", "/utsendte-varsler", "/forslag", "/revisjon",
               "/varslingsregler", "/min-side")
ROLES = {"admin@demo.invalid": STAFF_PAGES, "analytiker@demo.invalid": STAFF_PAGES,
         "leser@demo.invalid": STAFF_PAGES, "kommune@demo.invalid": ("/min-side", "/", "/treff")}


def _ids() -> dict[str, int]:
    """A constituent with assets, an item, an incident and a report to open detail pages with."""
    from certmon.db import session_scope
    from certmon.incidents.schemas import IncidentCreate
    from certmon.incidents.service import create_incident
    from certmon.items.models import StoredItem
    from certmon.registry.service import find_by_org_number
    from certmon.reports.service import create_current_week_draft

    with session_scope() as session:
        bergen = find_by_org_number(session, "964338531")
        assert bergen is not None
        item = session.scalars(select(StoredItem.id).where(StoredItem.kind == "indicator")
                               .order_by(StoredItem.id)).first()
        incident = create_incident(session, actor="analytiker@demo.invalid", data=IncidentCreate(
            title="DEMO: Løsepengevirus", tlp="amber", constituent_ids=[bergen.id]))
        report = create_current_week_draft(session, actor="analytiker@demo.invalid")
        return {"constituent": bergen.id, "item": int(item or 0), "incident": incident.id, "report": report.id}


def _sign_in(page: Any, email: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", "demo")
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_load_state()


TALLY: dict[str, dict[str, int]] = {}  # page -> impact -> violations (all impacts), printed with -s


def _blocking(page: Any) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe

    assert "/login" not in page.url or page.url.endswith("/login"), f"signed out at {page.url}"
    result = Axe().run(page)
    tally = TALLY.setdefault(page.url.split("?")[0], {})
    for v in result.response["violations"]:
        tally[v["impact"]] = tally.get(v["impact"], 0) + 1
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result.response["violations"] if v["impact"] in BLOCKING]


def _overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the viewport (0: nothing overflows sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_axe_finds_no_serious_or_critical_violation_on_any_page_for_any_role(chromium_page) -> None:  # noqa: F811
    page = chromium_page
    ids = _ids()
    found: dict[str, list[dict[str, Any]]] = {}
    checked = 0
    page.goto("/login")
    if problems := _blocking(page):
        found["anonymous /login"] = problems
    page.goto("/passord/ugyldig-lenke")
    if problems := _blocking(page):
        found["anonymous /passord/…"] = problems
    checked += 2
    for email, pages in ROLES.items():
        _sign_in(page, email)
        for template in pages:
            page.goto(template.format(**ids))
            checked += 1
            if problems := _blocking(page):
                found[f"{email} {template}"] = problems
    print("axe violations by page and impact:", json.dumps(TALLY, ensure_ascii=False))
    summary = json.dumps(found, ensure_ascii=False, indent=1)
    assert not found, f"{len(found)} of {checked} pages have serious/critical axe violations:\n{summary}"


@pytest.mark.parametrize(("email", "path", "name"), [
    ("analytiker@demo.invalid", "/", "situasjonsbilde"),
    ("analytiker@demo.invalid", "/treff", "treff"),
    ("kommune@demo.invalid", "/min-side", "min-side"),
])
def test_screenshots_at_desktop_and_phone_width_nothing_overflows(chromium_page, email: str, path: str,  # noqa: F811
                                                                  name: str) -> None:
    page = chromium_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _sign_in(page, email)
    for label, size in (("1366x900", DESKTOP), ("telefon-390", PHONE)):
        page.set_viewport_size(size)
        page.goto(path)
        shot = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert _overflow(page) <= 0, f"{path} at {label} is {_overflow(page)} px wider than the screen"
