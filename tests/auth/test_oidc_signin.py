"""Sign-in with OpenID Connect against a real provider (oidc-provider on loopback): each preset's happy
path, every refusal with its page and audit entry, ID-porten's first sign-in through the invitation link,
and sign-out through the provider's end-session endpoint."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from certmon.audit.models import AuditEntry
from certmon.auth import invites
from certmon.auth.models import User, UserIdentity
from certmon.auth.service import create_user
from certmon.cli.main import run
from certmon.config import get_settings
from certmon.registry.models import Constituent
from tests.auth.conftest import BERGEN_HF, PID, Provider, sign_in
from tests.conftest import serving

pytestmark = pytest.mark.slow


@pytest.fixture
def certmon(request: pytest.FixtureRequest, oidc_provider: Provider, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """certmon on the port the provider's clients are registered for; configure providers with `setup`.
    On embedded SQLite, or on PostgreSQL with `@pytest.mark.parametrize("certmon", ["pg"], indirect=True)`."""
    sqlite_env = request.getfixturevalue(f"{getattr(request, 'param', 'sqlite')}_env")
    monkeypatch.setenv("CERTMON_BASE_URL", oidc_provider.base)
    monkeypatch.setenv("CERTMON_SIGNIN_CLIENT_LIMIT", "1000/minute")
    oidc_provider.tamper.mode, oidc_provider.tamper.publish_rotated = "pass", False

    class Running:
        env = sqlite_env
        provider = oidc_provider

        def __init__(self) -> None:
            self._servers: list[Any] = []

        def setup(self, *names: str, env: dict[str, str] | None = None, **overrides: Any) -> None:
            monkeypatch.setenv("CERTMON_OIDC_PROVIDERS", oidc_provider.settings(*names, **overrides))
            for key, value in (env or {}).items():
                monkeypatch.setenv(key, value)
            get_settings.cache_clear()
            from certmon.api.app import create_app

            server = serving(create_app(), port=oidc_provider.certmon_port)
            server.__enter__()
            self._servers.append(server)

        def close(self) -> None:
            for server in self._servers:
                server.__exit__(None, None, None)

    running = Running()
    yield running
    running.close()


def _cli(*args: str) -> None:
    with pytest.raises(SystemExit) as done:
        run(list(args))
    assert done.value.code == 0


def _browser() -> httpx.Client:
    return httpx.Client(timeout=20)


def _audit(env: Any, action: str) -> list[AuditEntry]:
    with env.factory() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _refusal(env: Any) -> dict[str, Any]:
    entries = _audit(env, "user.oidc-refused")
    assert entries, "the refusal was not audited"
    return dict(entries[-1].detail)


def _staff(env: Any, email: str, role: str = "reader") -> int:
    with env.factory.begin() as s:
        return create_user(s, email=email, role=role, password=None).id


def test_generic_provider_signs_in_a_known_user_by_verified_email(certmon):
    certmon.setup("generic")
    _staff(certmon.env, "kari@kommunecert.test", "analyst")
    with _browser() as browser:
        login = browser.get(f"{certmon.provider.base}/login")
        assert "Logg inn med Testleverandør" in login.text
        assert 'href="/login/oidc/generic?next=/"' in login.text
        start = browser.get(f"{certmon.provider.base}/login/oidc/generic?next=/treff%3Fstatus%3Dnew")
        done = sign_in(browser, certmon.provider, "generic", "kari", start=start).response
        assert done.status_code == 200, done.text
        assert 'http-equiv="refresh" content="0;url=/treff?status=new"' in done.text  # back where they were
        page = browser.get(f"{certmon.provider.base}/")
        assert page.status_code == 200 and "Kari" not in page.url.path
        assert "Logg ut" in page.text
    [entry] = _audit(certmon.env, "user.oidc-login")
    assert entry.actor == "kari@kommunecert.test" and entry.detail["provider"] == "generic"
    assert [e.detail["linked_by"] for e in _audit(certmon.env, "user.oidc-link")] == ["email"]


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _constituent(env: Any, email: str, org_number: str) -> tuple[int, str]:
    """A constituent's user without a password, and the invitation link's token an admin would send."""
    with env.factory.begin() as s:
        org = s.scalar(select(Constituent).where(Constituent.org_number == org_number))
        assert org is not None
        user = create_user(s, email=email, role="constituent", password=None, constituent_id=org.id)
        link = invites.make_link(s, user, actor="admin@kommunecert.test")
        return user.id, link.rsplit("/passord/", 1)[1]


def _accept_invite(browser: httpx.Client, provider: Provider, token: str, name: str) -> httpx.Response:
    """On the invitation page, press the provider's button (a form post with the CSRF token)."""
    page = browser.get(f"{provider.base}/passord/{token}")
    assert page.status_code == 200 and f'action="/login/oidc/{name}"' in page.text, page.text
    csrf = CSRF.search(page.text)
    assert csrf
    leave = browser.post(f"{provider.base}/login/oidc/{name}", data={"csrf_token": csrf.group(1), "invite": token})
    return _as_redirect(leave)


CONTINUE = re.compile(r'<a href="([^"]+)" id="continue"')


def _as_redirect(page: httpx.Response) -> httpx.Response:
    """A page that moves on by itself (meta refresh after a form post), as the redirect it stands for."""
    assert page.status_code == 200, page.text
    found = CONTINUE.search(page.text)
    assert found and f'content="0;url={found.group(1)}"' in page.text
    return httpx.Response(303, headers={"location": html.unescape(found.group(1))}, request=page.request)


def _assert_refused(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    assert "Innloggingen ble avvist" in response.text and text in response.text, response.text
    assert response.headers["cache-control"] == "no-store"


def test_entra_maps_app_roles_and_refuses_unmapped_and_unknown_staff(certmon):
    certmon.setup("entra")
    kari = _staff(certmon.env, "kari@kommunecert.test", "reader")
    _staff(certmon.env, "per@kommunecert.test", "reader")
    with _browser() as browser:
        assert sign_in(browser, certmon.provider, "entra", "kari").response.status_code == 200
        assert "Logg ut" in browser.get(f"{certmon.provider.base}/").text
    with certmon.env.factory() as s:
        user = s.get(User, kari)
        assert user is not None and user.role == "analyst"  # the app role certmon.analyst, as mapped
    role_change = _audit(certmon.env, "user.role")[-1]
    assert role_change.actor == "oidc:entra" and role_change.detail["role"] == "analyst"
    with _browser() as browser:
        _assert_refused(sign_in(browser, certmon.provider, "entra", "per").response, 403, "ingen rolle")
        assert _refusal(certmon.env)["reason"] == "no-role"
        assert browser.get(f"{certmon.provider.base}/", follow_redirects=True).url.path == "/login"  # not signed in
    with _browser() as browser:
        _assert_refused(sign_in(browser, certmon.provider, "entra", "ukjent").response, 403,
                        "aldri opprettet ved innlogging")
        assert _refusal(certmon.env)["reason"] == "unknown-user"
    with certmon.env.factory() as s:
        assert s.scalar(select(User).where(User.email == "ukjent@kommunecert.test")) is None


@pytest.mark.parametrize("certmon", ["sqlite", pytest.param("pg", marks=pytest.mark.postgres)], indirect=True)
def test_idporten_first_sign_in_links_through_the_invitation_and_only_then(certmon, capsys):
    certmon.setup("idporten")
    user_id, token = _constituent(certmon.env, "ola@helse-bergen.test", BERGEN_HF)
    with _browser() as browser:  # without the invitation: refused, nothing linked
        refused = sign_in(browser, certmon.provider, "idporten", "ola", acr="idporten-loa-high").response
        _assert_refused(refused, 403, "invitasjonslenken")
        assert _refusal(certmon.env)["reason"] == "not-linked"
    with _browser() as browser:
        start = _accept_invite(browser, certmon.provider, token, "idporten")
        assert "acr_values=idporten-loa-high" in start.headers["location"]
        done = sign_in(browser, certmon.provider, "idporten", "ola", acr="idporten-loa-high", start=start).response
        assert done.status_code == 200, done.text
        assert browser.get(f"{certmon.provider.base}/min-side").status_code == 200
    with certmon.env.factory() as s:
        [identity] = s.scalars(select(UserIdentity))
        assert identity.user_id == user_id and identity.provider == "idporten" and identity.linked_by == "invite"
        assert PID not in identity.subject_digest
    [link] = _audit(certmon.env, "user.oidc-link")
    assert link.detail["linked_by"] == "invite" and PID not in str(link.detail)
    assert PID not in " ".join(str(e.detail) for e in _audit(certmon.env, "user.oidc-login"))
    with _browser() as browser:  # the invitation is spent; the button alone signs in from now on
        page = browser.get(f"{certmon.provider.base}/passord/{token}")
        assert "allerede brukt" in page.text
        again = sign_in(browser, certmon.provider, "idporten", "ola", acr="idporten-loa-high")
        assert again.response.status_code == 200
    # an admin sees and removes the link; the person then needs a new invitation
    _cli("users", "links", "--email", "ola@helse-bergen.test")
    assert "idporten: koblet med invite" in capsys.readouterr().out
    _cli("users", "unlink", "--email", "ola@helse-bergen.test", "--provider", "idporten")
    assert "er fjernet" in capsys.readouterr().out
    assert _audit(certmon.env, "user.oidc-unlink")[0].detail == {"provider": "idporten"}
    with _browser() as browser:
        refused = sign_in(browser, certmon.provider, "idporten", "ola", acr="idporten-loa-high").response
        _assert_refused(refused, 403, "invitasjonslenken")


def test_idporten_refuses_a_lower_acr_and_a_missing_pid(certmon):
    certmon.setup("idporten")
    _user_id, token = _constituent(certmon.env, "ola@helse-bergen.test", BERGEN_HF)
    with _browser() as browser:
        start = _accept_invite(browser, certmon.provider, token, "idporten")
        low = sign_in(browser, certmon.provider, "idporten", "ola", acr="idporten-loa-substantial", start=start)
        _assert_refused(low.response, 401, "for lavt sikkerhetsnivå")
        assert _refusal(certmon.env)["reason"] == "invalid-acr"
    with _browser() as browser:
        start = _accept_invite(browser, certmon.provider, token, "idporten")  # the link was not spent
        missing = sign_in(browser, certmon.provider, "idporten", "utenpid", acr="idporten-loa-high", start=start)
        _assert_refused(missing.response, 403, "opplysningene certmon trenger")
        assert _refusal(certmon.env)["reason"] == "missing-claim"
    with certmon.env.factory() as s:
        assert s.scalars(select(UserIdentity)).first() is None


def test_helseid_pushes_the_request_signs_the_client_assertion_and_checks_the_organisation(certmon):
    certmon.setup("helseid")
    _user_id, token = _constituent(certmon.env, "ola@helse-bergen.test", BERGEN_HF)
    with _browser() as browser:
        start = _accept_invite(browser, certmon.provider, token, "helseid")
        location = httpx.URL(start.headers["location"])
        assert set(location.params) == {"client_id", "request_uri"}  # PAR: nothing else in the URL
        assert location.params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
        done = sign_in(browser, certmon.provider, "helseid", "ola", start=start).response
        assert done.status_code == 200, done.text
    login = _audit(certmon.env, "user.oidc-login")[-1]
    assert login.detail["provider"] == "helseid" and login.detail["org"] == BERGEN_HF
    # another organisation's user linked to the same person: refused on the organisation claim
    _other_id, other_token = _constituent(certmon.env, "ola@bergen.test", "964338531")
    with certmon.env.factory.begin() as s:
        s.query(UserIdentity).delete()
    with _browser() as browser:
        start = _accept_invite(browser, certmon.provider, other_token, "helseid")
        _assert_refused(sign_in(browser, certmon.provider, "helseid", "ola", start=start).response, 403,
                        "annen virksomhet")
        assert _refusal(certmon.env)["reason"] == "wrong-organisation"


def test_the_client_without_par_is_refused_by_a_provider_that_requires_it(certmon):
    certmon.setup("helseid", helseid={"par": False})
    with _browser() as browser:
        # the provider's metadata does not demand PAR globally, the client registration does
        r = browser.get(f"{certmon.provider.base}/login/oidc/helseid")
        assert r.status_code == 303
        page = browser.get(r.headers["location"], follow_redirects=True)
        assert "pushed authorization request" in page.text.lower() or "request_uri" in page.text.lower(), page.text


def test_par_is_used_when_the_providers_metadata_requires_it(certmon, par_required_issuer):
    certmon.setup("generic", generic={"issuer": par_required_issuer})  # the generic preset: PAR not configured
    _staff(certmon.env, "kari@kommunecert.test", "analyst")
    metadata = httpx.get(f"{par_required_issuer}/.well-known/openid-configuration").json()
    assert metadata["require_pushed_authorization_requests"] is True
    with _browser() as browser:
        start = browser.get(f"{certmon.provider.base}/login/oidc/generic")
        assert set(httpx.URL(start.headers["location"]).params) == {"client_id", "request_uri"}
        assert sign_in(browser, certmon.provider, "generic", "kari", start=start).response.status_code == 200


@pytest.mark.parametrize(("mode", "reason", "text"), [
    ("wrong-aud", "invalid-aud", "besto ikke certmons kontroller"),
    ("expired", "expired", "besto ikke certmons kontroller"),
    ("bad-signature", "bad-signature", "besto ikke certmons kontroller"),
])
def test_token_level_failures_are_refused(certmon, mode, reason, text):
    certmon.setup("tamper")
    _staff(certmon.env, "kari@kommunecert.test", "analyst")
    certmon.provider.tamper.mode = mode
    with _browser() as browser:
        _assert_refused(sign_in(browser, certmon.provider, "tamper", "kari").response, 401, text)
        assert browser.get(f"{certmon.provider.base}/", follow_redirects=True).url.path == "/login"
    assert _refusal(certmon.env)["reason"] == reason
    assert _audit(certmon.env, "user.oidc-login") == []


def test_a_rotated_signing_key_is_fetched_from_the_jwks_when_a_token_names_it(certmon):
    certmon.setup("tamper")
    _staff(certmon.env, "kari@kommunecert.test", "analyst")
    with _browser() as browser:  # the JWKS (old key only) is now cached
        assert sign_in(browser, certmon.provider, "tamper", "kari").response.status_code == 200
    certmon.provider.tamper.mode = "rotated"
    with _browser() as browser:  # a kid the cache does not know, not yet published: refused
        _assert_refused(sign_in(browser, certmon.provider, "tamper", "kari").response, 401, "kontroller")
        assert _refusal(certmon.env)["reason"] == "bad-signature"
    certmon.provider.tamper.publish_rotated = True
    with _browser() as browser:  # published: fetched again and accepted
        assert sign_in(browser, certmon.provider, "tamper", "kari").response.status_code == 200


def test_a_replayed_code_and_a_foreign_state_are_refused(certmon):
    certmon.setup("generic")
    _staff(certmon.env, "kari@kommunecert.test", "analyst")
    with _browser() as browser:
        outcome = sign_in(browser, certmon.provider, "generic", "kari", call_back=False)
        pending = browser.cookies.get("certmon_oidc")
        assert pending
        assert browser.get(outcome.callback_url).status_code == 200
    with _browser() as attacker:  # the same callback with a copy of the pending cookie
        attacker.cookies.set("certmon_oidc", pending, domain="127.0.0.1", path="/login/oidc")
        _assert_refused(attacker.get(outcome.callback_url), 401, "avviste koden")
    assert _refusal(certmon.env)["reason"] == "code-refused"
    with _browser() as other:  # a callback this browser never started
        _assert_refused(other.get(outcome.callback_url), 400, "ble ikke startet i denne nettleseren")
    assert _refusal(certmon.env)["reason"] == "state"


def test_sign_out_ends_the_session_and_goes_to_the_providers_end_session_endpoint(certmon):
    certmon.setup("generic")
    _staff(certmon.env, "kari@kommunecert.test", "analyst")
    with _browser() as browser:
        assert sign_in(browser, certmon.provider, "generic", "kari").response.status_code == 200
        page = browser.get(f"{certmon.provider.base}/")
        saved = browser.cookies.get("certmon_session")
        csrf = CSRF.search(page.text)
        assert csrf and saved
        out = _as_redirect(browser.post(f"{certmon.provider.base}/logout", data={"csrf_token": csrf.group(1)}))
        target = httpx.URL(out.headers["location"])
        assert str(target).startswith(f"{certmon.provider.issuer}/session/end")
        assert target.params["post_logout_redirect_uri"] == f"{certmon.provider.base}/login"
        assert target.params["id_token_hint"].count(".") == 2
        ended = browser.get(str(target))  # the provider's own confirmation page
        assert ended.status_code == 200
    with _browser() as thief:  # the session cookie saved before sign-out no longer works
        thief.cookies.set("certmon_session", saved, domain="127.0.0.1")
        assert thief.get(f"{certmon.provider.base}/", follow_redirects=True).url.path == "/login"


def test_password_sign_in_can_be_switched_off_per_role_and_break_glass_stays(certmon):
    certmon.setup("generic", env={"CERTMON_PASSWORD_LOGIN_OFF_ROLES": "analyst,reader"})
    with certmon.env.factory.begin() as s:
        create_user(s, email="analytiker@kommunecert.test", role="analyst", password="et-langt-passord")
        create_user(s, email="nod@kommunecert.test", role="admin", password="et-langt-passord")
    base = certmon.provider.base
    with _browser() as browser:
        form = browser.get(f"{base}/login")
        csrf = CSRF.search(form.text)
        assert csrf
        refused = browser.post(f"{base}/login", data={"csrf_token": csrf.group(1), "password": "et-langt-passord",
                                                     "email": "analytiker@kommunecert.test"})
        assert refused.status_code == 403 and "slått av for rollen din" in refused.text
        api = browser.post(f"{base}/api/v1/auth/token", json={"email": "analytiker@kommunecert.test",
                                                             "password": "et-langt-passord"})
        assert api.status_code == 403
    with _browser() as browser:
        form = browser.get(f"{base}/login")
        csrf = CSRF.search(form.text)
        assert csrf
        ok = browser.post(f"{base}/login", data={"csrf_token": csrf.group(1), "email": "nod@kommunecert.test",
                                                "password": "et-langt-passord"})
        assert ok.status_code == 303
    refusals = _audit(certmon.env, "user.login-refused")
    assert [e.detail["reason"] for e in refusals] == ["password-off", "password-off"]


def test_a_provider_that_cannot_be_reached_gets_a_clear_page(certmon):
    certmon.setup("generic", generic={"issuer": "http://127.0.0.1:9", "client_id": "x"})
    with _browser() as browser:
        _assert_refused(browser.get(f"{certmon.provider.base}/login/oidc/generic"), 502, "Fikk ikke kontakt")
    assert _refusal(certmon.env)["reason"] == "unavailable"


def test_an_unreadable_private_key_gets_a_clear_page(certmon, tmp_path):
    certmon.setup("idporten", idporten={"private_key_file": str(tmp_path / "missing.jwk.json")})
    with _browser() as browser:
        _assert_refused(browser.get(f"{certmon.provider.base}/login/oidc/idporten"), 502, "ikke satt opp riktig")
    assert _refusal(certmon.env)["reason"] == "misconfigured"
