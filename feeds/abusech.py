"""abuse.ch exports: Feodo Tracker (IP blocklist), URLhaus (CSV) and ThreatFox (JSON/NDJSON).

Feodo fields: first_seen_utc, dst_ip, dst_port, c2_status, last_online, malware (CSV with a '#'
banner; the plain one-IP-per-line text list and the JSON list are read too).
URLhaus fields: dateadded, url, url_status, threat, tags, host, ipaddress, asnumber, country
(CSV whose header line is itself a '#' comment). ThreatFox fields: ioc, ioc_type, threat_type,
malware, malware_printable, confidence_level, first_seen, last_seen, tags, reference (JSON and NDJSON;
the CSV export names them ioc_id, ioc_value, first_seen_utc, last_seen_utc, with a '#' banner and
header line; its records get the same keys as the JSON export's).
The CSV header is the first line before the data, commented or not, that names the feed's key
column (`dst_ip`/`url`) and at least one other of its known columns; banner lines are never a
header, whatever punctuation they hold. Without such a line the published column order is assumed.
Rows that do not hold a valid indicator are skipped; a file with no readable row is an error.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from certmon.items.schemas import Item
from feeds.base import ParseContext
from feeds.common import canonical_indicator, fail, iso_utc, json_line, load_json, text_lines, unique

_TF_TYPES = {
    "domain": "domain", "url": "url", "md5_hash": "md5", "sha1_hash": "sha1", "sha256_hash": "sha256",
}
# The column order abuse.ch publishes today, assumed when a file carries no header line.
_URLHAUS_COLUMNS = ["id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link",
                    "reporter"]
_URLHAUS_KNOWN = frozenset(_URLHAUS_COLUMNS) | {"host", "ipaddress", "asnumber", "country"}
_LEADING_SPACE = re.compile(rb"\s*")
_FEODO_KNOWN = frozenset({"first_seen_utc", "first_seen", "dst_ip", "dst_port", "c2_status", "last_online",
                          "malware", "status"})


def _indicator(fmt: str, ctx: ParseContext, itype: str, value: Any, **fields: Any) -> Item | None:
    canon = canonical_indicator(itype, value)
    if canon is None:
        return None
    record_id = fields.pop("record_id", None)
    key = f"{fmt}:{record_id}:{canon[0]}:{canon[1]}" if record_id else f"{fmt}:{canon[0]}:{canon[1]}"
    return Item(kind="indicator", key=key, tlp=ctx.default_tlp.value_str,
                source_format=fmt, type=canon[0], value=canon[1], **fields)


def _column_names(line: str) -> list[str]:
    """A CSV line's fields as column names: lower case, no unit suffix ("Dateadded (UTC)" → dateadded)."""
    return [h.strip().lower().split(" (")[0].replace(" ", "_") for h in next(csv.reader([line]), [])]


def _csv_rows(lines: Iterable[str], default_header: list[str], key_column: str,
              known: frozenset[str], *, spaced: bool = False) -> Iterator[dict[str, str]]:
    """Rows of an abuse.ch CSV: '#' lines are comments; the header is found by its column names.

    A line (commented or not) before the first data row is the header when it names `key_column`
    and at least one other column in `known`; otherwise `default_header` gives the columns.
    """
    found: list[list[str]] = []  # the header, once a line before the first data row names the columns

    def data_lines() -> Iterator[str]:  # one line at a time: a 1M-row file is never split into a list
        started = False
        for line in lines:
            stripped = line.strip()
            if not stripped:
                continue
            candidate = stripped.lstrip("# ") if stripped.startswith("#") else stripped
            if not found and not started and "," in candidate:
                names = _column_names(candidate)
                if key_column in names and len(known.intersection(names)) >= 2:
                    found.append(names)
                    continue
            if not stripped.startswith("#"):
                started = True
                yield line.rstrip("\r\n")

    for row in csv.reader(data_lines(), skipinitialspace=spaced):  # spaced: `"a", "b"` (ThreatFox)
        names = found[0] if found else default_header
        yield dict(zip(names, (c.strip() for c in row), strict=False))


def parse_feodo(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """Feodo Tracker C2 IP blocklist → ipv4 indicators (label: malware family; port in extra)."""
    first = _LEADING_SPACE.match(data)
    at = first.end() if first else 0
    if data[at:at + 1] == b"[":  # a JSON list (no copy of the payload to find out)
        listed = [r for r in load_json(data, ctx) if isinstance(r, dict)]
        rows: Iterable[dict[str, Any]] = [
            {**r, "dst_ip": r.get("ip_address") or r.get("dst_ip"), "dst_port": r.get("port")} for r in listed]
    else:  # streamed: the rows are never all held at once
        rows = _csv_rows(text_lines(data), ["dst_ip"], "dst_ip", _FEODO_KNOWN)
    count = seen = 0
    for row in rows:
        seen += 1
        item = _indicator(
            "feodo", ctx, "ipv4", row.get("dst_ip"),
            labels=unique([str(row.get("malware") or ""), "botnet-c2"]),
            valid_from=iso_utc(row.get("first_seen_utc") or row.get("first_seen")),
            extra=_feodo_extra(row),
        )
        if item is not None:
            count += 1
            yield item
    if seen and not count:
        raise fail(ctx, "", "no valid IP address in the Feodo Tracker list")


def _feodo_extra(row: dict[str, Any]) -> dict[str, Any]:
    extra = {k: row[k] for k in ("c2_status", "last_online", "status") if row.get(k)}
    port = str(row.get("dst_port") or "")
    if port.isdigit():
        extra["port"] = int(port)
    return extra


def parse_urlhaus(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """URLhaus CSV → url indicators (labels: threat and tags; status in extra)."""
    count = 0
    rows = 0
    for row in _csv_rows(text_lines(data), _URLHAUS_COLUMNS, "url", _URLHAUS_KNOWN):
        rows += 1
        tags = [t.strip() for t in (row.get("tags") or "").split(",")]
        extra = {k: row[k] for k in ("url_status", "host", "ipaddress", "asnumber", "country", "urlhaus_link",
                                     "last_online") if row.get(k)}
        item = _indicator("urlhaus", ctx, "url", row.get("url"),
                          labels=unique([row.get("threat", ""), *tags]),
                          valid_from=iso_utc(row.get("dateadded")), extra=extra)
        if item is not None:
            count += 1
            yield item
    if rows and not count:
        raise fail(ctx, "", "no valid URL in the URLhaus export")


# The columns of ThreatFox's CSV export, in the order it publishes them.
_TF_COLUMNS = ["first_seen_utc", "ioc_id", "ioc_value", "ioc_type", "threat_type", "fk_malware", "malware_alias",
               "malware_printable", "last_seen_utc", "confidence_level", "reference", "tags", "anonymous",
               "reporter"]


def _threatfox_records(data: bytes, ctx: ParseContext) -> Iterable[dict[str, Any]]:
    stripped = data.lstrip()
    if stripped.startswith((b"#", b'"')):  # the CSV export: a '#' banner, a commented header, quoted fields
        return _csv_rows(text_lines(data), _TF_COLUMNS, "ioc_value", frozenset(_TF_COLUMNS), spaced=True)
    if stripped.startswith(b"{") and b"\n{" not in stripped.rstrip():
        doc = load_json(data, ctx)
        body = doc.get("data", doc) if isinstance(doc, dict) else doc
        if isinstance(body, dict):  # export shape: {"<id>": [record], ...}
            return [r for group in body.values() for r in (group if isinstance(group, list) else [group])]
        return body if isinstance(body, list) else []
    if stripped.startswith(b"["):
        doc = load_json(data, ctx)
        return doc if isinstance(doc, list) else []
    records = []
    for number, line in enumerate(data.splitlines(), 1):
        if line.strip():
            try:
                records.append(json_line(line))
            except (msgspec.DecodeError, RecursionError):
                raise fail(ctx, f"line {number}", "not a JSON record") from None
    return records


def parse_threatfox(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """ThreatFox IOC records → indicators (labels: malware, threat type, tags; confidence_level)."""
    rows = count = 0
    for rec in _threatfox_records(data, ctx):
        if not isinstance(rec, dict):
            continue
        rows += 1
        ioc, ioc_type = str(rec.get("ioc") or rec.get("ioc_value") or ""), str(rec.get("ioc_type") or "")
        record_id = rec.get("id") or rec.get("ioc_id")
        extra: dict[str, Any] = {k: rec[k] for k in ("reference", "reporter") if rec.get(k) not in (None, "", "None")}
        if record_id:
            extra["id"] = record_id
        if last_seen := rec.get("last_seen") or rec.get("last_seen_utc"):
            extra["last_seen"] = last_seen
        if ioc_type == "ip:port":
            host, _, port = ioc.rpartition(":")
            itype, ioc = "ipv4", host.strip("[]")
            if port.isdigit():
                extra["port"] = int(port)
        else:
            itype = _TF_TYPES.get(ioc_type, "")
        confidence = rec.get("confidence_level")
        if isinstance(confidence, str) and confidence.strip().isdigit():  # the CSV export's text
            confidence = int(confidence)
        tags = rec.get("tags")
        tags = tags if isinstance(tags, list) else tags.split(",") if isinstance(tags, str) and tags != "None" else []
        item = _indicator(
            "threatfox", ctx, itype, ioc, record_id=record_id,
            labels=unique([str(rec.get("malware_printable") or rec.get("malware") or ""),
                           str(rec.get("threat_type") or ""), *[str(t) for t in tags if t]]),
            confidence=max(0, min(100, int(confidence))) if isinstance(confidence, int | float) else None,
            valid_from=iso_utc(rec.get("first_seen") or rec.get("first_seen_utc")), extra=extra,
        )
        if item is not None:
            count += 1
            yield item
    if rows and not count:
        raise fail(ctx, "", "no valid indicator in the ThreatFox export")
