"""Provider settings: the presets' defaults, and a wrong setting stopping start-up with one line naming it."""

from __future__ import annotations

import json

import pytest

from certmon.auth.oidc.providers import IDPORTEN_LEVELS, parse_providers
from certmon.config import get_settings, load_settings
from certmon.errors import ConfigError


def _one(**entry: object) -> str:
    return json.dumps([{"issuer": "https://op.example", "client_id": "c", **entry}])


def test_presets_fill_in_what_each_provider_demands(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n")
    helseid, idporten, entra = parse_providers(json.dumps([
        {"name": "helseid", "preset": "helseid", "issuer": "https://helseid-sts.nhn.no", "client_id": "h",
         "private_key_file": str(key)},
        {"name": "idporten", "preset": "idporten", "issuer": "https://idporten.no", "client_id": "i",
         "private_key_file": str(key)},
        {"name": "entra", "preset": "entra", "issuer": "https://login.microsoftonline.com/t/v2.0", "client_id": "e",
         "client_secret": "s", "role_map": {"CERT.Analyst": "analyst"}},
    ]), "")
    assert helseid.client_auth == "private_key_jwt" and helseid.par is True and helseid.link == "invite"
    assert "helseid://scopes/identity/pid" in (helseid.scopes or [])
    assert helseid.subject_claim == "helseid://claims/identity/pid"
    assert idporten.subject_claim == "pid" and idporten.acr_values == ["idporten-loa-substantial"]
    assert idporten.accepted_acr == list(IDPORTEN_LEVELS)  # substantial asked: substantial or high accepted
    assert entra.role_claim == "roles" and entra.subject_claim == "oid" and entra.link == "email"
    assert [p.label for p in (helseid, idporten, entra)] == ["HelseID", "ID-porten", "Microsoft Entra ID"]
    high = parse_providers(_one(name="ip", preset="idporten", private_key_file=str(key),
                                acr_values=["idporten-loa-high"]), "")[0]
    assert high.accepted_acr == ["idporten-loa-high"]


def test_providers_can_come_from_a_yaml_file(tmp_path):
    file = tmp_path / "oidc.yaml"
    file.write_text("providers:\n  - name: op\n    issuer: https://op.example\n    client_id: c\n"
                    "    client_secret: s\n")
    [provider] = parse_providers("", str(file))
    assert provider.name == "op" and provider.discovery_url == "https://op.example/.well-known/openid-configuration"


@pytest.mark.parametrize(("entry", "words"), [
    ({"name": "op"}, "client_secret"),  # generic without a secret
    ({"name": "op", "client_secret": "s", "role_map": {"x": "superuser"}}, "ukjent rolle"),
    ({"name": "op", "client_secret": "s", "role_map": {"x": "admin"}, "role_claim": None}, "role_claim"),
    ({"name": "Op Name", "client_secret": "s"}, "name"),
    ({"name": "ip", "preset": "idporten", "private_key_file": "/k", "acr_values": ["level3"]}, "acr_values"),
    ({"name": "h", "preset": "helseid"}, "private_key_file"),
    ({"name": "op", "client_secret": "s", "unknown_key": 1}, "unknown_key"),
])
def test_a_wrong_provider_setting_stops_start_up_naming_the_variable(monkeypatch, entry, words):
    monkeypatch.setenv("CERTMON_OIDC_PROVIDERS", _one(**entry))
    get_settings.cache_clear()
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "CERTMON_OIDC_PROVIDERS" in caught.value.message and words in caught.value.message


def test_password_off_roles_are_checked(monkeypatch):
    monkeypatch.setenv("CERTMON_PASSWORD_LOGIN_OFF_ROLES", "analyst,superuser")
    with pytest.raises(ConfigError, match="CERTMON_PASSWORD_LOGIN_OFF_ROLES"):
        load_settings()
    monkeypatch.setenv("CERTMON_PASSWORD_LOGIN_OFF_ROLES", "analyst, reader")
    assert load_settings().password_off_roles == {"analyst", "reader"}
