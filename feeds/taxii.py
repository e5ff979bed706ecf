"""TAXII 2.1 collection through taxii2-client, with every HTTP request going through the shared fetcher.

taxii2-client speaks `requests`; a small transport adapter hands each of its GETs to `feeds.fetcher.fetch`,
so the SSRF guard, size limits, retries and politeness apply to discovery, API-root, collection and
object URLs alike (also to URLs the server itself names in its discovery document).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import InvalidJSONError, TAXIIServiceException
from taxii2client.v21 import MEDIA_TYPE_TAXII_V21, ApiRoot, Collection

from certmon.errors import FeedError, FeedParseError, FeedUnavailable
from feeds.fetcher import FetchResult, fetch
from feeds.netguard import check_url

log = logging.getLogger(__name__)

_COLLECTION_PATH = re.compile(r"/collections/[0-9A-Fa-f-]{36}/?$")
_DROPPED_HEADERS = frozenset({"accept-encoding", "connection", "user-agent", "content-length"})


@dataclass
class TaxiiBatch:
    """Raw envelope pages from one collection run and the `added_after` cursor to store."""

    pages: list[bytes] = field(default_factory=list)
    next_added_after: str | None = None
    collections: list[str] = field(default_factory=list)  # collection URLs that were read
    truncated: bool = False  # a run limit (pages, bytes, time) stopped it; the cursor resumes there


@dataclass
class _RunLimits:
    """What one collect_taxii run may use in total, over every page of every collection."""

    max_pages: int
    max_bytes: int
    stop_at: float  # time.monotonic() value

    def spent(self, batch: TaxiiBatch) -> str | None:
        """Which limit the batch has reached, or None."""
        if len(batch.pages) >= self.max_pages:
            return f"{self.max_pages} pages"
        if sum(len(p) for p in batch.pages) >= self.max_bytes:
            return f"{self.max_bytes} bytes"
        if time.monotonic() >= self.stop_at:
            return "the run time limit"
        return None


@dataclass(frozen=True)
class TaxiiCollectionRef:
    """A collection found through discovery or an API root."""

    url: str
    id: str
    title: str
    can_read: bool


class _FetcherAdapter(BaseAdapter):
    """requests transport adapter that performs GETs with `feeds.fetcher.fetch`."""

    def __init__(self, *, allow_internal: bool, max_bytes: int) -> None:
        super().__init__()
        self.allow_internal = allow_internal
        self.max_bytes = max_bytes
        self.last: FetchResult | None = None

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        """Fetch `request` (GET only) and wrap the result as a requests.Response."""
        if request.method != "GET" or not request.url:
            raise FeedUnavailable(f"TAXII collection only reads; refused {request.method} request")
        headers = {
            k: v if isinstance(v, str) else v.decode("latin-1")
            for k, v in request.headers.items()
            if k.lower() not in _DROPPED_HEADERS
        }
        result = fetch(request.url, headers=headers, allow_internal=self.allow_internal,
                       max_bytes=self.max_bytes)
        self.last = result
        response = requests.Response()
        response.status_code = result.http_status
        response._content = result.content
        response.headers = CaseInsensitiveDict(
            {k: v for k, v in result.headers.items() if k not in ("content-encoding", "content-length")}
        )
        response.url = result.final_url
        response.encoding = "utf-8"
        response.reason = "OK"
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release: each fetch uses its own client."""


def _connection(user: str | None, password: str | None, adapter: _FetcherAdapter) -> _HTTPConnection:
    conn = _HTTPConnection(user=user, password=password, version="2.1")
    conn.session.trust_env = False
    conn.session.mount("http://", adapter)
    conn.session.mount("https://", adapter)
    return conn


def _as_dir(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _readable_collections(url: str, conn: _HTTPConnection) -> list[Collection]:
    """The collections behind a collection, API-root or discovery URL (readable ones only)."""
    if _COLLECTION_PATH.search(urlsplit(url).path):
        return [Collection(_as_dir(url), conn=conn)]
    info = conn.get(_as_dir(url), headers={"Accept": MEDIA_TYPE_TAXII_V21})
    if "api_roots" in info:
        roots = [ApiRoot(_as_dir(urljoin(url, r)), conn=conn) for r in info.get("api_roots") or []]
    elif "versions" in info:
        roots = [ApiRoot(_as_dir(url), conn=conn)]
    else:
        raise FeedParseError(f"{url} is neither a TAXII 2.1 discovery, API root nor collection URL")
    return [c for root in roots for c in root.collections if c.can_read]


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two TAXII timestamps (either may be None)."""
    if not a or not b:
        return a or b

    def key(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    try:
        return a if key(a) >= key(b) else b
    except ValueError:
        return max(a, b)


def _just_before(value: str) -> str:
    """One microsecond before a TAXII timestamp: `added_after` is strict, so this asks again for that instant."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return (dt - timedelta(microseconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _collect_collection(collection: Collection, adapter: _FetcherAdapter, batch: TaxiiBatch,
                        added_after: str | None, per_request: int, limits: _RunLimits) -> tuple[str | None, bool]:
    """Page through one collection into `batch`; return the cursor to resume from and whether a limit
    stopped it. Every collection gets at least its first page, so none is starved by another.

    `added_after` is strictly after, and a bulk upload gives many objects one `date_added`. So where
    paging or a limit cuts inside an instant, the next request (or run) asks from just before that
    instant: its objects come again (storing is idempotent) instead of being skipped. Only when a
    whole run's budget stays inside one instant does the cursor pass it, with a warning."""
    latest: str | None = None
    run_first: str | None = None
    next_token: str | None = None
    while True:
        query: dict[str, Any] = {"limit": per_request}
        if added_after:
            query["added_after"] = added_after
        if next_token:
            query["next"] = next_token
        envelope = collection.get_objects(**query)
        assert adapter.last is not None
        if envelope.get("objects"):
            batch.pages.append(adapter.last.content)
        headers = adapter.last.headers
        page_first = headers.get("x-taxii-date-added-first")
        page_last = headers.get("x-taxii-date-added-last") or page_first
        run_first = run_first or page_first
        latest = _later(latest, page_last)
        if not envelope.get("more"):
            return latest, False
        spent = limits.spent(batch)
        if spent:
            batch.truncated = True
            if latest and run_first and latest != run_first:
                log.warning("TAXII %s: stopped at %s; the next run resumes in %s", collection.url, spent, latest)
                return _just_before(latest), True
            log.warning("TAXII %s: stopped at %s inside objects that share date_added %s; any of them not "
                        "read in this run are skipped (raise the run limits)", collection.url, spent, latest)
            return latest, True
        next_token = envelope.get("next")
        if not next_token:  # servers without `next`: continue from the last instant seen
            if not latest or latest == added_after:
                return latest, False
            again = _just_before(latest) if page_first and page_first != page_last else latest
            if added_after and _later(again, added_after) == added_after:
                again = latest  # one page was one instant: move past it (cannot page inside it)
            added_after = again


def _translate(exc: Exception, url: str) -> FeedError:
    if isinstance(exc, InvalidJSONError | ValueError):
        return FeedParseError(f"TAXII server at {url} sent an invalid response: {exc}")
    return FeedUnavailable(f"TAXII request to {url} failed: {exc}")


def collect_taxii(
    collection_url: str, *, added_after: str | None, user: str | None, password: str | None,
    allow_internal: bool = False, per_request: int = 1000, max_pages: int = 1000,
    max_bytes: int = 50_000_000, max_duration: float = 600.0,
) -> TaxiiBatch:
    """Read new objects (after `added_after`) from a collection, or every readable one found by discovery.

    The limits hold for the whole run, over all collections: `max_pages` pages, `max_bytes` bytes
    (each page is also at most `max_bytes`) and `max_duration` seconds, checked after each page;
    each collection still reads its first page, so the cursor always moves on.
    """
    check_url(collection_url, allow_internal=allow_internal)
    limits = _RunLimits(max_pages=max_pages, max_bytes=max_bytes, stop_at=time.monotonic() + max_duration)
    adapter = _FetcherAdapter(allow_internal=allow_internal, max_bytes=max_bytes)
    batch = TaxiiBatch()
    complete: str | None = None  # latest date seen in collections read to the end
    cut: list[str | None] = []  # latest date seen in each collection a limit stopped
    try:
        conn = _connection(user, password, adapter)
        for collection in _readable_collections(collection_url, conn):
            batch.collections.append(collection.url)
            seen, stopped = _collect_collection(collection, adapter, batch, added_after, per_request, limits)
            if stopped:  # the shared cursor must not pass what this collection still holds
                cut.append(seen or added_after)
            else:
                complete = _later(complete, seen)
    except FeedError:
        raise
    except (TAXIIServiceException, requests.RequestException, ValueError) as exc:
        raise _translate(exc, collection_url) from exc
    batch.next_added_after = _earliest(cut) if cut else _later(complete, added_after)
    return batch


def _earliest(values: list[str | None]) -> str | None:
    """The earliest of some cursors (None, meaning 'from the beginning', is the earliest)."""
    earliest = values[0]
    for value in values[1:]:
        if earliest is None or value is None:
            return None
        if _later(earliest, value) == earliest:
            earliest = value
    return earliest


def list_taxii_collections(
    url: str, *, user: str | None, password: str | None, allow_internal: bool = False
) -> list[TaxiiCollectionRef]:
    """Every collection reachable from a discovery or API-root URL (readable or not)."""
    check_url(url, allow_internal=allow_internal)
    conn = _connection(user, password, _FetcherAdapter(allow_internal=allow_internal, max_bytes=10_000_000))
    try:
        info = conn.get(_as_dir(url), headers={"Accept": MEDIA_TYPE_TAXII_V21})
        root_urls = [urljoin(url, r) for r in info.get("api_roots") or []] if "api_roots" in info else [url]
        refs = []
        for root_url in root_urls:
            for c in ApiRoot(_as_dir(root_url), conn=conn).collections:
                refs.append(TaxiiCollectionRef(url=c.url, id=c.id, title=c.title, can_read=bool(c.can_read)))
        return refs
    except FeedError:
        raise
    except (TAXIIServiceException, requests.RequestException, ValueError) as exc:
        raise _translate(exc, url) from exc
