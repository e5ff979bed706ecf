"""CSAF 2.0 discovery: provider-metadata.json → ROLIE feeds or directory changes.csv → advisory URLs.

An aggregator or lister (`aggregator.json`, CSAF 2.0 section 7.1.21) is one step up: it names many
providers' provider-metadata.json (and, for publishers, the aggregator's mirrors of them), each
discovered in turn; `publishers` keeps only those whose name or namespace contains one of the words.

The parsing functions are pure (bytes in, references out); `discover_csaf` fetches through the shared
fetcher (or any function with its signature) so the SSRF guard and limits apply to every hop.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from certmon.errors import FeedError, FeedParseError
from certmon.tlp import TLP, parse_tlp
from feeds.fetcher import FetchResult, fetch

log = logging.getLogger(__name__)

FetchFunc = Callable[..., FetchResult]


@dataclass(frozen=True)
class CsafDocRef:
    """One advisory document to collect; `updated` lets the collector skip unchanged ones."""

    url: str
    updated: str | None = None
    tlp: TLP | None = None  # from the ROLIE feed's tlp_label; None = unlabeled / directory listing
    hash_url: str | None = None
    signature_url: str | None = None
    via: str = "rolie"  # "rolie" or "directory"


@dataclass(frozen=True)
class ProviderDistributions:
    """What provider-metadata.json offers: ROLIE feed URLs with their TLP, and directory URLs."""

    rolie_feeds: list[tuple[str, TLP | None]] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)


def _load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise FeedParseError(f"{what} is not a JSON object")
    return doc


def _tlp_of(label: str | None) -> TLP | None:
    if not label or label.strip().upper() == "UNLABELED":
        return None
    return parse_tlp(label)


def parse_timestamp(value: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when no offset is given), or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_provider_metadata(
    data: bytes, *, base_url: str = "", max_tlp: TLP = TLP.GREEN
) -> ProviderDistributions:
    """ROLIE feed URLs (those labelled at most `max_tlp`, or unlabeled) and directory URLs."""
    doc = _load_json(data, "provider-metadata.json")
    feeds: list[tuple[str, TLP | None]] = []
    directories: list[str] = []
    for dist in doc.get("distributions") or []:
        if not isinstance(dist, dict):
            continue
        if dist.get("directory_url"):
            directories.append(urljoin(base_url, str(dist["directory_url"])))
        for feed in (dist.get("rolie") or {}).get("feeds") or []:
            try:
                tlp = _tlp_of(feed.get("tlp_label"))
            except ValueError:
                log.warning("skipping ROLIE feed with unknown TLP label %r", feed.get("tlp_label"))
                continue
            if feed.get("url") and (tlp is None or tlp <= max_tlp):
                feeds.append((urljoin(base_url, str(feed["url"])), tlp))
    return ProviderDistributions(rolie_feeds=feeds, directories=directories)


def _links(entry: dict[str, Any]) -> dict[str, str]:
    links: dict[str, str] = {}
    for link in entry.get("link") or []:
        if isinstance(link, dict) and link.get("href") and link.get("rel") not in links:
            links[str(link.get("rel"))] = str(link["href"])
    return links


def newest_first(refs: Iterable[CsafDocRef]) -> list[CsafDocRef]:
    """Deduplicate by URL (keeping the latest `updated`) and order newest first, undated last."""
    best: dict[str, CsafDocRef] = {}
    floor = datetime.min.replace(tzinfo=UTC)
    for ref in refs:
        old = best.get(ref.url)
        if old is None or (parse_timestamp(ref.updated) or floor) > (parse_timestamp(old.updated) or floor):
            best[ref.url] = ref
    return sorted(best.values(), key=lambda r: parse_timestamp(r.updated) or floor, reverse=True)


def parse_rolie_feed(data: bytes, *, base_url: str = "", tlp: TLP | None = None) -> list[CsafDocRef]:
    """Advisory references from a CSAF ROLIE feed (`feed.entry[]`), newest first."""
    feed = _load_json(data, "ROLIE feed").get("feed")
    if not isinstance(feed, dict):
        raise FeedParseError("ROLIE feed has no 'feed' object")
    refs = []
    for entry in feed.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        links = _links(entry)
        url = links.get("self") or (entry.get("content") or {}).get("src")
        if not url:
            log.warning("ROLIE entry %r has neither a self link nor content.src", entry.get("id"))
            continue
        hash_url = links.get("hash")
        refs.append(CsafDocRef(
            url=urljoin(base_url, str(url)), updated=entry.get("updated") or entry.get("published"), tlp=tlp,
            hash_url=urljoin(base_url, hash_url) if hash_url else None,
            signature_url=urljoin(base_url, links["signature"]) if "signature" in links else None,
        ))
    return newest_first(refs)


def parse_changes_csv(data: bytes, *, directory_url: str) -> list[CsafDocRef]:
    """Advisory references from a directory distribution's changes.csv (`path,timestamp`), newest first."""
    base = directory_url if directory_url.endswith("/") else directory_url + "/"
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FeedParseError(f"changes.csv at {base} is unreadable: {exc}") from exc
    refs = []
    for number, row in enumerate(rows, start=1):
        if not row or not row[0].strip():
            continue
        if len(row) < 2 or parse_timestamp(row[1]) is None:
            raise FeedParseError(
                f"changes.csv at {base}, row {number}: expected 'path,timestamp', got {row!r}"
            )
        url = urljoin(base, row[0].strip())
        refs.append(CsafDocRef(url=url, updated=row[1].strip(), hash_url=url + ".sha512",
                               signature_url=url + ".asc", via="directory"))
    return newest_first(refs)


def _newer_than(refs: list[CsafDocRef], since: str | datetime | None) -> list[CsafDocRef]:
    limit = parse_timestamp(since) if isinstance(since, str) else since
    if limit is None:
        return refs
    if limit.tzinfo is None:
        limit = limit.replace(tzinfo=UTC)
    kept = []
    for ref in refs:
        updated = parse_timestamp(ref.updated)
        if updated is None or updated > limit:  # undated ones cannot be judged, so keep them
            kept.append(ref)
    return kept


@dataclass(frozen=True)
class AggregatedProvider:
    """One provider or publisher an aggregator lists: where its provider-metadata.json may be read."""

    name: str
    namespace: str
    urls: tuple[str, ...]  # in the order to try: a provider's own first, a publisher's mirrors first


def is_aggregator(doc: object) -> bool:
    """Whether a JSON document is a CSAF aggregator or lister (`aggregator.json`)."""
    return (isinstance(doc, dict) and isinstance(doc.get("aggregator"), dict)
            and isinstance(doc.get("csaf_providers"), list) and "document" not in doc)


def parse_aggregator(data: bytes | dict[str, Any], *, base_url: str = "") -> list[AggregatedProvider]:
    """The providers (own metadata first, then mirrors) and publishers (mirrors first) an aggregator lists."""
    doc = _load_json(data, "aggregator.json") if isinstance(data, bytes) else data
    if not is_aggregator(doc):
        raise FeedParseError("aggregator.json has no 'aggregator' object with 'csaf_providers'")
    out: list[AggregatedProvider] = []
    seen: set[str] = set()
    for key, own_first in (("csaf_providers", True), ("csaf_publishers", False)):
        for entry in doc.get(key) or []:
            meta = entry.get("metadata") if isinstance(entry, dict) else None
            if not isinstance(meta, dict):
                continue
            found = meta.get("publisher")
            publisher: dict[str, Any] = found if isinstance(found, dict) else {}
            own = [urljoin(base_url, meta["url"])] if isinstance(meta.get("url"), str) and meta["url"] else []
            listed = entry.get("mirrors")
            mirrors = [urljoin(base_url, m) for m in listed if isinstance(m, str) and m] \
                if isinstance(listed, list) else []
            urls = tuple(dict.fromkeys(own + mirrors if own_first else mirrors + own))
            namespace = str(publisher.get("namespace") or "").strip().rstrip("/").lower()
            names = set(urls) | ({"ns:" + namespace} if namespace else set())
            if urls and not names & seen:  # a provider also listed as a publisher is read once
                seen |= names
                out.append(AggregatedProvider(str(publisher.get("name") or ""), namespace, urls))
            if len(out) >= MAX_PROVIDERS:
                log.warning("aggregator lists more than %d providers; the rest are left out", MAX_PROVIDERS)
                return out
    return out


MAX_PROVIDERS = 500  # an aggregator listing more is not read past this


def _wanted(provider: AggregatedProvider, publishers: list[str] | None) -> bool:
    """Whether one of the words is a whole word of the publisher's name, the name itself, or a label of
    its namespace's host other than the top-level one ('siemens' for www.siemens.de, but not 'de')."""
    if not publishers:
        return True
    name = provider.name.lower()
    host = urlsplit(provider.namespace).hostname or ""
    words = set(re.findall(r"[\w-]+", name)) | set(host.split(".")[:-1]) | {name, host}
    return any(word.strip().lower() in words for word in publishers if word.strip())


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def discover_csaf(
    url: str, fetch: FetchFunc = fetch, since: str | datetime | None = None, *,
    max_tlp: TLP = TLP.GREEN, allow_internal: bool = False, auth: tuple[str, str] | None = None,
    max_bytes: int = 50_000_000, publishers: list[str] | None = None, max_duration: float = 600.0,
) -> list[CsafDocRef]:
    """All advisory references a provider (or every provider an aggregator lists) publishes, updated after
    `since`, newest first. A provider of an aggregator that cannot be read is skipped with a warning; the
    run fails only when none can."""
    options: dict[str, Any] = {"allow_internal": allow_internal, "auth": auth, "max_bytes": max_bytes}
    metadata = fetch(url, **options)
    try:
        doc = json.loads(metadata.content)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not is_aggregator(doc):
        return _newer_than(_provider_refs(metadata, fetch, options, max_tlp), since)
    providers = [p for p in parse_aggregator(doc, base_url=metadata.final_url) if _wanted(p, publishers)]
    if not providers:
        raise FeedParseError(f"the aggregator lists no provider{' matching ' + repr(publishers) if publishers else ''}")
    refs: list[CsafDocRef] = []
    failures: list[str] = []
    stop_at = time.monotonic() + max_duration
    for provider in providers:
        if time.monotonic() >= stop_at:
            log.warning("CSAF aggregator %s: discovery time limit reached; %d providers left for the next run",
                        url, len(providers) - providers.index(provider))
            break
        for candidate in provider.urls:
            # the source's credentials are for the aggregator's own host, not for every provider it names
            hop = dict(options, auth=auth if _same_origin(candidate, url) else None)
            try:
                refs.extend(_provider_refs(fetch(candidate, **hop), fetch, hop, max_tlp))
                break
            except (FeedError, ValueError, TypeError, AttributeError) as exc:
                # a broken or odd provider (FeedParseError, or JSON of the wrong shape) leaves the others intact
                log.warning("CSAF aggregator %s: provider %s at %s skipped: %s", url, provider.name or "?",
                            candidate, exc)
        else:
            failures.append(provider.name or provider.urls[0])
    if len(failures) == len(providers):
        raise FeedError(f"none of the aggregator's {len(providers)} providers could be read "
                        f"(first: {failures[0]})")
    return _newer_than(newest_first(refs), since)


def _provider_refs(metadata: FetchResult, fetch: FetchFunc, options: dict[str, Any],
                   max_tlp: TLP) -> list[CsafDocRef]:
    """The advisory references one provider-metadata.json leads to (its ROLIE feeds and directories)."""
    dists = parse_provider_metadata(metadata.content, base_url=metadata.final_url, max_tlp=max_tlp)
    refs: list[CsafDocRef] = []
    for feed_url, tlp in dists.rolie_feeds:
        result = fetch(feed_url, **options)
        refs.extend(parse_rolie_feed(result.content, base_url=result.final_url, tlp=tlp))
    for directory in dists.directories:
        changes = urljoin(directory if directory.endswith("/") else directory + "/", "changes.csv")
        try:
            result = fetch(changes, **options)
        except FeedError as exc:
            if not dists.rolie_feeds:
                raise
            log.warning("CSAF directory %s skipped (ROLIE feeds used): %s", directory, exc)
            continue
        refs.extend(parse_changes_csv(result.content, directory_url=directory))
    return newest_first(refs)
