"""Helpers shared by the adapters: canonical indicator values, timestamps, HTML, errors, JSON."""

from __future__ import annotations

import calendar
import codecs
import html
import io
import ipaddress
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import nh3

from certmon.errors import FeedParseError
from feeds.base import ParseContext

log = logging.getLogger(__name__)

SUMMARY_MAX = 4000  # characters of sanitised summary kept per item
_HTML_INPUT_MAX = 256_000  # bound the work nh3 does on one huge description
_ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "ul", "ol", "li", "a", "code", "pre", "blockquote"}

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_PARTIAL_ENTITY = re.compile(r"&[#a-zA-Z0-9]*\Z")
_TAG = re.compile(r"<[^>]*>")
_HEX = re.compile(r"[0-9a-f]+")
_HASH_LEN = {"md5": 32, "sha1": 40, "sha256": 64}
_DOMAIN = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z\Z")
_ISO_NAIVE = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\Z")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?)?$",
    re.IGNORECASE,
)


def fail(ctx: ParseContext, where: str, why: str) -> FeedParseError:
    """A FeedParseError naming the file (when known), the place and the reason."""
    name = ctx.filename or ctx.source_name or "input"
    place = f" ({where})" if where else ""
    return FeedParseError(f"{name}{place}: {why}")


def load_json(data: bytes, ctx: ParseContext, *, warn: bool = True) -> Any:
    """Decode JSON into builtins; FeedParseError on invalid or too deeply nested input.

    Encoding fallback (docs/feeds.md): a UTF-8 BOM is dropped, UTF-16/32 is transcoded (json_utf8),
    and bytes that are not valid UTF-8 are read as Latin-1, with a warning naming the file and byte.
    """
    data = json_utf8(data, ctx)
    try:
        return _decode_json(data, ctx)
    except UnicodeDecodeError:
        if warn:
            log.warning("%s: not valid UTF-8 (%s); read as Latin-1",
                        ctx.filename or ctx.source_name or "input", utf8_problem(data))
        return _decode_json(data.decode("latin-1").encode("utf-8"), ctx)


def utf8_problem(data: bytes) -> str:
    """Where and why bytes are not UTF-8 ("byte 17: invalid start byte"); empty when they are."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte {exc.start}: {exc.reason}"
    return ""


def _decode_json(data: bytes, ctx: ParseContext) -> Any:
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise fail(ctx, "", f"invalid JSON: {exc}") from None
    except RecursionError:
        raise fail(ctx, "", "JSON nested too deeply") from None


def json_line(line: bytes) -> Any:
    """One JSON record of a JSON-lines feed, with load_json's UTF-8 rule (else Latin-1)."""
    try:
        return msgspec.json.decode(line)
    except UnicodeDecodeError:
        return msgspec.json.decode(line.decode("latin-1").encode("utf-8"))


# Byte order marks, longest first, and the zero-byte patterns of RFC 4627 section 3 for JSON
# without a BOM (the first two characters of JSON text are always ASCII).
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))


def json_utf8(data: bytes, ctx: ParseContext) -> bytes:
    """JSON bytes as UTF-8: a UTF-8 BOM is dropped, UTF-16 and UTF-32 (by BOM or zero bytes) transcoded.

    Plain UTF-8 without a BOM is returned as it is (no copy), so large bundles pay nothing.
    """
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:]
    head = data[:4]
    codec = next((name for bom, name in _BOMS if head.startswith(bom)), None)
    if codec is None and len(head) == 4 and 0 in head:
        zeros = (head[0] == 0, head[1] == 0, head[2] == 0, head[3] == 0)
        codec = {(True, True, True, False): "utf-32-be", (False, True, True, True): "utf-32-le",
                 (True, False, True, False): "utf-16-be", (False, True, False, True): "utf-16-le"}.get(zeros)
    if codec is None:
        return data
    try:
        return data.decode(codec).lstrip("\ufeff").encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        where = f"byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else "text"
        raise fail(ctx, "", f"looks like {codec.upper()}, but {where} is not: {exc.reason}") from None


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 (BOM tolerated), else Latin-1 so no byte is ever lost or fatal."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def text_lines(data: bytes) -> Iterator[str]:
    """The lines of `data` decoded as `decode_text` would (UTF-8, BOM tolerated, else Latin-1), one at a
    time with universal newlines: a large payload is never held a second time as one string."""
    encoding = "utf-8-sig"
    check = codecs.getincrementaldecoder("utf-8-sig")()
    try:  # validate in slices (each decoded slice is dropped at once)
        for start in range(0, len(data), 1 << 20):
            check.decode(data[start:start + (1 << 20)])
        check.decode(b"", final=True)
    except UnicodeDecodeError:
        encoding = "latin-1"
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=None)
    yield from stream


def iso_utc(value: Any) -> str | None:
    """Normalise a timestamp (ISO 8601, RFC 822, epoch, struct_time, datetime) to `YYYY-MM-DDTHH:MM:SSZ`."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _ISO_Z.match(value):
        return value[:19] + "Z"  # already UTC ISO 8601 (the STIX hot path)
    if isinstance(value, str) and _ISO_NAIVE.match(value):  # `2026-02-26 12:05:20` (abuse.ch): UTC, as below
        try:
            datetime.fromisoformat(value)  # a real date and time
        except ValueError:
            return None
        return f"{value[:10]}T{value[11:19]}Z"
    dt: datetime | None = None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, time.struct_time):  # feedparser's dates: UTC already, maybe denormalised
        try:
            t = time.gmtime(calendar.timegm(value))
        except (OverflowError, ValueError, OSError):
            return None
        if not 1 <= t.tm_year <= 9999:
            return None
        return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"  # strftime leaves years below 1000 unpadded
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        dt = _from_epoch(float(value))
    elif isinstance(value, str):
        dt = _parse_text_time(value.strip())
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        utc = dt.astimezone(UTC)
    except (OverflowError, ValueError):  # an offset that moves it out of years 1-9999
        return None
    return utc.isoformat(timespec="seconds")[:19] + "Z"  # strftime leaves years below 1000 unpadded


def _from_epoch(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_text_time(text: str) -> datetime | None:
    m = _ISO.match(text)
    if m:
        y, mo, d, hh, mi, ss, tz = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
        except ValueError:
            return None
        if tz and tz.upper() not in ("Z", "UTC"):
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
            return _from_epoch(calendar.timegm(dt.timetuple()) - offset * 60)  # None out of years 1-9999
        return dt.replace(tzinfo=UTC)
    if text.isdigit():
        return _from_epoch(float(text))
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def sanitise_html(raw: str | None, limit: int = SUMMARY_MAX) -> str | None:
    """Clean feed HTML to a small safe tag set; when too long, plain escaped text cut at a word."""
    if not raw:
        return None
    cleaned = nh3.clean(
        raw[:_HTML_INPUT_MAX],
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    ).strip()
    if len(cleaned) <= limit:
        return cleaned or None
    text = html.escape(" ".join(plain_text(raw).split()), quote=False)
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit - 1)  # entities hold no spaces, so a cut here never splits one
        text = (text[:cut] if cut > limit // 2 else _PARTIAL_ENTITY.sub("", text[: limit - 1])) + "…"
    return text or None


def plain_text(raw: str | None) -> str:
    """Visible text of an HTML fragment (for CVE and product scanning)."""
    if not raw:
        return ""
    return _to_text(nh3.clean(raw[:_HTML_INPUT_MAX], tags=_ALLOWED_TAGS | {"td", "th", "div", "span"}))


def _to_text(cleaned: str) -> str:
    # Tags become spaces so adjacent table cells do not glue words (and CVE ids) together.
    return html.unescape(_TAG.sub(" ", cleaned))


def canonical_ip(value: str) -> tuple[str, str] | None:
    """(`ipv4`|`ipv6`|`cidr`, canonical text) for an address or network, else None."""
    value = value.strip()
    if _IPV4.fullmatch(value):
        return ("ipv4", value)  # already canonical dotted quad: skip the ipaddress round trip
    try:
        if "/" in value:
            net = ipaddress.ip_network(value, strict=False)
            if net.prefixlen == net.max_prefixlen:
                addr = net.network_address
                return ("ipv4" if addr.version == 4 else "ipv6", str(addr))
            return ("cidr", str(net))
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    return ("ipv4" if addr.version == 4 else "ipv6", str(addr))


def canonical_domain(value: str) -> str | None:
    """Lower-case domain without trailing dot, IDNs as A-labels; None if not a plausible name."""
    name = value.strip().rstrip(".").lower()
    if not name or len(name) > 253:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if name.startswith("*."):
        name = name[2:]
    return name if _DOMAIN.fullmatch(name) else None


def canonical_url(value: str) -> str | None:
    """URL with lower-case scheme and host (host IDN as A-label); None without scheme and host."""
    value = value.strip()
    if not value or len(value) > 8192 or any(c in value for c in "\r\n\t "):
        return None
    fast = _PLAIN_URL.match(value)
    # Already canonical (the common case in feeds): the host is its own canonical form, and nothing that
    # urlunsplit would drop (an empty query or fragment) is there, so the round trip would give `value`.
    if fast is not None and not value.endswith(("?", "#")) and "?#" not in value:
        host = fast.group(1)
        # only digits and dots can be an address here (an IPv6 literal has brackets); a name is never one
        canon = canonical_ip(host) if _DIGITS_DOTS.match(host) else None
        if (canon[1] if canon is not None and canon[0] == "ipv4" else canon is None and canonical_domain(host)) == host:
            return value
    return _canonical_url(value)


_DIGITS_DOTS = re.compile(r"[0-9.]+\Z")
# scheme://host[:port][path…] in lower case, no userinfo, no IPv6 literal, no backslash
_PLAIN_URL = re.compile(r"(?:https?|ftps?|hxxps?)://([a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?)(?::\d{1,5})?(?:[/?#][^\\]*)?\Z")


def _canonical_url(value: str) -> str | None:
    """canonical_url's general path: split, canonicalise the host, join."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    if host.startswith("["):
        host = host.strip("[]")
    canon_host = canonical_ip(host)
    if canon_host is not None:
        new_host = f"[{canon_host[1]}]" if canon_host[0] == "ipv6" else canon_host[1]
    else:
        dom = canonical_domain(host)
        if dom is None:
            return None
        new_host = dom
    netloc = parts.netloc
    userinfo = netloc.rpartition("@")[0]
    port = netloc.rpartition("]")[2].rpartition(":")[2] if ":" in netloc.rpartition("]")[2] else ""
    netloc = (userinfo + "@" if userinfo else "") + new_host + (":" + port if port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def canonical_email(value: str) -> str | None:
    """`local@domain` with the domain canonical and the local part kept; None if malformed."""
    local, sep, domain = value.strip().rpartition("@")
    if not sep or not local or len(local) > 64:
        return None
    dom = canonical_domain(domain)
    return f"{local}@{dom}" if dom else None


def canonical_hash(kind: str, value: str) -> str | None:
    """Lower-case hex digest if it has the right length for `kind` (md5/sha1/sha256)."""
    digest = value.strip().lower()
    if len(digest) != _HASH_LEN.get(kind, -1) or not _HEX.fullmatch(digest):
        return None
    return digest


def canonical_asn(value: Any) -> str | None:
    """ASN as an integer string (`AS64496` → `64496`), None when out of range or not a number."""
    text = str(value).strip().upper().removeprefix("AS")
    if not text.isdigit():
        return None
    number = int(text)
    return str(number) if 0 < number < 2**32 else None


def canonical_indicator(itype: str, value: Any) -> tuple[str, str] | None:
    """Canonical (type, value) for any indicator type; IP-looking domains become ipv4/ipv6."""
    if value is None:
        return None
    text = str(value)
    if itype in ("ipv4", "ipv6", "cidr", "ip"):
        return canonical_ip(text)
    if itype == "domain":
        ip = canonical_ip(text) if text[:1].isdigit() or ":" in text else None
        if ip is not None:
            return ip
        dom = canonical_domain(text)
        return ("domain", dom) if dom else None
    if itype in _HASH_LEN:
        digest = canonical_hash(itype, text)
        return (itype, digest) if digest else None
    canon = {"url": canonical_url, "email": canonical_email, "asn": canonical_asn}.get(itype)
    if canon is None:
        return None
    result = canon(text)
    return (itype, result) if result else None


def unique(values: list[str]) -> list[str]:
    """Drop empties and duplicates, keeping first-seen order."""
    return list(dict.fromkeys(v for v in values if v))
