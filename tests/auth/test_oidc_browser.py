"""Single sign-on in headless Chromium (Debian's chromium through Playwright), with the provider on another
site than certmon (localhost vs 127.0.0.1): the session cookie is SameSite=Strict and the dashboard's CSP
says `form-action 'self'`, so these show that a real browser gets through the provider's cross-site
redirect back, the invitation page's form, and sign-out at the provider."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from certmon.audit.models import AuditEntry
from certmon.auth.models import UserIdentity
from tests.auth.conftest import BERGEN_HF, Provider
from tests.auth.test_oidc_signin import _constituent, _staff
from tests.auth.test_oidc_signin import certmon as certmon  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def page(oidc_provider: Provider) -> Iterator[Any]:
    """A fresh Chromium page (never `playwright install`: the Debian chromium is used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; run `apt-get install -y chromium` (the Makefile does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="nb-NO", base_url=oidc_provider.base)
        yield context.new_page()
        context.close()
        browser.close()


def _log_in_at_provider(page: Any, login: str, acr: str = "") -> None:
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=acr]", acr)
    page.click("button[type=submit]")


def test_a_browser_signs_in_and_out_through_the_provider(certmon, page):  # noqa: F811
    certmon.setup("generic")
    _staff(certmon.env, "kari@kommunecert.test", "analyst")
    page.goto("/login")
    page.click("a[data-provider=generic]")
    assert page.url.startswith(certmon.provider.issuer)
    _log_in_at_provider(page, "kari")
    page.wait_for_url(f"{certmon.provider.base}/")
    assert page.locator("header .who").is_visible()  # signed in: the Strict cookie came along
    page.click("header .who button")  # Logg ut
    page.wait_for_url(f"{certmon.provider.issuer}/session/end**")
    page.click("button[autofocus], button[type=submit]")  # the provider's own "yes, sign me out"
    page.wait_for_url(f"{certmon.provider.base}/login**")
    page.goto("/")
    assert page.url.startswith(f"{certmon.provider.base}/login")


def test_a_browser_links_id_porten_through_the_invitation_page(certmon, page):  # noqa: F811
    certmon.setup("idporten")
    _user_id, token = _constituent(certmon.env, "ola@helse-bergen.test", BERGEN_HF)
    page.goto(f"/passord/{token}")
    page.click("button[data-provider=idporten]")  # a form post, then on to the provider
    _log_in_at_provider(page, "ola", "idporten-loa-high")
    page.wait_for_url(f"{certmon.provider.base}/min-side**")
    assert page.locator("header .who").is_visible()
    with certmon.env.factory() as s:
        assert s.scalar(select(UserIdentity.linked_by)) == "invite"
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "user.oidc-link")) is not None


def _serious_axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


def test_sign_in_invitation_and_refusal_pages_pass_axe(certmon, page):  # noqa: F811
    certmon.setup("idporten", "entra", "generic")
    _user_id, token = _constituent(certmon.env, "ola@helse-bergen.test", BERGEN_HF)
    for path in ("/login", f"/passord/{token}", "/login/oidc/ukjent"):
        page.goto(path)
        assert _serious_axe_violations(page) == [], path
    assert page.locator("h1").inner_text() == "Innloggingen ble avvist"
