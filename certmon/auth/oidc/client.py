"""The authorization code flow through Authlib: discovery, PKCE, state and nonce, PAR, client
authentication (client secret or private_key_jwt) and ID token validation (issuer, audience, expiry,
nonce, acr, signature from the JWKS, fetched again when a token names a key it does not know).

certmon writes no JOSE code of its own: signing the client assertion and checking the ID token are
Authlib's (on joserfc). One `ProviderClient` per provider and process keeps the metadata and the JWKS."""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.integrations.base_client import BaseApp, OAuthError
from authlib.integrations.base_client.sync_app import OAuth2Mixin
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.errors import JoseError

with warnings.catch_warnings():  # Authlib 1.9 prefers the httpx2 fork; certmon stays on httpx
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

from certmon.auth.oidc.providers import OidcProvider
from certmon.errors import CertmonError

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0
LEEWAY_S = 60  # clock skew allowed on exp/iat/nbf


class ProviderUnavailable(CertmonError):
    """The provider's metadata, JWKS, PAR or token endpoint did not answer as it should."""

    status = 502


class ProviderMisconfigured(ProviderUnavailable):
    """certmon's side of the set-up is wrong (e.g. the private key file cannot be read)."""


class TokenRejected(CertmonError):
    """The provider refused the code (used before, expired, wrong verifier) or sent an ID token that does
    not pass validation; `reason` is a short code for the audit log and the refusal page."""

    status = 401

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class _App(OAuth2Mixin, OpenIDMixin, BaseApp):  # type: ignore[misc]
    """Authlib's framework-neutral OAuth 2 + OpenID client, on httpx, without a framework's session."""

    client_cls = OAuth2Client

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(framework=None, **kwargs)


@dataclass(frozen=True)
class Started:
    """A begun sign-in: where to send the browser, and what the callback must find again."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class ProviderClient:
    """One provider's Authlib client (metadata and JWKS cached for this process)."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        auth_methods = None
        secret: Any = provider.client_secret.get_secret_value()
        if provider.client_auth == "private_key_jwt":
            try:
                secret = provider.private_key()
            except (OSError, ValueError) as exc:
                raise ProviderMisconfigured(f"{provider.name}: the private key file cannot be read: "
                                            f"{_brief(exc)}") from None
            kid = provider.private_key_kid or (secret.get("kid", "") if isinstance(secret, dict) else "")
            auth_methods = [PrivateKeyJWT(provider.assertion_audience or provider.issuer,
                                          headers={"kid": kid} if kid else None)]
        self.app = _App(
            name=provider.name, client_id=provider.client_id, client_secret=secret,
            server_metadata_url=provider.discovery_url, client_auth_methods=auth_methods,
            client_kwargs={"scope": " ".join(provider.scopes or []), "code_challenge_method": "S256",
                           "token_endpoint_auth_method": provider.client_auth, "timeout": TIMEOUT_S,
                           "follow_redirects": False},
        )

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; its issuer must be the configured one."""
        try:
            metadata = dict(self.app.load_server_metadata())
        except Exception as exc:  # httpx errors, HTTP status, bad JSON
            self.app.server_metadata.pop("_loaded_at", None)
            raise ProviderUnavailable(f"{self.provider.name}: metadata: {_brief(exc)}") from None
        if metadata.get("issuer") != self.provider.issuer:
            raise ProviderUnavailable(f"{self.provider.name}: the metadata names issuer "
                                      f"{metadata.get('issuer')!r}, not {self.provider.issuer!r}")
        return metadata

    def uses_par(self, metadata: dict[str, Any]) -> bool:
        """PAR when configured (the HelseID preset), or when the provider demands it."""
        required = bool(metadata.get("require_pushed_authorization_requests"))
        return bool(self.provider.par) or required

    def start(self, redirect_uri: str) -> Started:
        """A new authorization request (state, nonce, PKCE S256 made by Authlib), pushed first where PAR
        applies; the URL to send the browser to."""
        metadata = self.metadata()
        params: dict[str, Any] = dict(self.provider.extra_params)
        if self.provider.acr_values:
            params["acr_values"] = " ".join(self.provider.acr_values)
        made = self.app.create_authorization_url(redirect_uri=redirect_uri, **params)
        url = str(made["url"])
        if self.uses_par(metadata):
            url = self._push(metadata, url)
        return Started(url=url, state=made["state"], nonce=made["nonce"], code_verifier=made["code_verifier"])

    def _push(self, metadata: dict[str, Any], url: str) -> str:
        endpoint = metadata.get("pushed_authorization_request_endpoint")
        if not endpoint:
            raise ProviderUnavailable(f"{self.provider.name}: PAR is configured but the provider has no "
                                      "pushed_authorization_request_endpoint")
        parts = urlsplit(url)
        body = dict(parse_qsl(parts.query))
        try:
            with self.app._get_oauth_client(**metadata) as client:
                auth = client.client_auth(client.token_endpoint_auth_method)  # as the token endpoint is called
                resp = client.request("POST", endpoint, data=body, auth=auth, withhold_token=True)
        except Exception as exc:
            raise ProviderUnavailable(f"{self.provider.name}: PAR: {_brief(exc)}") from None
        if resp.status_code not in (200, 201) or "request_uri" not in resp.json():
            raise ProviderUnavailable(f"{self.provider.name}: PAR answered {resp.status_code}: {resp.text[:200]}")
        query = urlencode({"client_id": self.provider.client_id, "request_uri": resp.json()["request_uri"]})
        return f"{metadata['authorization_endpoint']}?{query}"

    def finish(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> tuple[dict[str, Any], str]:
        """Exchange the code (with the PKCE verifier) and validate the ID token; its claims and the raw
        token (kept for the end-session hint)."""
        self.metadata()  # the issuer check, before anything is sent
        try:
            token = self.app.fetch_access_token(redirect_uri=redirect_uri, code=code, code_verifier=code_verifier,
                                                grant_type="authorization_code")
        except OAuthError as exc:
            raise TokenRejected("code-refused", f"{exc.error}: {exc.description or ''}".strip()) from None
        except Exception as exc:
            raise ProviderUnavailable(f"{self.provider.name}: token endpoint: {_brief(exc)}") from None
        if "id_token" not in token:
            raise TokenRejected("no-id-token", "the token response has no id_token")
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.provider.issuer},
            "aud": {"essential": True, "value": self.provider.client_id},
            "exp": {"essential": True},
        }
        if self.provider.accepted_acr:
            options["acr"] = {"essential": True, "values": list(self.provider.accepted_acr)}
        try:
            with _jwks_lock:  # parse_id_token may refresh the cached JWKS (unknown kid)
                claims = self.app.parse_id_token(token, nonce=nonce, claims_options=options, leeway=LEEWAY_S)
        except JoseError as exc:
            raise TokenRejected(_reason(exc), f"{exc.error}: {exc.description or ''}".strip()) from None
        except Exception as exc:  # the JWKS could not be fetched
            raise ProviderUnavailable(f"{self.provider.name}: JWKS: {_brief(exc)}") from None
        log.info("oidc %s: ID token validated (acr %s)", self.provider.name, claims.get("acr"))
        return dict(claims), str(token["id_token"])

    def logout_url(self, *, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session URL (RP-initiated logout), or None where it has none."""
        if not self.provider.end_session:
            return None
        try:
            metadata = self.metadata()
        except ProviderUnavailable as exc:
            log.warning("sign-out: %s", exc.message)
            return None
        if not metadata.get("end_session_endpoint"):
            return None
        made = self.app.create_logout_url(post_logout_redirect_uri=post_logout_redirect_uri,
                                          id_token_hint=id_token or None, client_id=self.provider.client_id)
        return str(made["url"])


def _reason(exc: JoseError) -> str:
    """A short reason code for a failed ID token check."""
    name = type(exc).__name__
    claim = getattr(exc, "claim", None) or ""
    if name == "ExpiredTokenError":
        return "expired"
    if name in ("BadSignatureError", "InvalidKeyIdError", "UnsupportedAlgorithmError", "DecodeError"):
        return "bad-signature"
    if name == "MissingClaimError":
        return f"missing-{claim or 'claim'}"
    if claim:
        return f"invalid-{claim}"
    return "invalid-token"


def _brief(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


_jwks_lock = threading.Lock()
_clients: dict[str, tuple[OidcProvider, ProviderClient]] = {}
_clients_lock = threading.Lock()


def client_for(provider: OidcProvider) -> ProviderClient:
    """This process's client for the provider (made again when its configuration changed)."""
    with _clients_lock:
        known = _clients.get(provider.name)
        if known is None or known[0] != provider:
            known = (provider, ProviderClient(provider))
            _clients[provider.name] = known
        return known[1]
