"""Shadowserver CSV reports → exposures, driven by the column table in `feeds/data/shadowserver.yaml`.

The report type comes from ctx.report_type, else the file name (Shadowserver's own
`YYYY-MM-DD-<report>-<org>-<kind>.csv`, or any name with a known report name between its dashes,
`feeds/data/shadowserver_reports.yaml`), else a `filename` hint of the table, else the header columns
(the most specific mapping whose `match` columns are all present; the generic layouts never name a
report). A report named but without a table entry of its own is read with the mapping its columns
fit, generic ones included, and keeps its own name. Mapped columns fill ip, port, protocol,
observed_at, hostname, asn and labels, and the `severity` column (critical … info) the severity;
every other non-empty column is kept in `extra`.
Rows without a valid IP address are skipped. Key: `shadowserver:<report_type>:<ip>:<port>:<timestamp>`.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from certmon.items.schemas import Item
from feeds.base import ParseContext
from feeds.common import canonical_asn, canonical_ip, decode_text, fail, iso_utc, unique

_TABLE_FILE = Path(__file__).parent / "data" / "shadowserver.yaml"
_REPORTS_FILE = Path(__file__).parent / "data" / "shadowserver_reports.yaml"
_DATED_NAME = re.compile(r"\d{4}-\d{2}-\d{2}-(\w+)(?:-[\w.]*)*\Z")  # 2019-09-04-scan_rdp-nettest-asn
_LIST_SEP = re.compile(r"[,;]")  # tags: "basic-auth,http", and in newer reports "exchange;cve-2021-26855"
# The `severity` column Shadowserver's reports carry since 2023; "info" (exposed, nothing known wrong) is
# the lowest level certmon has.
_SEVERITY = {"critical": "critical", "high": "high", "medium": "medium", "low": "low", "info": "low"}
log = logging.getLogger(__name__)
_MAPPED = ("ip", "port", "protocol", "timestamp", "hostname", "asn")
csv.field_size_limit(1_000_000)  # one field may be a long certificate or banner, never unbounded


@lru_cache(maxsize=1)
def mappings() -> dict[str, dict[str, Any]]:
    """The report-type table (report type → column mapping)."""
    table = yaml.safe_load(_TABLE_FILE.read_text(encoding="utf-8")) or {}
    return {str(k): dict(v) for k, v in table.items()}


@lru_cache(maxsize=1)
def known_reports() -> frozenset[str]:
    """Shadowserver's report names (the `<report>` of its file names) and the table's own types."""
    listed = yaml.safe_load(_REPORTS_FILE.read_text(encoding="utf-8")) or {}
    table = mappings()
    return frozenset(str(n) for n in listed.get("reports") or []) | {
        rtype for rtype, spec in table.items() if not spec.get("generic")}


def report_type_from_name(filename: str) -> str | None:
    """The report a file name names: Shadowserver's dated name, a known report name, else a table hint."""
    stem = Path(filename).name.lower().removesuffix(".csv")
    if not stem:
        return None
    dated = _DATED_NAME.match(stem)
    if dated:
        return dated.group(1)
    known = known_reports()
    for part in stem.split("-"):
        if part in known:
            return part
    hinted = [(len(hint), rtype) for rtype, spec in mappings().items() for hint in spec.get("filename") or []
              if hint in stem]
    return max(hinted)[1] if hinted else None  # the longest hint: "rdp" must not claim scan_rdpeudp


def _mapping_for_columns(header: list[str], *, generic: bool) -> str | None:
    """The most specific table entry whose `match` columns the header has (generic ones if allowed)."""
    columns = set(header)
    fitting = [(len(spec.get("match") or []), rtype) for rtype, spec in mappings().items()
               if spec.get("match") and set(spec["match"]) <= columns and (generic or not spec.get("generic"))]
    return max(fitting)[1] if fitting else None


def guess_report_type(header: list[str], filename: str = "") -> str | None:
    """The report type for a file name or, failing that, for a header row (never a generic layout)."""
    return report_type_from_name(filename) or _mapping_for_columns(header, generic=False)


def parse(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """Yield one exposure per report row with a valid IP address."""
    reader = csv.reader(io.StringIO(decode_text(data)))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise fail(ctx, "", "empty Shadowserver report") from None
    except csv.Error as exc:
        raise fail(ctx, "line 1", f"unreadable CSV header: {exc}") from None
    table = mappings()
    report_type = ctx.report_type or guess_report_type(header, ctx.filename)
    if report_type is None:
        raise fail(ctx, "line 1", "cannot tell the Shadowserver report type from the name or the columns "
                                  "(set options.report_type, or keep Shadowserver's file name)")
    spec_name = report_type if report_type in table else _mapping_for_columns(header, generic=True)
    if spec_name is None:
        raise fail(ctx, "line 1", f"no column mapping fits report type {report_type}")
    if spec_name != report_type and report_type not in known_reports():
        log.warning("%s: Shadowserver report type %r is not in the table; read with the %s columns",
                    ctx.filename or ctx.source_name or "input", report_type, spec_name)
    spec = table[spec_name]
    if spec["ip"] not in header:
        raise fail(ctx, "line 1", f"column {spec['ip']!r} missing for report type {report_type}")
    try:
        for row in reader:
            item = _exposure(dict(zip(header, row, strict=False)), spec, report_type, ctx)
            if item is not None:
                yield item
    except csv.Error as exc:
        raise fail(ctx, f"line {reader.line_num}", f"malformed CSV: {exc}") from None


def _exposure(row: dict[str, str], spec: dict[str, Any], report_type: str, ctx: ParseContext) -> Item | None:
    col = {name: str(spec[name]) for name in _MAPPED if spec.get(name)}
    ip = canonical_ip(row.get(col["ip"], ""))
    if ip is None or ip[0] == "cidr":
        return None
    port_text = row.get(col.get("port", ""), "").strip()
    port = int(port_text) if port_text.isdigit() and int(port_text) < 65536 else None
    observed = iso_utc(row.get(col.get("timestamp", ""), ""))
    asn = canonical_asn(row.get(col.get("asn", ""), ""))
    label_columns = spec.get("labels") or []
    labels = unique([part.strip() for name in label_columns for part in _LIST_SEP.split(row.get(name, ""))])
    severity = _SEVERITY.get(row.get("severity", "").strip().lower())
    used = set(col.values()) | ({"severity"} if severity else set())
    extra = {k: v for k, v in row.items() if v != "" and k not in used}
    return Item(
        kind="exposure",
        key=f"shadowserver:{report_type}:{ip[1]}:{port if port is not None else ''}:{observed or ''}",
        tlp=ctx.default_tlp.value_str,
        source_format="shadowserver",
        ip=ip[1],
        port=port,
        protocol=(row.get(col.get("protocol", ""), "") or spec.get("default_protocol") or None),
        report_type=report_type,
        observed_at=observed,
        hostname=row.get(col.get("hostname", ""), "").strip() or None,
        asn=int(asn) if asn else None,
        labels=labels,
        severity=severity,
        extra=extra,
    )
