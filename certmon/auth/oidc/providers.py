"""The configured OpenID Connect providers (CERTMON_OIDC_PROVIDERS or CERTMON_OIDC_PROVIDERS_FILE) and the
presets that fill in what each kind of provider demands. Nothing here talks to the network."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

Preset = Literal["helseid", "idporten", "entra", "generic"]
ClientAuth = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
LinkBy = Literal["invite", "email"]

IDPORTEN_LEVELS = ("idporten-loa-substantial", "idporten-loa-high")  # low to high
HELSEID_PID = "helseid://claims/identity/pid"
HELSEID_ORG = "helseid://claims/client/claims/orgnr_parent"

# What each preset assumes where the configuration says nothing (docs/authentication.md, one section each).
PRESETS: dict[str, dict[str, Any]] = {
    "helseid": {
        "label": "HelseID", "client_auth": "private_key_jwt", "link": "invite", "subject_claim": HELSEID_PID,
        "scopes": ["openid", "profile", "helseid://scopes/identity/pid",
                   "helseid://scopes/identity/assurance_level", "helseid://scopes/identity/security_level"],
        "par": True,
    },
    "idporten": {
        "label": "ID-porten", "client_auth": "private_key_jwt", "link": "invite", "subject_claim": "pid",
        "scopes": ["openid", "profile"], "acr_values": ["idporten-loa-substantial"],
    },
    "entra": {
        "label": "Microsoft Entra ID", "client_auth": "client_secret_post", "link": "email",
        "subject_claim": "oid", "email_claim": "preferred_username", "role_claim": "roles",
        "scopes": ["openid", "profile", "email"],
    },
    "generic": {
        "label": "", "client_auth": "client_secret_basic", "link": "email", "subject_claim": "sub",
        "email_claim": "email", "scopes": ["openid", "profile", "email"],
    },
}


class OidcProvider(BaseModel):
    """One provider: a button on the sign-in page and the rules for the people it signs in."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")  # in the URL: /login/oidc/<name>
    preset: Preset = "generic"
    label: str = ""  # the button's text; default the preset's name
    issuer: str
    metadata_url: str = ""  # default <issuer>/.well-known/openid-configuration
    client_id: str
    client_secret: SecretStr = SecretStr("")
    private_key_file: str = ""  # private_key_jwt: a PEM file or a private JWK (JSON)
    private_key_kid: str = ""  # the key's id at the provider, when the file does not carry one
    assertion_audience: str = ""  # aud of the client assertion; default the issuer
    client_auth: ClientAuth | None = None
    scopes: list[str] | None = None
    acr_values: list[str] | None = None  # asked for in the authorization request
    accepted_acr: list[str] | None = None  # acr the ID token must carry; default from acr_values
    par: bool | None = None  # pushed authorization requests; default the preset's, or when metadata demands
    subject_claim: str | None = None  # the claim that names the person at this provider
    link: LinkBy | None = None  # how a first sign-in finds its certmon account
    email_claim: str | None = None
    role_claim: str | None = None  # e.g. roles (Entra app roles) or groups
    role_map: dict[str, str] = Field(default_factory=dict)  # claim value -> certmon role
    org_claim: str | None = None  # a claim carrying an organisation number (9 digits)
    required_claims: list[str] = Field(default_factory=list)
    end_session: bool = True  # send the browser to the provider's end_session_endpoint on sign-out
    extra_params: dict[str, str] = Field(default_factory=dict)  # more authorization request parameters

    @field_validator("issuer", "metadata_url", "assertion_audience")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"ikke en URL: {value!r}")
        return value

    @field_validator("role_map")
    @classmethod
    def _roles(cls, value: dict[str, str]) -> dict[str, str]:
        from certmon.auth.roles import ROLES

        for claim_value, role in value.items():
            if role not in ROLES:
                raise ValueError(f"role_map: {claim_value!r} gir ukjent rolle {role!r}; gyldige: {', '.join(ROLES)}")
        return value

    @model_validator(mode="after")
    def _preset_defaults(self) -> OidcProvider:
        for key, default in PRESETS[self.preset].items():
            if getattr(self, key) in (None, "") and key in type(self).model_fields:
                setattr(self, key, default)
        if self.preset == "idporten":
            asked = [v for v in (self.acr_values or []) if v in IDPORTEN_LEVELS]
            if not asked:
                raise ValueError(f"ID-porten: acr_values må være en av {', '.join(IDPORTEN_LEVELS)}")
            if self.accepted_acr is None:  # the lowest asked-for level and everything above it
                lowest = min(IDPORTEN_LEVELS.index(v) for v in asked)
                self.accepted_acr = list(IDPORTEN_LEVELS[lowest:])
        elif self.accepted_acr is None and self.acr_values:
            self.accepted_acr = list(self.acr_values)
        if self.client_auth == "private_key_jwt" and not self.private_key_file:
            raise ValueError(f"{self.name}: private_key_jwt trenger private_key_file")
        if self.client_auth != "private_key_jwt" and not self.client_secret.get_secret_value():
            raise ValueError(f"{self.name}: {self.client_auth} trenger client_secret")
        if self.role_map and not self.role_claim:
            raise ValueError(f"{self.name}: role_map trenger role_claim")
        if not self.label:
            self.label = self.name
        return self

    @property
    def discovery_url(self) -> str:
        """Where the provider's metadata is read from."""
        return self.metadata_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def private_key(self) -> str | dict[str, Any]:
        """The client's private key for private_key_jwt: a JWK (dict) or PEM text."""
        text = Path(self.private_key_file).expanduser().read_text(encoding="utf-8")
        if text.lstrip().startswith("{"):
            return dict(json.loads(text))
        return text


@lru_cache(maxsize=8)
def _parsed(inline: str, file: str) -> tuple[OidcProvider, ...]:
    return tuple(_parse(inline, file))


def parse_providers(inline: str, file: str) -> list[OidcProvider]:
    """The providers the two settings describe (parsed once per value)."""
    return list(_parsed(inline, file))


def _parse(inline: str, file: str) -> list[OidcProvider]:
    """The providers from the JSON list in CERTMON_OIDC_PROVIDERS and/or the YAML or JSON file named by
    CERTMON_OIDC_PROVIDERS_FILE (a list, or a mapping with `providers:`); ValueError names what is wrong."""
    raw: list[Any] = []
    if inline.strip():
        loaded = json.loads(inline)
        raw.extend(loaded if isinstance(loaded, list) else [loaded])
    if file.strip():
        loaded = yaml.safe_load(Path(file).expanduser().read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            loaded = loaded.get("providers", [])
        if not isinstance(loaded, list):
            raise ValueError(f"{file}: forventet en liste med leverandører")
        raw.extend(loaded)
    try:
        providers = [OidcProvider.model_validate(entry) for entry in raw]
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise ValueError(f"{where + ': ' if where else ''}{err['msg']}") from None
    names = [p.name for p in providers]
    if len(names) != len(set(names)):
        raise ValueError("to leverandører har samme name")
    return providers
