"""RSS 0.9x/1.0/2.0 and Atom advisories via feedparser, behind an XML entity guard.

Feed fields used: entry title, link, id/guid, published/updated, summary/content.
A feed declaring an encoding Python does not know is first re-encoded as UTF-8 by the documented
fallback in `feeds.xmlcharset`. Before feedparser sees the bytes, defusedxml refuses entity
declarations, external entities and external DTDs (XML bombs, quadratic blowup, XXE). A feed that is
merely malformed is handed to feedparser's lenient parser, which keeps what it can read; a feed with
no readable entry and a parse error is a FeedParseError, and so is any failure inside feedparser:
one message naming the file and the problem, never a traceback.
"""

from __future__ import annotations

import hashlib
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import defusedxml
import defusedxml.ElementTree as DET
import feedparser

from certmon.items.schemas import Item
from feeds.base import ParseContext
from feeds.common import fail, iso_utc, plain_text, sanitise_html
from feeds.textscan import find_cves, find_products, says_actively_exploited, severity_from_text
from feeds.xmlcharset import as_text, readable_xml

log = logging.getLogger(__name__)

_SEVERITY_SCAN = 600  # severity words count only near the top; bulletins list every level below
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)


def guard_xml(data: bytes, ctx: ParseContext) -> None:
    """Raise FeedParseError if the XML declares entities or references external ones."""
    try:
        DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden as exc:
        raise fail(ctx, "DTD", f"entity declaration refused ({exc.name!r}): possible XML bomb") from None
    except defusedxml.ExternalReferenceForbidden as exc:
        raise fail(ctx, "DTD", f"external reference refused ({exc.sysid!r})") from None
    except defusedxml.DTDForbidden:
        raise fail(ctx, "DTD", "document type declaration refused") from None
    except (ET.ParseError, ValueError, LookupError):
        # Not strict XML (or an encoding expat cannot read: multi-byte, UTF-32): feedparser may still
        # salvage it, but never with entity declarations, looked for in the text whatever its byte form.
        if _ENTITY_DECL.search(as_text(data)):
            raise fail(ctx, "DTD", "malformed XML with an entity declaration refused") from None


def parse(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """Yield one advisory per feed entry."""
    if not data.strip():
        raise fail(ctx, "", "empty feed")
    data = readable_xml(data, ctx)
    guard_xml(data, ctx)
    try:
        feed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # a lenient third-party parser on hostile input: its failures are not enumerable
        log.debug("feedparser failed on %s", ctx.filename or ctx.source_name, exc_info=True)
        raise fail(ctx, "", f"feedparser could not read it ({type(exc).__name__}: {exc})") from None
    entries = feed.get("entries") or []
    if not entries and feed.get("bozo"):
        reason = feed.get("bozo_exception") or "not a feed"
        raise fail(ctx, "", f"not a readable RSS/Atom feed: {reason}")
    if not entries and not feed.get("version") and not feed.get("feed"):
        raise fail(ctx, "", "not an RSS or Atom document")
    for entry in entries:
        item = _advisory(entry, ctx)
        if item is not None:
            yield item


def _advisory(entry: Any, ctx: ParseContext) -> Item | None:
    title = " ".join(str(entry.get("title") or "").split()) or None
    link = str(entry.get("link") or "").strip() or None
    raw_html = _body(entry)
    if not (title or link or raw_html):
        return None
    text = f"{title or ''}\n{plain_text(raw_html)}"
    key = str(entry.get("id") or "").strip() or link
    if not key:
        key = "sha1:" + hashlib.sha1((title or raw_html).encode(), usedforsecurity=False).hexdigest()
    published = iso_utc(entry.get("published_parsed")) or iso_utc(entry.get("published"))
    updated = iso_utc(entry.get("updated_parsed")) or iso_utc(entry.get("updated"))
    extra: dict[str, Any] = {}
    if says_actively_exploited(text):
        extra["actively_exploited"] = True
    return Item(
        kind="advisory",
        key=key,
        tlp=ctx.default_tlp.value_str,
        source_format="rss",
        title=title,
        url=link,
        published=published or updated,
        updated=updated,
        summary=sanitise_html(raw_html),
        cves=find_cves(text),
        products=find_products(text),
        severity=severity_from_text(text[:_SEVERITY_SCAN]),
        extra=extra,
    )


def _body(entry: Any) -> str:
    """The longest of summary and content values: feeds put the real text in either."""
    candidates = [str(entry.get("summary") or "")]
    for part in entry.get("content") or []:
        candidates.append(str(part.get("value") or ""))
    return max(candidates, key=len)
