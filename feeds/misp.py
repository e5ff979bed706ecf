"""MISP events → indicators, in every shape MISP writes them.

Shapes: the feed file `{"Event": {...}}`; the REST search `{"response": [{"Event": ...}]}`; and the
event without the `Event` wrapper, as the REST API and PyMISP's `to_json()` return it (a top-level
object with `Attribute`/`Object` lists, or `uuid` with `info`), alone, in a list or in `response`.
Fields used: Event.uuid, info, date, Tag[].name (and EventTag[].Tag.name), Attribute[] and
Object[].Attribute[] (type, value, to_ids, uuid, timestamp, Tag[]). TLP: the most restrictive
`tlp:*` tag on the attribute, else on the event, else the source default. `to_ids: true` gives
confidence 80, false 40 (a hint, not a score). A feed folder has a manifest.json (uuid → event
summary); `parse_folder` reads it and each listed event file. Attribute types without an indicator
meaning (text, link, comment, regkey…) are skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from certmon.items.schemas import Item
from certmon.tlp import TLP, parse_tlp
from feeds.base import ParseContext
from feeds.common import canonical_indicator, fail, iso_utc, load_json, unique

_TYPES: dict[str, str] = {
    "ip-dst": "ip", "ip-src": "ip", "domain": "domain", "hostname": "domain", "url": "url", "uri": "url",
    "link": "", "email": "email", "email-src": "email", "email-dst": "email", "md5": "md5", "sha1": "sha1",
    "sha256": "sha256", "AS": "asn",
}
_COMPOSITE_FIRST = {
    "ip-dst|port": "ip", "ip-src|port": "ip", "domain|ip": "domain", "hostname|port": "domain",
}
_COMPOSITE_SECOND = {"filename|md5": "md5", "filename|sha1": "sha1", "filename|sha256": "sha256",
                     "malware-sample": "md5"}
MAX_FOLDER_EVENTS = 10_000


def manifest_event_ids(data: bytes) -> list[str]:
    """Event uuids listed in a MISP feed manifest.json (empty when it is not a manifest)."""
    try:
        doc = load_json(data, ParseContext())
    except Exception:
        return []
    if not isinstance(doc, dict) or "Event" in doc:
        return []
    return [k for k, v in doc.items() if isinstance(v, dict) and ("info" in v or "timestamp" in v)]


def parse(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """Yield indicators from one MISP event file; nothing for a manifest."""
    doc = load_json(data, ctx)
    events = _events(doc)
    if events is None:
        if manifest_event_ids(data):
            return
        raise fail(ctx, "top level", "not a MISP event ('Event' object missing)")
    for event in events:
        yield from _event_items(event, ctx)


def parse_folder(path: str | Path, ctx: ParseContext) -> Iterator[Item]:
    """Read a MISP feed folder: manifest.json, then every listed `<uuid>.json` that exists."""
    folder = Path(path)
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise fail(ctx, str(folder), "no manifest.json in the MISP feed folder")
    for uuid in manifest_event_ids(manifest.read_bytes())[:MAX_FOLDER_EVENTS]:
        event_file = folder / f"{Path(uuid).name}.json"
        if event_file.is_file():
            sub = ParseContext(default_tlp=ctx.default_tlp, source_name=ctx.source_name,
                               filename=event_file.name)
            yield from parse(event_file.read_bytes(), sub)


def _events(doc: Any) -> list[dict[str, Any]] | None:
    """The events in a document, wrapped (`{"Event": …}`) or not; None when it holds no event."""
    if isinstance(doc, dict) and isinstance(doc.get("response"), list | dict):
        doc = doc["response"]
    if isinstance(doc, list) and not doc:
        return []  # an empty search result
    candidates = doc if isinstance(doc, list) else [doc]
    events = [e["Event"] if isinstance(e.get("Event"), dict) else e
              for e in candidates if isinstance(e, dict) and (isinstance(e.get("Event"), dict) or _is_event(e))]
    return events or None


def _is_event(obj: dict[str, Any]) -> bool:
    """An unwrapped event: attribute or object lists, or an event's uuid and info (a manifest has neither
    at its top level: its keys are event uuids)."""
    if isinstance(obj.get("Attribute"), list) or isinstance(obj.get("Object"), list):
        return True
    return isinstance(obj.get("uuid"), str) and isinstance(obj.get("info"), str)


def _tag_tlp(tags: Any) -> TLP | None:
    found = []
    for tag in tags if isinstance(tags, list) else ():
        name = str(tag.get("name", "")) if isinstance(tag, dict) else ""
        if name.lower().startswith("tlp:"):
            try:
                found.append(parse_tlp(name))
            except ValueError:
                continue
    return max(found) if found else None


def _event_tags(event: dict[str, Any]) -> list[dict[str, Any]]:
    """`Tag` objects of an event: its `Tag` list, and `EventTag[].Tag` as the REST index writes them."""
    tags = [t for t in event.get("Tag") or [] if isinstance(t, dict)] if isinstance(event.get("Tag"), list) else []
    for link in event.get("EventTag") or [] if isinstance(event.get("EventTag"), list) else []:
        if isinstance(link, dict) and isinstance(link.get("Tag"), dict):
            tags.append(link["Tag"])
    return tags


def _event_key(event: dict[str, Any]) -> str:
    """The event's part of its items' keys: its uuid, or for an event without one (an export made by hand)
    a digest of what names it (id, info, date, creator), so two such events do not share their items."""
    uuid = event.get("uuid")
    if isinstance(uuid, str) and uuid.strip():
        return uuid.strip()
    orgc = event.get("Orgc")
    names = [str(event.get(k) or "") for k in ("id", "info", "date")]
    names.append(str(orgc.get("uuid") or orgc.get("name") or "") if isinstance(orgc, dict) else "")
    return "nouuid-" + hashlib.sha256("\x1f".join(names).encode("utf-8", "replace")).hexdigest()[:16]


def _event_items(event: dict[str, Any], ctx: ParseContext) -> Iterator[Item]:
    event_tags = _event_tags(event)
    tagged = _tag_tlp(event_tags)
    event_tlp = ctx.default_tlp if tagged is None else tagged  # TLP.CLEAR is 0: no `or` here
    tags = [str(t.get("name")) for t in event_tags if t.get("name")]
    labels = unique([t for t in tags if not t.lower().startswith("tlp:")])
    base = {"event_uuid": event.get("uuid"), "event_info": event.get("info"), "event_date": event.get("date"),
            "event_key": _event_key(event)}
    attributes = list(event.get("Attribute") or [])
    for obj in event.get("Object") or []:
        if isinstance(obj, dict):
            attributes.extend(obj.get("Attribute") or [])
    seen: set[str] = set()
    for attr in attributes:
        if not isinstance(attr, dict) or attr.get("deleted"):
            continue
        item = _attribute_item(attr, event_tlp, labels, base)
        if item is not None and item.key not in seen:
            seen.add(item.key)
            yield item


def _attribute_item(
    attr: dict[str, Any], event_tlp: TLP, labels: list[str], base: dict[str, Any]
) -> Item | None:
    atype, raw = str(attr.get("type", "")), str(attr.get("value", ""))
    extra = {k: v for k, v in base.items() if k != "event_key"}
    extra.update(misp_type=atype, category=attr.get("category"), attribute_uuid=attr.get("uuid"))
    if _TYPES.get(atype):
        itype, value = _TYPES[atype], raw
    elif atype in _COMPOSITE_FIRST:
        itype, _, second = raw.partition("|")
        value, itype = itype, _COMPOSITE_FIRST[atype]
        if second.isdigit():
            extra["port"] = int(second)
    elif atype in _COMPOSITE_SECOND:
        extra["filename"], _, value = raw.rpartition("|")
        itype = _COMPOSITE_SECOND[atype]
    else:
        return None
    canon = canonical_indicator("ipv4" if itype == "ip" else itype, value)
    if canon is None:
        return None
    attr_tlp = _tag_tlp(attr.get("Tag"))
    tlp = event_tlp if attr_tlp is None else max(event_tlp, attr_tlp)
    return Item(
        kind="indicator", key=f"misp:{base['event_key']}:{canon[0]}:{canon[1]}", tlp=tlp.value_str,
        source_format="misp", type=canon[0], value=canon[1], labels=list(labels),
        confidence=80 if attr.get("to_ids") is True else 40, valid_from=iso_utc(attr.get("timestamp")),
        extra={k: v for k, v in extra.items() if v not in (None, "")},
    )
