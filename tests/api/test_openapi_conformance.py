"""The OpenAPI document tells the truth: schemathesis against the running app (uvicorn on loopback), every
operation, signed in as each role; no server error, and every status, content type and body as documented.

Also: 405 names every method the path has, and every integer the document accepts fits the database."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as st_checks
from schemathesis.core.failures import FailureGroup

from certmon.auth.models import User
from certmon.auth.service import issue_token
from certmon.db import session_factory
from certmon.demo.load import DEMO_USERS
from tests.dashboards.conftest import live_server, prepared_db  # noqa: F401 - fixtures

CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance, st_checks.content_type_conformance,
          st_checks.response_schema_conformance]
EXAMPLES = int(os.environ.get("CERTMON_SCHEMATHESIS_EXAMPLES", "8"))
# Revoking the caller's own token is run last, so the role's other operations still run signed in
LAST = ("DELETE /api/v1/auth/token", "DELETE /api/v1/auth/sessions")
DB_INT = 2**31 - 1


def _tokens() -> dict[str, str]:
    with session_factory().begin() as session:
        return {role: issue_token(session, user=session.query(User).filter_by(email=email).one(), name="st")
                for email, role, _ in DEMO_USERS}


def _run(operation: Any, headers: dict[str, str], tally: Counter[str], problems: list[str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        tally["requests"] += 1
        if response.status_code >= 500:
            tally["server errors"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                tally["violations"] += 1
                problems.append(f"{operation.label} [{response.status_code}]: {failure.title}: "
                                f"{str(failure.message)[:300]}")
        except AssertionError as exc:  # a single failure
            tally["violations"] += 1
            problems.append(f"{operation.label} [{response.status_code}]: {str(exc)[:300]}")

    run()


def test_every_operation_as_every_role_keeps_the_document(live_server: str) -> None:  # noqa: F811
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    schema.config.base_url = live_server
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: op.label in LAST)
    tally: Counter[str] = Counter()
    problems: list[str] = []
    tokens = _tokens()
    for role in ("admin", "analyst", "reader", "constituent"):
        for operation in operations:
            _run(operation, {"Authorization": f"Bearer {tokens[role]}"}, tally, problems)
    for operation in operations:  # and signed out
        _run(operation, {}, tally, problems)
    print(f"\nschemathesis: {len(operations)} operations, {tally['requests']} requests, "
          f"{tally['server errors']} server errors, {tally['violations']} violations")
    for problem in dict.fromkeys(problems):
        print(problem.replace("\n", " | "))
    assert not problems, f"{len(problems)} violations (printed above)"
    assert tally["requests"] >= 4 * len(operations)


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
