"""The OpenAPI document tells the truth: schemathesis sends generated requests (examples, coverage and
fuzzing phases) to every operation of the running app (uvicorn on loopback, a disposable PostgreSQL copy
of the demo data) signed in as each role and signed out, and checks every answer against the document:
no server error; status code, content type, headers and body as documented; 405 with `Allow`; and
input the document allows is accepted (except where a rule no schema can state decides, `SEMANTIC`).
Also: 405 names every method the path has, and every integer the document accepts fits the database.
See docs/api.md."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from certmon import plugins
from certmon.auth.models import User
from certmon.auth.service import issue_token
from certmon.db import dispose_engines, session_factory
from certmon.demo.load import load_demo
from certmon.sources.models import Source
from certmon.sources.service import sync_catalogue
from tests.conftest import CertmonEnv, serving
from tests.dashboards.conftest import live_server, prepared_db  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(600)

ROLES = ("admin", "analyst", "reader", "constituent")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "unsupported_method",
          "positive_data_acceptance")
# Operations whose schema-valid input may still be refused (422) by a rule no JSON schema can state; the
# other checks still run on them. Keep this list short: an enum or a bound belongs in the document.
SEMANTIC = {
    ("GET", "/svar/{token}"): "the token is a signed link; only certmon can tell a valid signature",
    ("POST", "/svar/{token}"): "the token is a signed link",
    ("POST", "/api/v1/constituents/{constituent_id}/assets"): "the value must fit its type (CIDR, AS number …)",
    ("POST", "/api/v1/constituents/{constituent_id}/contacts"): "a deliverable e-mail address",
    ("PUT", "/api/v1/constituents/{constituent_id}/contacts/{contact_id}"): "a deliverable e-mail address",
    ("POST", "/api/v1/sources"): "an http(s) URL that passes the SSRF guard; options per format",
    ("PATCH", "/api/v1/sources/{name}"): "an http(s) URL that passes the SSRF guard",
    ("POST", "/api/v1/reports"): "a period or both dates; the assessment's TLP not above the report's",
    ("PATCH", "/api/v1/reports/{report_id}"): "the assessment's TLP not above the report's",
    ("POST", "/api/v1/incidents"): "within the caller's clearance; awareness not in the future",
    ("PATCH", "/api/v1/incidents/{incident_id}"): "TLP not below linked items nor above the clearance",
    ("POST", "/api/v1/incidents/{incident_id}/events"): "a note needs text; a deadline of the incident's model",
    ("POST", "/api/v1/matches/{match_id}/triage"): "false-positive needs a reason",
    ("POST", "/api/v1/notifications/manual"): "recipients: the organisation's own contacts, one organisation",
    ("POST", "/api/v1/sources/{name}/items"): "the body must be readable in the source's own format",
    ("PUT", "/api/v1/sources/{name}/feeders/{email}"): "the account must exist and have the feeder role",
}
# examples per operation and phase; CERTMON_SCHEMATHESIS_EXAMPLES=100 for a long run by hand
EXAMPLES = int(os.environ.get("CERTMON_SCHEMATHESIS_EXAMPLES", "6"))
REVOKE = "DELETE /api/v1/auth/token"


@dataclass
class Tally:
    """What one run sent and what broke, by (operation, check, title)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _prepare_demo(env: CertmonEnv) -> dict[str, list[str]]:
    """Demo users, assets and alerts with the demo samples run through the pipeline; two tokens per role
    (the second for `DELETE /auth/token`, which revokes the token it is called with)."""
    from tests.dashboards.conftest import _ingest_demo, _plant

    with session_factory().begin() as session:
        load_demo(session)
        sync_catalogue(session, plugins.feeds().catalogue(demo=True))
    with session_factory().begin() as session:
        source_ids = {s.name: s.id for s in session.scalars(select(Source))}
    _ingest_demo(source_ids)
    tokens: dict[str, list[str]] = {}
    with session_factory().begin() as session:
        _plant(session, source_ids["demo-partner-stix"])
        for role in ROLES:
            user = session.scalars(select(User).where(User.role == role).order_by(User.id)).first()
            assert user is not None, role
            tokens[role] = [issue_token(session, user=user, name="schemathesis") for _ in range(2)]
    return tokens


@pytest.fixture
def live_api(pg_env: CertmonEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """uvicorn serving the app on a free loopback port over a disposable demo database."""

    from certmon.api.app import create_app
    from certmon.config import get_settings

    monkeypatch.setenv("CERTMON_DEMO", "1")
    # PostgreSQL restricts /openapi.json and /metrics (certmon/api/ops.py): the test runs from an allowed network
    monkeypatch.setenv("CERTMON_OPS_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    tokens = _prepare_demo(pg_env)
    with serving(create_app()) as port:
        yield f"http://127.0.0.1:{port}", tokens
    dispose_engines()


def _config(token: str | None, spare: str | None) -> object:
    from schemathesis.config import SchemathesisConfig

    semantic = [{"include-method": method, "include-path": path,
                 "checks": {"positive_data_acceptance": {"enabled": False}}} for method, path in SEMANTIC]
    revoke = [{"include-method": "DELETE", "include-path": "/api/v1/auth/token",
               "headers": {"Authorization": f"Bearer {spare}"}}] if spare else []
    return SchemathesisConfig.from_dict({
        "headers": {"Authorization": f"Bearer {token}"} if token else {},
        "workers": 2,
        "seed": 20261,
        "generation": {"max-examples": EXAMPLES, "mode": "all"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "continue-on-failure": True,
        "operations": semantic + revoke,
    })


def run_schemathesis(base: str, token: str | None = None, spare: str | None = None) -> Tally:
    """One schemathesis run (examples, coverage and fuzzing phases) over every operation in /openapi.json."""
    import schemathesis
    from schemathesis.engine import Status, events, from_schema

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=_config(token, spare))
    tally = Tally()
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if not isinstance(event, events.ScenarioFinished):
            continue
        recorder = event.recorder
        tally.requests += len(recorder.interactions)
        tally.statuses.update(i.response.status_code for i in recorder.interactions.values() if i.response)
        for nodes in recorder.checks.values():
            for node in nodes:
                if node.status == Status.FAILURE and node.failure_info is not None:
                    failure = node.failure_info.failure
                    samples = tally.failures.setdefault((recorder.label, node.name, failure.title), [])
                    if len(samples) < 2:
                        samples.append(f"{failure.message.strip()[:600]}\n    {node.failure_info.code_sample[:600]}")
    return tally


def test_every_operation_as_every_role_keeps_to_the_openapi_document(live_api):  # type: ignore[no-untyped-def]
    base, tokens = live_api
    report, total, server_errors, violations = [], 0, 0, 0
    for role in (*ROLES, "signed out"):
        tally = run_schemathesis(base, *tokens.get(role, []))
        total += tally.requests
        server_errors += tally.server_errors
        violations += len(tally.failures)
        report.append(f"{role}: {tally.requests} requests, statuses {dict(sorted(tally.statuses.items()))}, "
                      f"{len(tally.failures)} violations")
        report += [f"  {role} {op} [{check}] {title}\n    " + "\n    ".join(samples)
                   for (op, check, title), samples in sorted(tally.failures.items())]
    summary = f"schemathesis: {total} requests, {server_errors} server errors, {violations} schema violations"
    print(summary)
    print("\n".join(line for line in report if not line.startswith("  ")))
    assert total > 1000, summary
    assert server_errors == 0 and violations == 0, summary + "\n" + "\n".join(report)


def test_405_allows_every_method_of_the_path(live_server: str) -> None:  # noqa: F811
    r = httpx.put(f"{live_server}/api/v1/reports/1")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, PATCH"
    assert r.json() == {"detail": "metoden er ikke tillatt her"}
    r = httpx.delete(f"{live_server}/api/v1/sources")
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"


def _integers(node: Any, where: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "integer" and not ("maximum" in node and "minimum" in node):
            found.append(where)
        for key, value in node.items():
            found += _integers(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _integers(value, f"{where}/{i}")
    return found


@pytest.mark.parametrize("part", ["paths", "components"])
def test_every_integer_input_is_bounded(part: str) -> None:
    """An integer the document accepts unbounded would be refused by the database ('utenfor det databasen
    kan lagre'): inputs use `DbInt`/`DbId` (certmon/web/deps.py). Response bodies are not inputs."""
    from certmon.api.app import create_app

    doc = create_app().openapi()
    if part == "paths":
        unbounded = [w for w in _integers(doc["paths"]) if "/parameters/" in w and "/responses/" not in w]
    else:
        inputs = {ref.rsplit("/", 1)[-1] for path in doc["paths"].values() for op in path.values()
                  for ref in [op.get("requestBody", {}).get("content", {}).get("application/json", {})
                              .get("schema", {}).get("$ref", "")] if ref}
        unbounded = [w for name in inputs for w in _integers(doc["components"]["schemas"][name], name)]
    assert not unbounded, unbounded
