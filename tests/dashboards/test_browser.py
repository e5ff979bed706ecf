"""The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by Playwright's sync API)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
ANY_TLP = re.compile(r"^TLP:(CLEAR|GREEN|AMBER|AMBER\+STRICT|RED)$")


@pytest.fixture
def chromium_page(live_server: str):  # type: ignore[no-untyped-def]
    """A fresh browser page (never `playwright install`: the Debian chromium is used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; run `apt-get install -y chromium` (the Makefile does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO",
                                      base_url=live_server)
        yield context.new_page()
        context.close()
        browser.close()


def test_analyst_signs_in_triages_a_match_and_filters_municipalities(chromium_page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = chromium_page

    page.goto("/treff")
    assert "/login?next=" in page.url
    expect(page.locator(".demo-box")).to_contain_text("analytiker@demo.invalid")
    page.fill("#email", "analytiker@demo.invalid")
    page.fill("#password", "demo")
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("heading", name="Treff", exact=True)).to_be_visible()

    page.get_by_role("link", name="Situasjonsbilde").click()
    expect(page.get_by_role("heading", name="Situasjonsbilde")).to_be_visible()
    expect(page.locator('.figure[href="/treff?status=new"]')).to_contain_text("nye treff som venter på vurdering")
    expect(page.locator(".demo-ribbon")).to_be_visible()
    expect(page.locator(".page-tlp .tlp")).to_have_text(ANY_TLP)

    page.get_by_role("link", name="Treff", exact=True).click()
    first = page.locator("li.match").first
    expect(first.locator(".status")).to_have_text("Ny")
    match_id = first.get_attribute("id")
    first.get_by_role("button", name="Bekreft").click()
    expect(page.locator(".flash-ok")).to_have_text("Treffet er bekreftet.")
    expect(page.locator(f"#{match_id}")).to_have_count(0)  # it left the queue of new matches
    page.select_option("#f-status", "all")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator(f"#{match_id} .status")).to_have_text("Bekreftet")

    page.get_by_role("link", name="Virksomheter").click()
    page.select_option("#f-kind", "kommune")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("#total")).to_have_text("357 kommuner")
    expect(page.locator("table.data tbody tr")).to_have_count(50)
    expect(page.get_by_role("link", name="Bærum kommune")).to_be_visible()

    shot = tmp_path / "virksomheter.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_admin_gives_min_side_access_and_the_municipality_answers_an_alert(chromium_page, live_server: str) -> None:
    from playwright.sync_api import expect
    from sqlalchemy import select

    from certmon.db import session_factory
    from certmon.items.models import StoredItem
    from certmon.matching.models import Match
    from certmon.notify.models import Notification, NotificationMatch
    from certmon.registry.models import Constituent

    with session_factory()() as s:  # one sent alert to Bergen, as after a delivery
        bergen = s.scalar(select(Constituent).where(Constituent.name == "Bergen", Constituent.kind == "kommune"))
        match = s.scalar(select(Match).join(StoredItem, StoredItem.id == Match.item_id)
                         .where(Match.constituent_id == bergen.id, StoredItem.tlp != "red").order_by(Match.id))
        alert = Notification(reference="HKC-2026-990100", constituent_id=bergen.id, mode="immediate", tlp="amber",
                             status="sent", subject="Testvarsel til Bergen", severity="high",
                             dedupe_key="browser-test")
        s.add(alert)
        s.flush()
        s.add(NotificationMatch(notification_id=alert.id, match_id=match.id))
        s.commit()
        bergen_id = bergen.id
        finding_title = s.get(StoredItem, match.item_id).title  # one visible finding names the alert

    page = chromium_page
    page.goto("/login")
    page.fill("#email", "admin@demo.invalid")
    page.fill("#password", "demo")
    page.get_by_role("button", name="Logg inn").click()
    page.goto(f"/virksomheter/{bergen_id}#brukere")
    page.fill("#b-email", "ny.kontakt@bergen.example")
    page.fill("#b-name", "Ny Kontakt")
    page.get_by_role("button", name="Gi tilgang").click()
    link = page.locator("code.secret-link").inner_text()
    assert "/passord/" in link
    page.get_by_role("button", name="Logg ut").click()

    page.goto("/passord/" + link.rsplit("/passord/", 1)[1])
    expect(page.get_by_role("heading", name="Sett passord")).to_be_visible()
    page.fill("#password", "et-godt-passord")
    page.fill("#confirm", "et-godt-passord")
    page.get_by_role("button", name="Lagre passordet").click()
    expect(page.locator(".flash-ok")).to_contain_text("Passordet er lagret")
    page.fill("#email", "ny.kontakt@bergen.example")
    page.fill("#password", "et-godt-passord")
    page.get_by_role("button", name="Logg inn").click()

    expect(page.get_by_role("heading", name="Bergen kommune")).to_be_visible()
    card = page.locator("#varsel-HKC-2026-990100")
    expect(card.locator("h3")).to_contain_text(finding_title)
    expect(page.locator(".main-nav a")).to_have_count(1)  # Min side only
    card.get_by_role("button", name="Mottatt").click()
    expect(page.locator(".flash-ok")).to_contain_text("HKC-2026-990100")
    expect(page.locator("#varsel-HKC-2026-990100")).to_contain_text("Deres svar: Mottatt")
