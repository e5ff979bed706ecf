"""The character encoding of an XML feed, and the fallback when it declares one Python does not know.

Python (and so expat and feedparser) knows most IANA names, but not all: `encoding="mac"`,
`"ms-ansi"`, `"ucs-2"`, `"viscii"` or a plain typo end in a LookupError deep inside the XML parser.
Such a document is decoded here instead and handed on as UTF-8 with its declaration rewritten:
- a document in UTF-16/32 (byte order mark, or the `<?` byte pattern) is read in that form, whatever
  name it declares (`ucs-2`, `csunicode`, `ucs-4`, …);
- a known alias Python lacks is read as the codec it names (`mac`/`csmacintosh` → Mac Roman,
  `ms-ansi` → Windows-1252, `ms-cyrl` → Windows-1251, `ms-ee` → Windows-1250, …);
- anything else as UTF-8 when its bytes are valid UTF-8, else as Windows-1252 (the few bytes it
  leaves undefined become U+FFFD).
The fallback is logged as a warning naming the file and the declared name. Documents whose declared
encoding Python knows are returned unchanged (feedparser's own detection applies).
"""

from __future__ import annotations

import codecs
import logging
import re

from feeds.base import ParseContext

log = logging.getLogger(__name__)

# IANA/Microsoft names seen in real feeds that Python's codec registry does not know.
ALIASES = {
    "mac": "mac_roman", "csmacintosh": "mac_roman", "ms-ansi": "cp1252", "ms-arab": "cp1256",
    "ms-cyrl": "cp1251", "ms-ee": "cp1250", "ms-greek": "cp1253", "ms-hebr": "cp1255", "ms-turk": "cp1254",
    "winbaltrim": "cp1257", "ucs-2": "utf-16", "csunicode": "utf-16", "iso-10646-ucs-2": "utf-16",
    "ucs-4": "utf-32", "csucs4": "utf-32", "iso-10646-ucs-4": "utf-32",
}
_DECLARED = re.compile(r"""\A\s*<\?xml\b[^>]*?\bencoding\s*=\s*(["'])([^"'>]{1,60})\1""", re.IGNORECASE)

# (leading bytes, byte form): BOMs first, then the `<?` pattern of a document without one.
_FORMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"),
)
_BOMS = (codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF8)


def byte_form(data: bytes) -> str | None:
    """`utf-16-le` etc. when the bytes are UTF-16/32 by BOM or by the `<?` pattern, else None."""
    for lead, form in _FORMS:
        if data.startswith(lead):
            return form
    return None


def as_text(data: bytes) -> str:
    """The document as text for scanning (never fails): UTF-16/32 by form, else Latin-1 byte for byte."""
    form = byte_form(data)
    return data.decode(form, errors="replace") if form else data.decode("latin-1")


def declared_encoding(data: bytes) -> str | None:
    """The encoding named in the XML declaration, if any."""
    match = _DECLARED.match(as_text(data[:1024]).lstrip("\ufeff"))
    return match.group(2).strip() if match else None


def known_encoding(name: str) -> bool:
    """Whether Python has a codec for `name`."""
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def readable_xml(data: bytes, ctx: ParseContext) -> bytes:
    """`data` unchanged when its declared encoding is known (or none is declared), else re-encoded
    as UTF-8 by the fallback above, with `encoding="utf-8"` in its declaration."""
    name = declared_encoding(data)
    if name is None or known_encoding(name):
        return data
    codec = byte_form(data)  # bytes in UTF-16/32 are read as such, whatever name they declare
    if codec is None:
        codec = ALIASES.get(name.lower())
        if codec is None or codec.startswith("utf-"):
            codec = "utf-8" if _is_utf8(data) else "cp1252"
    body = data
    for bom in _BOMS:
        if body.startswith(bom):
            body = body[len(bom):]
            break
    text = body.decode(codec, errors="replace")
    text = _DECLARED.sub(lambda m: m.group(0)[: m.start(2) - m.start(0)] + "utf-8" + m.group(1), text, count=1)
    log.warning("%s: declared encoding %r is unknown; read as %s", ctx.filename or ctx.source_name or "feed",
                name, codecs.lookup(codec).name)
    return text.encode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
