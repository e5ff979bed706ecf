"""The format registry for `certmon parse --format NAME`, format sniffing for `auto`, and parse_bytes."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from importlib import import_module

from certmon.errors import FeedParseError
from certmon.items.schemas import Item
from feeds.base import ParseContext, ParseFunc
from feeds.common import fail, json_utf8


def _lazy(module: str, function: str) -> ParseFunc:
    """`feeds.<module>.<function>`, its module imported on first use: `certmon parse` of one format
    need not import all the others (feedparser alone takes ~35 ms, PyYAML for Shadowserver ~15 ms)."""

    def parse(data: bytes, ctx: ParseContext) -> Iterable[Item]:
        func: ParseFunc = getattr(import_module(f"feeds.{module}"), function)
        return func(data, ctx)

    parse.__qualname__ = parse.__name__ = f"{module}.{function}"
    return parse


_RSS, _STIX, _MISP = _lazy("rss", "parse"), _lazy("stix", "parse"), _lazy("misp", "parse")
_FEODO, _URLHAUS, _THREATFOX = (_lazy("abusech", f) for f in ("parse_feodo", "parse_urlhaus", "parse_threatfox"))
FORMATS: dict[str, ParseFunc] = {
    "rss": _RSS,
    "atom": _RSS,
    "stix": _STIX,
    "stix21": _STIX,
    "taxii21": _STIX,
    "kev": _lazy("kev", "parse"),
    "csaf": _lazy("csaf", "parse"),
    "misp": _MISP,
    "misp-feed": _MISP,
    "feodo": _FEODO,
    "abusech-feodo": _FEODO,
    "urlhaus": _URLHAUS,
    "abusech-urlhaus": _URLHAUS,
    "threatfox": _THREATFOX,
    "abusech-threatfox": _THREATFOX,
    "shadowserver": _lazy("shadowserver", "parse"),
    "suricata": _lazy("suricata", "parse"),
}

_SNIFF = 65_536  # bytes looked at to tell a format
_JSON_KEY = re.compile(rb'"([A-Za-z_][A-Za-z0-9_]*)"\s*:')


def detect_format(data: bytes, filename: str = "") -> str:
    """Tell the format of a payload from its first bytes (and name); FeedParseError when unsure."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a UTF-16/32 BOM: it must convert, or that is the error
        data = json_utf8(data, ParseContext(filename=filename))
    elif b"\x00" in data[:4]:  # perhaps UTF-16/32 JSON without a BOM
        with contextlib.suppress(FeedParseError):
            data = json_utf8(data, ParseContext(filename=filename))
    head = data[:_SNIFF].lstrip(b"\xef\xbb\xbf \t\r\n")
    name = filename.lower()
    ctx = ParseContext(filename=filename)
    if head.startswith(b"<"):
        return "rss"
    if head.startswith((b"{", b"[")):
        found = _json_format(head)
        if found:
            return found
        raise fail(ctx, "", "JSON of an unknown kind; give --format explicitly")
    if head.startswith(b"#"):
        banner = head[:2000].lower()
        if b"feodo" in banner:
            return "feodo"
        if b"urlhaus" in banner:
            return "urlhaus"
        if b"threatfox" in banner:
            return "threatfox"
    first_line = head.split(b"\n", 1)[0].lower()
    if b"," in first_line and (b'"timestamp"' in first_line or first_line.startswith(b"timestamp,")):
        return "shadowserver"
    from feeds.shadowserver import guess_report_type

    if name.endswith(".csv") and guess_report_type([], name):
        return "shadowserver"
    raise fail(ctx, "", "cannot tell the feed format; give --format explicitly")


def _json_format(head: bytes) -> str | None:
    keys = set(_JSON_KEY.findall(head))
    first_line = head.split(b"\n", 1)[0]
    if b"event_type" in first_line and b"\n{" in head:
        return "suricata"
    if b"ioc_type" in keys or (b"ioc" in keys and b"threat_type" in keys):
        return "threatfox"
    if b"vulnerabilities" in keys and b"catalogVersion" in keys:
        return "kev"
    if b"csaf_version" in keys or (b"document" in keys and b"tracking" in keys):
        return "csaf"
    if b"canonical_url" in keys or (b"feed" in keys and b"entry" in keys):
        return "csaf"  # CSAF discovery documents: parsed to no items, the collector follows them
    if b"Event" in keys or (b"info" in keys and b"Orgc" in keys):
        return "misp"
    if b"Attribute" in keys and b"to_ids" in keys:
        return "misp"  # an event without its wrapper, attributes first (PyMISP's to_json)
    if re.search(rb'"type"\s*:\s*"bundle"', head) or (b"objects" in keys and b"spec_version" in keys):
        return "stix"
    if b"objects" in keys or {b"type", b"id", b"spec_version"} <= keys:
        return "stix"
    if b"event_type" in keys:
        return "suricata"
    return None


def parse_bytes(data: bytes, fmt: str, ctx: ParseContext) -> list[Item]:
    """Parse a payload in format `fmt` (`auto` sniffs it) into a list of items."""
    return list(iter_bytes(data, fmt, ctx))


def iter_bytes(data: bytes, fmt: str, ctx: ParseContext) -> Iterable[Item]:
    """Like parse_bytes, but as the adapter yields them (a streaming adapter is not held whole)."""
    name = detect_format(data, ctx.filename) if fmt == "auto" else fmt
    try:
        func = FORMATS[name]
    except KeyError:
        raise fail(ctx, "", f"unknown format {fmt!r}; one of: {', '.join(sorted(FORMATS))}, auto") from None
    return func(data, ctx)
