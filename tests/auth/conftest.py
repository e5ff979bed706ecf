"""A real OpenID Connect provider for the sign-in tests: Node.js `oidc-provider` (tests/oidc_provider,
installed by `make oidc-provider`) on loopback, configured like each preset, plus a small loopback proxy in
front of it that can re-sign the ID token (wrong audience, expired, other key, rotated key) so that the
token-level failures reach certmon's callback as a provider would send them."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import free_port

PROVIDER_DIR = Path(__file__).parents[1] / "oidc_provider"
BERGEN_HF = "983974724"  # Helse Bergen HF in the bundled registry
PID = "01017012345"
SCOPES = ["openid", "profile", "email", "helseid://scopes/identity/pid",
          "helseid://scopes/identity/assurance_level", "helseid://scopes/identity/security_level"]
ACCOUNTS: dict[str, dict[str, Any]] = {
    # staff at Entra / the generic provider
    "kari": {"name": "Kari Analytiker", "email": "kari@kommunecert.test", "email_verified": True,
             "preferred_username": "kari@kommunecert.test", "oid": "oid-kari", "roles": ["certmon.analyst"]},
    "per": {"name": "Per Uten Rolle", "email": "per@kommunecert.test", "email_verified": True,
            "preferred_username": "per@kommunecert.test", "oid": "oid-per", "roles": ["something.else"]},
    "ukjent": {"name": "Ukjent", "email": "ukjent@kommunecert.test", "email_verified": True,
               "preferred_username": "ukjent@kommunecert.test", "oid": "oid-ukjent", "roles": ["certmon.analyst"]},
    # a person at a health trust (HelseID) and in ID-porten: identified by the national identity number
    "ola": {"name": "Ola Nordmann", "pid": PID, "helseid://claims/identity/pid": PID,
            "helseid://claims/identity/assurance_level": "high", "helseid://claims/identity/security_level": "4",
            "helseid://claims/client/claims/orgnr_parent": BERGEN_HF},
    "utenpid": {"name": "Uten Pid"},
}
CLAIMS = {
    # openid carries what ID-porten and Entra always put in the ID token; orgnr_parent is a client claim
    # at HelseID, here on the person for the test
    "openid": ["sub", "pid", "oid", "roles", "preferred_username", "helseid://claims/client/claims/orgnr_parent"],
    "profile": ["name"],
    "email": ["email", "email_verified"],
    "helseid://scopes/identity/pid": ["helseid://claims/identity/pid"],
    "helseid://scopes/identity/assurance_level": ["helseid://claims/identity/assurance_level"],
    "helseid://scopes/identity/security_level": ["helseid://claims/identity/security_level"],
}


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


@dataclass
class Tamper:
    """What the proxy does to the next ID tokens (and its JWKS)."""

    mode: str = "pass"  # pass | wrong-aud | expired | bad-signature | rotated
    publish_rotated: bool = False


@dataclass
class Provider:
    """The running provider and what the tests need to know about it."""

    issuer: str
    proxy: str  # metadata URL base of the tampering proxy
    certmon_port: int
    client_key_file: Path
    signing_key: RSAKey
    rotated_key: RSAKey
    rogue_key: RSAKey
    config_file: Path | None = None
    tamper: Tamper = field(default_factory=Tamper)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.certmon_port}"

    def settings(self, *names: str, **overrides: dict[str, Any]) -> str:
        """CERTMON_OIDC_PROVIDERS for the named presets (as configured in docs/authentication.md)."""
        all_ = {
            "helseid": {"name": "helseid", "preset": "helseid", "issuer": self.issuer, "client_id": "certmon-helseid",
                        "private_key_file": str(self.client_key_file),
                        "org_claim": "helseid://claims/client/claims/orgnr_parent"},
            "idporten": {"name": "idporten", "preset": "idporten", "issuer": self.issuer,
                         "client_id": "certmon-idporten", "private_key_file": str(self.client_key_file),
                         "acr_values": ["idporten-loa-high"]},
            "entra": {"name": "entra", "preset": "entra", "issuer": self.issuer, "client_id": "certmon-entra",
                      "client_secret": "entra-secret-0123456789",
                      "role_map": {"certmon.analyst": "analyst", "certmon.admin": "admin"}},
            "generic": {"name": "generic", "preset": "generic", "label": "Testleverandør", "issuer": self.issuer,
                        "client_id": "certmon-generic", "client_secret": "generic-secret-0123456789"},
            "tamper": {"name": "tamper", "preset": "generic", "issuer": self.issuer, "client_id": "certmon-tamper",
                       "client_secret": "tamper-secret-0123456789",
                       "metadata_url": f"{self.proxy}/.well-known/openid-configuration"},
        }
        chosen = [{**all_[n], **overrides.get(n, {})} for n in names]
        return json.dumps(chosen)


def _clients(base: str) -> list[dict[str, Any]]:
    def client(name: str, **extra: Any) -> dict[str, Any]:
        return {"client_id": f"certmon-{name}", "redirect_uris": [f"{base}/login/oidc/{name}/callback"],
                "post_logout_redirect_uris": [f"{base}/login"], "grant_types": ["authorization_code"],
                "response_types": ["code"], **extra}
    return [
        client("generic", client_secret="generic-secret-0123456789", token_endpoint_auth_method="client_secret_basic"),
        client("tamper", client_secret="tamper-secret-0123456789", token_endpoint_auth_method="client_secret_basic"),
        client("entra", client_secret="entra-secret-0123456789", token_endpoint_auth_method="client_secret_post"),
    ]


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        p = self.provider
        if self.path == "/.well-known/openid-configuration":
            meta = httpx.get(f"{p.issuer}/.well-known/openid-configuration").json()
            meta["token_endpoint"] = f"{p.proxy}/token"
            meta["jwks_uri"] = f"{p.proxy}/jwks"
            self._send(200, json.dumps(meta).encode())
        elif self.path == "/jwks":
            keys = httpx.get(f"{p.issuer}/jwks").json()["keys"]
            if p.tamper.publish_rotated:
                keys.append(p.rotated_key.as_dict(private=False))
            self._send(200, json.dumps({"keys": keys}).encode())
        else:
            self._send(404, b"{}")

    def do_POST(self) -> None:
        p = self.provider
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        upstream = httpx.post(f"{p.issuer}/token", content=body, headers=headers)
        data = upstream.json()
        if upstream.status_code == 200 and "id_token" in data and p.tamper.mode != "pass":
            token = jwt.decode(data["id_token"], p.signing_key)
            claims, header = dict(token.claims), dict(token.header)
            key = p.signing_key
            if p.tamper.mode == "wrong-aud":
                claims["aud"] = "someone-else"
            elif p.tamper.mode == "expired":
                claims["iat"], claims["exp"] = int(time.time()) - 7200, int(time.time()) - 3600
            elif p.tamper.mode == "bad-signature":
                key = p.rogue_key  # the real key's kid, another key's signature
            elif p.tamper.mode == "rotated":
                key = p.rotated_key
                header["kid"] = p.rotated_key.kid
            data["id_token"] = jwt.encode(header, claims, key)
        self._send(upstream.status_code, json.dumps(data).encode())


def _wait_for(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """oidc-provider on loopback with a client per preset (private_key_jwt + PAR for HelseID, private_key_jwt
    and acr levels for ID-porten, client_secret_post for Entra, client_secret_basic for the generic one)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the OpenID Connect tests need it for oidc-provider (make oidc-provider)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("tests/oidc_provider/node_modules is missing: run `make oidc-provider` (make test does)")
    folder = tmp_path_factory.mktemp("oidc")
    port, proxy_port, certmon_port = free_port(), free_port(), free_port()
    # the provider on another site than certmon (localhost vs 127.0.0.1), as in production: the browser
    # then treats its redirects back as cross-site (SameSite)
    issuer, base = f"http://localhost:{port}", f"http://127.0.0.1:{certmon_port}"
    signing, rotated, rogue, client_key = _key("prov-1"), _key("prov-2"), _key("prov-1"), _key("certmon-client-1")
    key_file = folder / "certmon-client.jwk.json"
    key_file.write_text(json.dumps(client_key.as_dict(private=True)))
    key_file.chmod(0o600)
    public = {"keys": [client_key.as_dict(private=False)]}
    clients = _clients(base)
    clients.append({"client_id": "certmon-helseid", "redirect_uris": [f"{base}/login/oidc/helseid/callback"],
                    "post_logout_redirect_uris": [f"{base}/login"], "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": public, "require_pushed_authorization_requests": True,
                    "grant_types": ["authorization_code"], "response_types": ["code"]})
    clients.append({"client_id": "certmon-idporten", "redirect_uris": [f"{base}/login/oidc/idporten/callback"],
                    "post_logout_redirect_uris": [f"{base}/login"], "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": public, "grant_types": ["authorization_code"], "response_types": ["code"]})
    config = {"port": port, "issuer": issuer, "keys": [signing.as_dict(private=True)], "clients": clients,
              "accounts": ACCOUNTS, "claims": CLAIMS, "scopes": SCOPES,
              "acr_values": ["idporten-loa-substantial", "idporten-loa-high", "urn:test:low"]}
    config_file = folder / "provider.json"
    config_file.write_text(json.dumps(config))
    proc = _node(node, config_file)
    provider = Provider(issuer=issuer, proxy=f"http://127.0.0.1:{proxy_port}", certmon_port=certmon_port,
                        client_key_file=key_file, signing_key=signing, rotated_key=rotated, rogue_key=rogue,
                        config_file=config_file)
    handler = type("Handler", (_ProxyHandler,), {"provider": provider})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", proxy_port), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        _wait_for(f"{issuer}/.well-known/openid-configuration", proc, "oidc-provider")
        yield provider
    finally:
        proxy.shutdown()
        _stop(proc)


def _node(node: str, config_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([node, str(PROVIDER_DIR / "provider.mjs"), str(config_file)], cwd=PROVIDER_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "NODE_ENV": "test"})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def par_required_issuer(oidc_provider: Provider) -> Iterator[str]:
    """A second provider, the same clients, whose metadata says every client must use PAR
    (`require_pushed_authorization_requests`): its issuer."""
    assert oidc_provider.config_file is not None
    config = json.loads(oidc_provider.config_file.read_text())
    config["port"] = free_port()
    config["issuer"] = f"http://localhost:{config['port']}"
    config["require_par"] = True
    config_file = oidc_provider.config_file.with_name("provider-par.json")
    config_file.write_text(json.dumps(config))
    proc = _node(shutil.which("node") or "node", config_file)
    try:
        _wait_for(f"{config['issuer']}/.well-known/openid-configuration", proc, "oidc-provider (PAR required)")
        yield str(config["issuer"])
    finally:
        _stop(proc)


FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@dataclass
class Outcome:
    """Where a browser ended up: certmon's answer to the callback (and the callback URL itself)."""

    response: httpx.Response
    callback_url: str


def sign_in(client: httpx.Client, provider: Provider, name: str, login: str, *, acr: str = "",
            start: httpx.Response | None = None, call_back: bool = True) -> Outcome:
    """Go through the sign-in as a browser would: certmon → provider's login form → back to certmon."""
    r = start or client.get(f"{provider.base}/login/oidc/{name}")
    assert r.status_code == 303, r.text
    r = client.get(r.headers["location"], follow_redirects=True)  # to the provider's login page
    found = FORM_ACTION.search(r.text)
    assert found, r.text
    r = client.post(str(r.url.join(found.group(1))), data={"login": login, "acr": acr})
    for _ in range(10):  # the provider's own redirects (resume, consent) until it sends us back
        assert r.status_code in (302, 303), r.text
        location = str(r.url.join(r.headers["location"]))
        if location.startswith(provider.base):
            break
        r = client.get(location)
    else:
        raise AssertionError("the provider never sent the browser back")
    if not call_back:
        return Outcome(response=r, callback_url=location)
    return Outcome(response=client.get(location), callback_url=location)
