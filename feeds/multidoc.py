"""Sources that are several documents per run: TAXII 2.1 collections, CSAF providers, MISP feeds.

Each keeps a cursor on its source (TAXII `added_after`, the newest CSAF `updated`, the newest MISP
event timestamp) and fetches at most `options.max_documents` documents per run, oldest first, so a
large backlog is worked through over several runs without skipping anything.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urljoin

from certmon.config import get_settings
from certmon.sources.models import Source
from feeds.collect_types import Document, Fetched
from feeds.fetcher import fetch

DEFAULT_MAX_DOCUMENTS = 100


def _auth(source: Source) -> tuple[str, str] | None:
    if not source.auth_user:
        return None
    return source.auth_user, os.environ.get(source.auth_secret_env or "", "")


def _limit(source: Source) -> int:
    return int((source.options or {}).get("max_documents", DEFAULT_MAX_DOCUMENTS))


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
                          allow_internal=source.internal, max_pages=_limit(source),
                          max_bytes=get_settings().fetch_max_bytes)
    docs = [Document(page, filename=f"taxii-page-{n}.json", url=source.url) for n, page in enumerate(batch.pages)]
    return Fetched(documents=docs, cursor=batch.next_added_after or source.cursor)


def _csaf(source: Source) -> Fetched:
    from feeds.csaf_discovery import discover_csaf

    refs = discover_csaf(source.url, since=source.cursor, allow_internal=source.internal)
    refs = sorted((r for r in refs if r.updated), key=lambda r: r.updated or "")[:_limit(source)]
    docs = []
    for ref in refs:
        result = fetch(ref.url, allow_internal=source.internal, auth=_auth(source),
                       max_bytes=get_settings().fetch_max_bytes)
        docs.append(Document(result.content, filename=ref.url.rsplit("/", 1)[-1], url=result.final_url,
                             content_type=result.content_type))
    cursor = refs[-1].updated if refs else source.cursor
    return Fetched(documents=docs, cursor=cursor)


def _misp(source: Source) -> Fetched:
    settings = get_settings()
    manifest = fetch(source.url, allow_internal=source.internal, auth=_auth(source),
                     max_bytes=settings.fetch_max_bytes)
    try:
        entries = json.loads(manifest.content)
    except ValueError as exc:
        from certmon.errors import FeedParseError

        raise FeedParseError(f"manifest.json er ikke gyldig JSON: {exc}") from None
    after = int(source.cursor or 0)
    fresh = sorted(((int(meta.get("timestamp", 0)), uuid) for uuid, meta in entries.items()
                    if isinstance(meta, dict) and int(meta.get("timestamp", 0)) > after))[:_limit(source)]
    docs = []
    for _, uuid in fresh:
        url = urljoin(manifest.final_url, f"{uuid}.json")
        result = fetch(url, allow_internal=source.internal, auth=_auth(source), max_bytes=settings.fetch_max_bytes)
        docs.append(Document(result.content, filename=f"{uuid}.json", url=result.final_url,
                             content_type=result.content_type))
    cursor = str(fresh[-1][0]) if fresh else source.cursor
    return Fetched(documents=docs, cursor=cursor)
