"""The one HTTP fetcher every collector uses: conditional GET, size limits, SSRF guard, polite retries."""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from certmon import __version__
from certmon.errors import FeedTooLarge, FeedUnavailable
from feeds.netguard import GuardedTransport, check_url

log = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/helse-kommunecert/certmon"
USER_AGENT = f"certmon/{__version__} (+{PROJECT_URL})"
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_CODES = frozenset({429, 502, 503, 504})
TRANSIENT_ERRORS = (httpx.TransportError,)  # connect/read/write errors and timeouts, protocol errors
_CHUNK = 64 * 1024

_polite_lock = threading.Lock()
_next_slot: dict[str, float] = {}
_politeness_interval = 1.0
_sleep = time.sleep  # replaced in tests to observe waits without waiting


@dataclass(frozen=True)
class FetchResult:
    """What one fetch produced; `content` is the decoded body (empty when not modified)."""

    status: Literal["ok", "not-modified"]
    content: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    final_url: str
    sha256: str
    elapsed: float
    http_status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # response headers, lower-case names


class HttpStatusError(FeedUnavailable):
    """The server answered with an HTTP error status; `http_status` holds it."""

    def __init__(self, message: str, *, http_status: int, transient: bool = False) -> None:
        super().__init__(message, transient=transient)
        self.http_status = http_status


class _Transient(Exception):
    """Internal: an attempt failed in a way worth retrying."""

    def __init__(self, reason: str, retry_after: float | None = None, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.http_status = http_status


class _Deadline:
    """The end of one `fetch()` call's time budget (connect, reads, redirects, waits and retries)."""

    def __init__(self, seconds: float, url: str) -> None:
        self.seconds = seconds
        self.url = url
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    def exceeded(self, detail: str = "") -> FeedUnavailable:
        """The error to raise when the budget is used up (transient: the next run may be luckier)."""
        suffix = f" (last problem: {detail})" if detail else ""
        return FeedUnavailable(
            f"{redact_url(self.url)} took longer than the limit of {self.seconds:g} s for one fetch "
            f"(max_duration){suffix}", transient=True)

    def check(self) -> None:
        """Raise when the budget is used up."""
        if self.remaining() <= 0:
            raise self.exceeded()

    def timeout(self, connect: float, read: float) -> httpx.Timeout:
        """Per-operation timeouts, none longer than what is left of the budget."""
        left = self.remaining()
        if left <= 0:
            raise self.exceeded()
        return httpx.Timeout(connect=min(connect, left), read=min(read, left), write=min(read, left),
                             pool=min(connect, left))


def set_politeness_interval(seconds: float) -> None:
    """Set the minimum time between two requests to the same host (process-wide; 0 disables).

    Setting the value it already has keeps the reserved per-host slots, so callers may set it at
    the start of every run without undoing the spacing of runs in other threads.
    """
    global _politeness_interval
    seconds = max(0.0, seconds)
    with _polite_lock:
        if seconds == _politeness_interval:
            return
        _politeness_interval = seconds
        _next_slot.clear()


def _polite_wait(host: str, deadline: _Deadline) -> None:
    """Reserve the next request slot for `host` and sleep until it comes (thread-safe)."""
    with _polite_lock:
        now = time.monotonic()
        slot = max(now, _next_slot.get(host, 0.0))
        if slot >= deadline.at:  # do not take a slot this fetch could never use
            raise deadline.exceeded(f"politeness wait of {slot - now:.1f} s for {host}")
        _next_slot[host] = slot + _politeness_interval
    if slot > now:
        _sleep(slot - now)


def redact_url(url: str) -> str:
    """The URL without user:password and secret query parameters, so it can be logged or shown."""
    from certmon.logsafety import redact_secrets

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return redact_secrets(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return redact_secrets(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _BoundedDecoder:
    """Decode gzip/deflate/identity incrementally without ever producing more than one chunk at once."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._obj: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding not in ("", "identity", "deflate"):
            raise FeedUnavailable(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield decoded pieces of `data`, each at most 64 KiB."""
        if not self.encoding or self.encoding == "identity":
            yield data
            return
        if self._obj is None:  # deflate: zlib-wrapped per RFC, but servers often send raw deflate
            zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        try:
            while data:
                piece = self._obj.decompress(data, _CHUNK)
                data = self._obj.unconsumed_tail
                if self._obj.eof and self._obj.unused_data and self.encoding != "deflate":
                    data = self._obj.unused_data + data  # next gzip member
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if piece:
                    yield piece
        except zlib.error as exc:
            raise FeedUnavailable(f"corrupt {self.encoding} body: {exc}") from exc


def _read_limited(resp: httpx.Response, max_bytes: int, deadline: _Deadline) -> bytes:
    """Read and decode the body, aborting once the decoded size passes `max_bytes` or time runs out."""
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    declared = resp.headers.get("content-length", "")
    if encoding in ("", "identity") and declared.isdigit() and int(declared) > max_bytes:
        raise FeedTooLarge(f"the body is {int(declared)} bytes, over the limit of {max_bytes} bytes")
    decoder = _BoundedDecoder(encoding)
    parts: list[bytes] = []
    total = 0
    for raw in resp.iter_raw(_CHUNK):
        deadline.check()  # a server trickling bytes within the read timeout is stopped here
        for piece in decoder.feed(raw):
            total += len(piece)
            if total > max_bytes:
                raise FeedTooLarge(f"the (decoded) body is over the limit of {max_bytes} bytes")
            parts.append(piece)
    return b"".join(parts)


def _same_origin(a: str, b: str) -> bool:
    pa, pb = httpx.URL(a), httpx.URL(b)
    return (pa.scheme, pa.host, pa.port) == (pb.scheme, pb.host, pb.port)


def _request_headers(etag: str | None, last_modified: str | None, extra: dict[str, str] | None) -> dict:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    headers.update(extra or {})
    return headers


def _result(resp: httpx.Response, content: bytes, started: float, ok: bool) -> FetchResult:
    return FetchResult(
        status="ok" if ok else "not-modified",
        content=content,
        etag=resp.headers.get("etag"),
        last_modified=resp.headers.get("last-modified"),
        content_type=resp.headers.get("content-type"),
        final_url=str(resp.url),
        sha256=hashlib.sha256(content).hexdigest(),
        elapsed=time.monotonic() - started,
        http_status=resp.status_code,
        headers={k.lower(): v for k, v in resp.headers.items()},
    )


def _handle_status(resp: httpx.Response, url: str) -> None:
    """Raise for statuses that are neither success, redirect nor 304."""
    code = resp.status_code
    if code in TRANSIENT_CODES:
        raise _Transient(f"HTTP {code}", parse_retry_after(resp.headers.get("retry-after")), code)
    if not 200 <= code < 300:
        hint = " (check the source's credentials)" if code in (401, 403) else ""
        raise HttpStatusError(
            f"HTTP {code} {resp.reason_phrase} from {redact_url(url)}{hint}", http_status=code
        )


def _attempt(
    client: httpx.Client, url: str, headers: dict, auth: tuple[str, str] | None, *,
    allow_internal: bool, max_redirects: int, max_bytes: int, deadline: _Deadline,
    timeouts: tuple[float, float],
) -> FetchResult:
    """One attempt: follow redirects by hand (each hop re-checked) and read the body."""
    started = time.monotonic()
    current = url
    for _hop in range(max_redirects + 1):
        _polite_wait(httpx.URL(current).host, deadline)
        log.debug("GET %s", redact_url(current))
        with client.stream("GET", current, headers=headers, auth=auth,
                           timeout=deadline.timeout(*timeouts)) as resp:
            if resp.status_code in REDIRECT_CODES and "location" in resp.headers:
                target = str(resp.url.join(resp.headers["location"]))
                check_url(target, allow_internal=allow_internal)
                if not _same_origin(current, target):  # never hand credentials to another origin
                    auth = None
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                current = target
                continue
            if resp.status_code == 304:
                return _result(resp, b"", started, ok=False)
            _handle_status(resp, current)
            return _result(resp, _read_limited(resp, max_bytes, deadline), started, ok=True)
    raise FeedUnavailable(f"more than {max_redirects} redirects starting at {redact_url(url)}")


def fetch(
    url: str, *, etag: str | None = None, last_modified: str | None = None,
    allow_internal: bool = False, max_bytes: int = 50_000_000, connect_timeout: float = 10,
    read_timeout: float = 30, max_redirects: int = 5, retries: int = 2,
    auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
    backoff: float = 1.0, max_retry_after: float = 120.0, verify: bool = True,
    max_duration: float = 120.0,
) -> FetchResult:
    """GET `url` with the SSRF guard, limits and retries; raise a FeedError subclass on failure."""
    check_url(url, allow_internal=allow_internal)
    deadline = _Deadline(max_duration, url)
    timeout = deadline.timeout(connect_timeout, read_timeout)
    request_headers = _request_headers(etag, last_modified, headers)
    for attempt in range(retries + 1):
        try:
            transport = GuardedTransport(allow_internal=allow_internal, verify=verify)
            with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False,
                              trust_env=False) as client:
                return _attempt(client, url, request_headers, auth, allow_internal=allow_internal,
                                max_redirects=max_redirects, max_bytes=max_bytes, deadline=deadline,
                                timeouts=(connect_timeout, read_timeout))
        except _Transient as exc:
            failure = exc
        except TRANSIENT_ERRORS as exc:
            failure = _Transient(f"{type(exc).__name__}: {exc or 'no details'}")
        except httpx.HTTPError as exc:  # invalid URL, unsupported protocol, too many headers …
            raise FeedUnavailable(f"cannot fetch {redact_url(url)}: {exc}") from exc
        if deadline.remaining() <= 0:  # a timeout cut short by the budget is not worth a retry
            raise deadline.exceeded(failure.reason)
        if attempt == retries:
            break
        delay = backoff * 2**attempt
        delay = random.uniform(delay / 2, delay)
        if failure.retry_after is not None:
            delay = max(delay, min(failure.retry_after, max_retry_after))
        if delay >= deadline.remaining():
            raise deadline.exceeded(f"{failure.reason}; a retry in {delay:.1f} s would pass it")
        log.info("fetch %s failed (%s); retry %d in %.1fs", redact_url(url), failure.reason,
                 attempt + 1, delay)
        _sleep(delay)
    message = f"{redact_url(url)} failed after {retries + 1} attempts: {failure.reason}"
    if failure.http_status is not None:
        raise HttpStatusError(message, http_status=failure.http_status, transient=True)
    raise FeedUnavailable(message, transient=True)
