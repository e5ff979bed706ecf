"""TAXII 2.1 server routes under /taxii2/ (read-only), per OASIS TAXII 2.1.

Every route negotiates `application/taxii+json;version=2.1` (406 otherwise), authenticates an API token
sent as HTTP Basic password (any user name) or Bearer (401 with `WWW-Authenticate` otherwise) and checks
the role; every error is a TAXII error object (`certmon/api/app.py` renders them for this prefix).

The routes are left out of the OpenAPI document: they answer the TAXII media type and TAXII error
objects, not certmon's JSON and its one error body, which the document (and its schemathesis
conformance test) describes for every route in it. docs/taxii.md describes them instead.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth.models import User
from certmon.auth.service import has_role, user_for_token
from certmon.config import get_settings
from certmon.errors import CertmonError, Forbidden, NotFound
from certmon.i18n import N_, _
from certmon.taxii import service
from certmon.taxii.service import MEDIA_STIX, MEDIA_TAXII, BadTaxiiRequest, Filters
from certmon.web.deps import EXPORTS, SessionDep, Unauthorized

PREFIX = "/taxii2"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
CHALLENGE = 'Basic realm="certmon TAXII", charset="UTF-8", Bearer realm="certmon TAXII"'
TITLES = {  # the error objects' titles; translated when rendered
    400: N_("The request is not valid"), 401: N_("Authentication required"), 403: N_("Access denied"),
    404: N_("Nothing found"), 405: N_("Method not allowed"), 406: N_("Media type not acceptable"),
    409: N_("Conflict"), 413: N_("Request too large"), 422: N_("The request is not valid"),
    429: N_("Too many requests"), 500: N_("Internal error"), 503: N_("Service unavailable"),
}


class NotAcceptable(CertmonError):
    status = 406


def error_body(status: int, description: str) -> dict[str, str]:
    """A TAXII 2.1 error object."""
    return {"title": _(TITLES.get(status, "Error")), "description": description, "http_status": str(status)}


def as_taxii_error(response: Response) -> Response:
    """certmon's error response (`{"detail": ...}`) for a TAXII path as a TAXII error object, headers kept."""
    try:
        detail = str(orjson.loads(bytes(response.body)).get("detail") or "")
    except (orjson.JSONDecodeError, AttributeError):
        detail = ""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
    if response.status_code == 401:
        headers["WWW-Authenticate"] = CHALLENGE
    return JSONResponse(error_body(response.status_code, detail), status_code=response.status_code,
                        headers=headers, media_type=MEDIA_TAXII)


def _acceptable(header: str) -> bool:
    """Whether an Accept header admits the TAXII 2.1 media type (no header admits everything)."""
    if not header.strip():
        return True
    for part in header.split(","):
        media, *raw = (p.strip() for p in part.split(";"))
        params = {k.strip().lower(): v.strip().strip('"') for k, _s, v in (p.partition("=") for p in raw)}
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        media = media.lower()
        if media in ("*/*", "application/*"):
            return True
        if media == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


def negotiated(request: Request) -> None:
    """406 unless the client accepts `application/taxii+json;version=2.1`."""
    if not _acceptable(request.headers.get("accept", "")):
        raise NotAcceptable(_("This server answers only %(media)s.") % {"media": MEDIA_TAXII})


def _token(header: str) -> str | None:
    scheme, _s, credentials = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "token"):  # `Token`: taxii2-client's TokenAuth (OpenCTI's use_token)
        return credentials.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, colon, password = decoded.partition(":")
        return password if colon and password else None
    return None


def taxii_user(request: Request, session: SessionDep, _accept: Annotated[None, Depends(negotiated)]) -> User:
    """The caller, by an API token as Basic password, Bearer or Token; staff and constituents' own users only."""
    header = request.headers.get("authorization", "")
    token = _token(header) if header else None
    if token is None:
        raise Unauthorized(_("Sign in with an API key: HTTP Basic with the key as password, or Bearer."))
    user = user_for_token(session, token)
    if user is None:
        raise Unauthorized(_("The API key is unknown or revoked."))
    if not (has_role(user, "reader", "analyst") or user.role == "constituent"):
        raise Forbidden(_("The role %(role)s has no TAXII collections.") % {"role": user.role})
    return user


TaxiiUser = Annotated[User, Depends(taxii_user)]


def _taxii(body: Any, headers: dict[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content=content, media_type=MEDIA_TAXII, headers=headers)


def _root_url(request: Request) -> str:
    base = get_settings().base_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}{PREFIX}/{service.API_ROOT}/"


def _check_root(api_root: str) -> None:
    if api_root != service.API_ROOT:
        raise NotFound(_("There is no API root %(root)s here.") % {"root": api_root[:60]})


@router.get("/")
def discovery(request: Request, user: TaxiiUser) -> Response:
    """Server discovery: the one API root."""
    root = _root_url(request)
    return _taxii({"title": _("Helse- og KommuneCERT TAXII"),
                   "description": _("Indicators from Helse- og KommuneCERT, bounded by your TLP clearance."),
                   "contact": get_settings().mail_from, "default": root, "api_roots": [root]})


@router.get("/{api_root}/")
def api_root_information(api_root: str, user: TaxiiUser) -> Response:
    """The API root's information."""
    _check_root(api_root)
    return _taxii({"title": _("Indicators from Helse- og KommuneCERT"),
                   "description": _("Read-only collections; which ones depends on your role and TLP clearance."),
                   "versions": [MEDIA_TAXII], "max_content_length": 0})


def _collection_json(c: service.TaxiiCollection) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "description": c.description, "can_read": True, "can_write": False,
            "media_types": [MEDIA_STIX]}


@router.get("/{api_root}/collections/")
def collections(api_root: str, session: SessionDep, user: TaxiiUser) -> Response:
    """The caller's collections."""
    _check_root(api_root)
    return _taxii({"collections": [_collection_json(c) for c in service.collections_for(session, user)]})


@router.get("/{api_root}/collections/{collection_id}/")
def collection(api_root: str, collection_id: str, session: SessionDep, user: TaxiiUser) -> Response:
    """One of the caller's collections."""
    _check_root(api_root)
    return _taxii(_collection_json(service.find_collection(session, user, collection_id)))


def _listed(request: Request, name: str) -> list[str]:
    return [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]


def filters(request: Request, *, paged: bool = True) -> Filters:
    """The TAXII query parameters (`added_after`, `limit`, `next`, `match[...]`); 400 for unreadable ones."""
    q = request.query_params
    f = Filters(ids=_listed(request, "match[id]"), types=_listed(request, "match[type]"),
                versions=_listed(request, "match[version]"), spec_versions=_listed(request, "match[spec_version]"))
    if q.get("added_after"):
        f.added_after = service.parse_timestamp(q["added_after"], "added_after")
    if paged and q.get("limit"):
        try:
            limit = int(q["limit"])
        except ValueError:
            limit = 0
        if limit < 1:
            raise BadTaxiiRequest(_("limit must be a whole number of at least 1"))
        f.limit = min(limit, service.MAX_PAGE)
    if paged and q.get("next"):
        f.after = service.decode_next(q["next"])
    return f


def _page_headers(page: service.Page) -> dict[str, str]:
    if not page.entries:
        return {}
    return {"X-TAXII-Date-Added-First": service.taxii_time(page.entries[0].date_added),
            "X-TAXII-Date-Added-Last": service.taxii_time(page.entries[-1].date_added)}


def _envelope(session: Session, page: service.Page) -> Response:
    names = service.source_names(session, page.entries)
    head = b'{"more":' + (b"true" if page.more else b"false")
    if page.next:
        head += b',"next":' + orjson.dumps(page.next)
    if page.entries:
        built = [text for text in (service.stix_json(e, names) for e in page.entries) if text is not None]
        head += b',"objects":[' + ",".join(built).encode() + b"]"
    return _taxii(head + b"}", _page_headers(page))


@router.get("/{api_root}/collections/{collection_id}/objects/", openapi_extra=EXPORTS)
def objects(api_root: str, collection_id: str, request: Request, session: SessionDep, user: TaxiiUser) -> Response:
    """A page of the collection's objects (keyset paging by `next`; `added_after` and match filters)."""
    _check_root(api_root)
    c = service.find_collection(session, user, collection_id)
    f = filters(request)
    page = service.page_of(session, c, f)
    if f.after is None:  # a poll is audited once, at its first page
        record(session, actor=user.email, action="taxii.objects", entity_type="taxii-collection", entity_id=c.id,
               count=len(page.entries), more=page.more,
               added_after=service.taxii_time(f.added_after) if f.added_after else None)
    return _envelope(session, page)


@router.post("/{api_root}/collections/{collection_id}/objects/")
def add_objects(api_root: str, collection_id: str, session: SessionDep, user: TaxiiUser) -> Response:
    """Writing is not offered: 403 for a collection the caller reads (can_write is false), else 404."""
    _check_root(api_root)
    service.find_collection(session, user, collection_id)
    raise Forbidden(_("The collections are read-only (can_write is false)."))


@router.get("/{api_root}/collections/{collection_id}/objects/{object_id}/", openapi_extra=EXPORTS)
def get_object(api_root: str, collection_id: str, object_id: str, request: Request, session: SessionDep,
               user: TaxiiUser) -> Response:
    """One object of the collection by its STIX id."""
    _check_root(api_root)
    c = service.find_collection(session, user, collection_id)
    return _envelope(session, service.find_object(session, c, object_id, filters(request, paged=False)))


@router.delete("/{api_root}/collections/{collection_id}/objects/{object_id}/")
def delete_object(api_root: str, collection_id: str, object_id: str, session: SessionDep,
                  user: TaxiiUser) -> Response:
    """Deleting is not offered: 403 for a collection the caller reads, else 404."""
    _check_root(api_root)
    service.find_collection(session, user, collection_id)
    raise Forbidden(_("The collections are read-only (can_write is false)."))


@router.get("/{api_root}/collections/{collection_id}/objects/{object_id}/versions/")
def object_versions(api_root: str, collection_id: str, object_id: str, request: Request, session: SessionDep,
                    user: TaxiiUser) -> Response:
    """The versions of one object (certmon keeps the current one)."""
    _check_root(api_root)
    c = service.find_collection(session, user, collection_id)
    f = filters(request, paged=False)
    page = service.find_object(session, c, object_id, Filters(spec_versions=f.spec_versions, versions=["all"]))
    if f.added_after is not None:
        page.entries = [e for e in page.entries if e.date_added > f.added_after]
    return _taxii({"more": False, "versions": [e.version for e in page.entries]}, _page_headers(page))


@router.get("/{api_root}/collections/{collection_id}/manifest/")
def manifest(api_root: str, collection_id: str, request: Request, session: SessionDep, user: TaxiiUser) -> Response:
    """A page of the collection's manifest: id, date added, version and media type of each object."""
    _check_root(api_root)
    c = service.find_collection(session, user, collection_id)
    page = service.page_of(session, c, filters(request))
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if page.entries:
        body["objects"] = [{"id": e.stix_id, "date_added": service.taxii_time(e.date_added), "version": e.version,
                            "media_type": MEDIA_STIX} for e in page.entries]
    return _taxii(body, _page_headers(page))


@router.get("/{api_root}/status/{status_id}/")
def status(api_root: str, status_id: str, user: TaxiiUser) -> Response:
    """No status resources exist: nothing is ever written here."""
    _check_root(api_root)
    raise NotFound(_("There is no status %(id)s: this server accepts no objects.") % {"id": status_id[:60]})
