"""The OpenAPI document, told truthfully and in one place.

Every error the JSON API answers has one body, `ErrorBody` (`{"detail": "…", "problems": [...]}`),
whichever handler wrote it (certmon's errors, request validation, database trouble, Starlette's 404/405;
see certmon/api/app.py). Which error statuses an operation can answer is derived here from what the route
is made of, so a route another module adds tomorrow is documented without anyone listing codes by hand:

- a request body: 400 (a body that cannot be read), 404 (an id named in the body) and 413 (a body over
  CERTMON_MAX_BODY_BYTES, certmon/api/bodylimit.py);
- the login dependency (`current_user`): 401, 403 (a role, a clearance or the kind of user), and the
  bearer/cookie security requirement;
- path parameters: 404;
- a database session on a writing method: 409 (a duplicate, or the object's state forbids the change);
- any parameter or body: 422 (request validation, or a value the service refuses);
- a database session: 503 with `Retry-After` (database down or every connection busy).

A route that can answer something else says so with `responses=errors(…)` (certmon/web/deps.py), and a
module adding a dependency with its own status (a rate limit's 429, a size limit's 413) appends a rule to
`STATUS_RULES`. tests/api/test_openapi_conformance.py runs schemathesis against the running app, signed in
as every role, and fails on any status, header, content type or body the document does not promise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.routing import Match

from certmon.web.deps import ERROR_DESCRIPTIONS as DESCRIPTIONS
from certmon.web.deps import RoleCheck, current_user, get_session


class ErrorBody(BaseModel):
    """The body of every error answer from the JSON API."""

    detail: str = Field(description="What was wrong, in Norwegian (bokmål), naming the input where it can.")
    problems: list[str] = Field(default_factory=list, description=(
        "Each bad field or row, e.g. `query.limit: Input should be less than or equal to 500` "
        "(request validation and imports; absent otherwise)."))


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                               "schema": {"type": "integer"}}}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAFE = frozenset({"GET", "HEAD"})
SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer",
               "description": "An API key from `POST /api/v1/auth/token` (or `certmon users token`)."},
    "session": {"type": "apiKey", "in": "cookie", "name": "certmon_session",
                "description": "The dashboard's sign-in cookie; accepted for reads only."},
}


@dataclass(frozen=True)
class RouteFacts:
    """What an operation is made of, as far as its possible errors go."""

    method: str
    calls: tuple[Any, ...]
    path_params: bool
    inputs: bool
    body: bool

    @property
    def login(self) -> bool:
        return current_user in self.calls

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for call in self.calls if isinstance(call, RoleCheck) for r in call.roles)

    @property
    def session(self) -> bool:
        return get_session in self.calls


StatusRule = tuple[int, Callable[[RouteFacts], bool]]
STATUS_RULES: list[StatusRule] = [
    (400, lambda f: f.body),
    (413, lambda f: f.body),
    (401, lambda f: f.login),
    (403, lambda f: f.login),
    (404, lambda f: f.path_params or (f.body and f.session)),
    (409, lambda f: f.session and f.method in WRITES),
    (422, lambda f: f.inputs),
    (503, lambda f: f.session),
]


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for dep in dependant.dependencies:
        yield dep
        yield from _dependants(dep)


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route as the app serves it (prefix and the router's dependencies included)."""
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def allowed_methods(app: FastAPI, scope: Any) -> set[str]:
    """Every method some route serves on this request's path (for a 405's `Allow`)."""
    methods: set[str] = set()
    for context in routing.iter_route_contexts(app.routes):
        route_methods = getattr(context, "methods", None)
        if route_methods and context.matches(scope)[0] != Match.NONE:
            methods |= set(route_methods)
    return methods


def route_facts(route: Any, method: str) -> RouteFacts:
    """The facts of one operation, read from FastAPI's dependency tree."""
    tree = [route.dependant, *_dependants(route.dependant)]
    calls = tuple(d.call for d in tree if d.call is not None)
    inputs = any(d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params
                 for d in tree)
    return RouteFacts(method=method, calls=calls, path_params=bool(route.param_convertors), inputs=inputs,
                      body=any(d.body_params for d in tree))


def _error_content(route: Any, status: int) -> dict[str, Any]:
    response_class = getattr(route.response_class, "value", route.response_class)  # a DefaultPlaceholder
    if response_class is HTMLResponse and status not in (422, 503):
        return {"text/html": {"schema": {"type": "string"}}}  # the answer page shows its own errors
    return {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def _document_operation(route: Any, method: str, op: dict[str, Any]) -> None:
    facts = route_facts(route, method)
    responses: dict[str, Any] = op.setdefault("responses", {})
    wanted = {status for status, applies in STATUS_RULES if applies(facts)}
    wanted |= {int(s) for s in responses if str(s).isdigit() and int(s) >= 400}
    if "422" in responses and not facts.inputs and 422 not in route.responses:
        wanted.discard(422)
        del responses["422"]
    for status in sorted(wanted):
        entry = responses.setdefault(str(status), {})
        if not entry.get("description") or entry["description"] in ("Validation Error", "Additional Response"):
            entry["description"] = DESCRIPTIONS.get(status, "Error")
        content = entry.get("content") or {}
        if not content or "HTTPValidationError" in str(content):
            entry["content"] = _error_content(route, status)
        if status in (429, 503):
            entry.setdefault("headers", {}).update(RETRY_AFTER)
    if facts.login:
        op["security"] = [{"apiKey": []}, {"session": []}] if method in SAFE else [{"apiKey": []}]
    if facts.roles:
        roles = " or ".join(dict.fromkeys(facts.roles))
        op["description"] = (op.get("description", "") + f"\n\nRole: {roles} (admins always).").strip()


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every operation's real error statuses, one error body and the security."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods):
            op = doc.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if op is not None:
                _document_operation(route, method, op)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    text = str(doc.get("paths"))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"/{unused}'" not in text and f"/{unused}'" not in str(schemas):
            schemas.pop(unused, None)
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    return doc


def install(app: FastAPI) -> None:
    """Serve `build_openapi` at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
