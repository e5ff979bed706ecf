"""Suricata EVE JSON lines → exposures (the internal host) plus indicators (the external source).

Only `event_type: alert` records are used. Fields: timestamp, src_ip, src_port, dest_ip,
dest_port, proto, alert.signature, alert.signature_id, alert.category, alert.severity, flow_id.
The exposure's ip is the internal side: dest_ip, unless src_ip is a private address and dest_ip
is not (an outbound alert), then src_ip. The flow's addresses stay in extra (`src_ip`, `dest_ip`,
ports); the other (external) address also yields an indicator, labelled with signature and category,
unless it is an internal address too (RFC 1918, shared 100.64/10, loopback, link-local, ULA,
multicast): an alert between two internal hosts names no outside attacker, and a sensor's own
network must never end up in a blocklist.
Lines that are not JSON objects are skipped; a file with no readable line is an error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import msgspec

from certmon.items.schemas import Item
from feeds.base import ParseContext
from feeds.common import canonical_ip, fail, iso_utc, json_line, unique

_SEVERITY = {1: "high", 2: "medium", 3: "low"}


def parse(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """Yield an exposure and a source-address indicator per alert record."""
    readable = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            record = json_line(line)
        except (msgspec.DecodeError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        readable += 1
        if record.get("event_type") == "alert" and isinstance(record.get("alert"), dict):
            yield from _alert_items(record, ctx)
    if not readable:
        raise fail(ctx, "", "no EVE JSON record found")


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and 0 <= value < 65536 else None


def _is_private(ip: tuple[str, str] | None) -> bool:
    return ip is not None and ipaddress.ip_address(ip[1]).is_private


# Networks no outside attacker has: a sensor sees them only inside. Documentation ranges
# (192.0.2.0/24, 2001:db8::/32), which Python also calls private, stand for public ones in examples.
_INTERNAL_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))


def _is_internal(value: str) -> bool:
    addr = ipaddress.ip_address(value)
    return (addr.is_loopback or addr.is_link_local or addr.is_multicast or addr.is_unspecified
            or any(addr in net for net in _INTERNAL_NETS if net.version == addr.version))


def _alert_items(rec: dict[str, Any], ctx: ParseContext) -> Iterator[Item]:
    alert = rec["alert"]
    signature = str(alert.get("signature") or "")
    labels = unique([signature, str(alert.get("category") or "")])
    observed = iso_utc(rec.get("timestamp"))
    dest, src = canonical_ip(str(rec.get("dest_ip") or "")), canonical_ip(str(rec.get("src_ip") or ""))
    dest_port, src_port = _port(rec.get("dest_port")), _port(rec.get("src_port"))
    flow = {"src_ip": src[1] if src else None, "src_port": src_port,
            "dest_ip": dest[1] if dest else None, "dest_port": dest_port}
    if _is_private(src) and not _is_private(dest):  # outbound alert: the internal host is the source
        dest, src, dest_port, src_port = src, dest, src_port, dest_port
    sid = alert.get("signature_id")
    extra = {k: v for k, v in {
        **flow, "signature_id": sid,
        "flow_id": rec.get("flow_id"), "app_proto": rec.get("app_proto"), "action": alert.get("action"),
    }.items() if v is not None}
    severity = _SEVERITY.get(alert.get("severity")) if isinstance(alert.get("severity"), int) else None
    tlp = ctx.default_tlp.value_str
    if dest is not None:
        port = dest_port
        yield Item(
            kind="exposure", key=f"suricata:{sid}:{dest[1]}:{port or ''}:{observed or ''}", tlp=tlp,
            source_format="suricata", ip=dest[1], port=port,
            protocol=str(rec.get("proto") or "").lower() or None,
            report_type="suricata-alert", observed_at=observed, labels=labels, severity=severity, extra=extra,
        )
    if src is not None and src[0] in ("ipv4", "ipv6") and not _is_internal(src[1]):
        yield Item(
            kind="indicator", key=f"suricata:{sid}:{src[0]}:{src[1]}", tlp=tlp, source_format="suricata",
            type=src[0], value=src[1], labels=labels, valid_from=observed,
            extra={"internal_ip": dest[1] if dest else None, "signature_id": sid},
        )
