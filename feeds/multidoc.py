"""Sources that are several documents per run: TAXII 2.1 collections, CSAF providers, MISP feeds.

Each keeps a cursor on its source and fetches at most `options.max_documents` documents per run,
oldest first, so a large backlog is worked through over several runs without skipping anything:

- TAXII: the server's `added_after` date (see `feeds/taxii.py`);
- CSAF and MISP: `"<timestamp>|<id>"`, the (timestamp, id) of the last document collected. The next
  run takes the entries strictly after that pair in (timestamp, id) order, so documents sharing the
  cut-off timestamp are neither skipped nor fetched twice. An older plain-timestamp cursor reads as
  (timestamp, ""), which fetches the documents with exactly that timestamp once more.

A run also stops starting new documents after `options.max_run_seconds` (each fetch has its own
deadline on top); the cursor then points at the last document collected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import UTC, datetime
from urllib.parse import urljoin

from certmon.config import get_settings
from certmon.errors import FeedParseError
from certmon.sources.models import Source
from certmon.sources.service import source_credentials
from feeds.collect_types import Document, Fetched
from feeds.fetcher import fetch

log = logging.getLogger(__name__)

DEFAULT_MAX_DOCUMENTS = 100
DEFAULT_MAX_RUN_SECONDS = 600.0
CURSOR_SEPARATOR = "|"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _auth(source: Source) -> tuple[str, str] | None:
    return source_credentials(source)  # only CERTMON_FEED_SECRET_* variables, as for single documents


def _option(source: Source, name: str, default: float) -> float:
    return float((source.options or {}).get(name, default))


def split_cursor(cursor: str | None) -> tuple[str, str]:
    """(timestamp, id) of a stored cursor; an old plain timestamp reads as (timestamp, "")."""
    timestamp, _, ident = (cursor or "").partition(CURSOR_SEPARATOR)
    return timestamp, ident


def join_cursor(timestamp: str, ident: str) -> str:
    """The cursor string for the document with this (timestamp, id)."""
    return f"{timestamp}{CURSOR_SEPARATOR}{ident}"


def is_multidoc(source: Source) -> bool:
    """True for formats/URLs that name an index of documents rather than one document."""
    url = source.url.rstrip("/")
    return (source.format == "taxii21"
            or (source.format == "csaf" and url.endswith("provider-metadata.json"))
            or (source.format in ("misp", "misp-feed") and url.endswith("manifest.json")))


def fetch_multidoc(source: Source) -> Fetched:
    """Fetch the documents that are new since the source's cursor."""
    if source.format == "taxii21":
        return _taxii(source)
    if source.format == "csaf":
        return _csaf(source)
    return _misp(source)


def _taxii(source: Source) -> Fetched:
    from feeds.taxii import collect_taxii

    user, password = _auth(source) or (None, None)
    batch = collect_taxii(source.url, added_after=source.cursor, user=user, password=password,
                          allow_internal=source.internal, max_pages=int(_option(source, "max_documents",
                                                                                DEFAULT_MAX_DOCUMENTS)),
                          max_bytes=get_settings().fetch_max_bytes,
                          max_duration=_option(source, "max_run_seconds", DEFAULT_MAX_RUN_SECONDS))
    docs = [Document(page, filename=f"taxii-page-{n}.json", url=source.url) for n, page in enumerate(batch.pages)]
    return Fetched(documents=docs, cursor=batch.next_added_after or source.cursor)


def _fetch_in_order(source: Source, wanted: list[tuple[str, str, str]]) -> Fetched:
    """Fetch (cursor timestamp, id, url) entries in order until the limits; cursor = the last fetched."""
    limit = int(_option(source, "max_documents", DEFAULT_MAX_DOCUMENTS))
    stop_at = time.monotonic() + _option(source, "max_run_seconds", DEFAULT_MAX_RUN_SECONDS)
    docs: list[Document] = []
    cursor = source.cursor
    for timestamp, ident, url in wanted[:limit]:
        if docs and time.monotonic() >= stop_at:
            log.warning("%s: run time limit reached after %d documents; the cursor resumes next run",
                        source.name, len(docs))
            break
        result = fetch(url, allow_internal=source.internal, auth=_auth(source),
                       max_bytes=get_settings().fetch_max_bytes)
        docs.append(Document(result.content, filename=url.rsplit("/", 1)[-1], url=result.final_url,
                             content_type=result.content_type))
        cursor = join_cursor(timestamp, ident)
    return Fetched(documents=docs, cursor=cursor)


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _csaf(source: Source) -> Fetched:
    from feeds.csaf_discovery import discover_csaf, parse_timestamp

    publishers = (source.options or {}).get("publishers")  # a list of words, or one comma-separated text
    if isinstance(publishers, str):
        publishers = publishers.split(",")
    refs = discover_csaf(source.url, allow_internal=source.internal, auth=_auth(source),
                         max_bytes=get_settings().fetch_max_bytes,
                         publishers=[str(p) for p in publishers] if isinstance(publishers, list) else None,
                         max_duration=_option(source, "max_run_seconds", DEFAULT_MAX_RUN_SECONDS))
    floor = datetime.min.replace(tzinfo=UTC)
    cursor_time, cursor_id = split_cursor(source.cursor)
    after = (parse_timestamp(cursor_time) or floor, cursor_id)
    wanted = []
    for ref in refs:
        updated = parse_timestamp(ref.updated)
        if updated is None:  # cannot be placed in the cursor order
            log.warning("%s: CSAF reference %s has no usable 'updated'; skipped", source.name, ref.url)
            continue
        ident = hashlib.sha256(ref.url.encode()).hexdigest()[:24]  # fits the cursor column for any URL
        if (updated, ident) > after:
            wanted.append((updated, ident, ref.url))
    wanted.sort()
    return _fetch_in_order(source, [(_utc_text(t), ident, url) for t, ident, url in wanted])


def _misp_timestamp(meta: object) -> int | None:
    try:
        return int(meta.get("timestamp", 0)) if isinstance(meta, dict) else None
    except (TypeError, ValueError):
        return None


def _misp(source: Source) -> Fetched:
    manifest = fetch(source.url, allow_internal=source.internal, auth=_auth(source),
                     max_bytes=get_settings().fetch_max_bytes)
    try:
        entries = json.loads(manifest.content)
    except ValueError as exc:
        raise FeedParseError(f"manifest.json er ikke gyldig JSON: {exc}") from None
    if not isinstance(entries, dict):
        raise FeedParseError("manifest.json er ikke et JSON-objekt (uuid → metadata)")
    cursor_time, cursor_id = split_cursor(source.cursor)
    after = (int(cursor_time) if cursor_time.isdigit() else 0, cursor_id)
    wanted = []
    for uuid, meta in entries.items():
        timestamp = _misp_timestamp(meta)
        if timestamp is None or not _UUID.match(uuid):  # a key is joined into a URL: UUIDs only
            log.warning("%s: manifest entry %r skipped (not a UUID with a timestamp)", source.name, uuid)
            continue
        if (timestamp, uuid) > after:
            wanted.append((timestamp, uuid))
    wanted.sort()
    return _fetch_in_order(source, [(str(t), uuid, urljoin(manifest.final_url, f"{uuid}.json"))
                                    for t, uuid in wanted])
