"""STIX 2.0/2.1 bundles, TAXII 2.1 envelopes and bare object lists → indicators, vulnerabilities, advisories.

Decoding uses msgspec into slim structs (only the fields read here; the rest of each object is
skipped by the decoder), and patterns go through `feeds.stix_patterns` (regex fast path, grammar
fallback). Rules:
- where one id appears in several versions, the newest `modified` wins (older ones are dropped);
- `revoked: true` objects still yield their items, with `revoked=True`, so storage can revoke them;
- TLP: the most restrictive of the object's `object_marking_refs` that name a TLP marking (TLP 1.0
  and 2.0 ids, `definition_type: tlp` definitions and TLP 2.0 extension definitions in the bundle),
  else the source default;
- indicators whose `pattern_type` is not `stix`, whose pattern is invalid or too long, or that name
  no concrete observable are skipped and counted in `StixStats`;
- objects without a string `type` and `id` (or not JSON objects) are skipped and counted.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from certmon.items.schemas import Item
from certmon.tlp import STIX_MARKING_IDS, TLP, parse_tlp
from feeds.base import ParseContext
from feeds.common import fail, iso_utc, json_utf8, plain_text, sanitise_html, unique, utf8_problem
from feeds.stix_context import context_items, relevant_relation
from feeds.stix_patterns import PatternUnsupported, observables
from feeds.textscan import find_cves, find_products

log = logging.getLogger(__name__)

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


class StixObject(msgspec.Struct, gc=False):
    """The fields of a STIX object this adapter reads; every other field is skipped on decode."""

    type: Any = None
    id: Any = None
    spec_version: Any = None
    created: Any = None
    modified: Any = None
    revoked: Any = None
    name: Any = None
    description: Any = None
    pattern: Any = None
    pattern_type: Any = None
    valid_from: Any = None
    valid_until: Any = None
    labels: Any = None
    indicator_types: Any = None
    confidence: Any = None
    object_marking_refs: Any = None
    external_references: Any = None
    published: Any = None
    object_refs: Any = None
    relationship_type: Any = None
    source_ref: Any = None
    target_ref: Any = None
    definition_type: Any = None
    definition: Any = None
    extensions: Any = None


# What `_indicator_items` reads of an indicator: a slimmer struct decodes a quarter faster than
# StixObject. The other fields of StixObject an indicator may hold stay, so that their text is still
# checked as UTF-8 as before (`created` and `modified` are checked by `_Head`).
_INDICATOR_FIELDS = ("id", "spec_version", "revoked", "name", "description", "pattern", "pattern_type",
                     "valid_from", "valid_until", "labels", "indicator_types", "confidence",
                     "object_marking_refs", "external_references", "extensions")
_IndicatorObject: Any = msgspec.defstruct("_IndicatorObject", [(name, Any, None) for name in _INDICATOR_FIELDS],
                                          gc=False)


class _Head(msgspec.Struct, gc=False):
    """What the first pass reads of every object: enough to pick the newest version of each id."""

    type: Any = None
    id: Any = None
    modified: Any = None
    created: Any = None


class _Envelope(msgspec.Struct, gc=False):
    type: Any = None
    id: Any = None
    spec_version: Any = None
    objects: list[msgspec.Raw] | None = None  # zero-copy slices of the input, decoded one at a time


_ENVELOPE = msgspec.json.Decoder(_Envelope | list[msgspec.Raw])
_HEAD = msgspec.json.Decoder(_Head)
_OBJECT = msgspec.json.Decoder(StixObject)
_INDICATOR_OBJECT = msgspec.json.Decoder(_IndicatorObject)

# Type codes kept with each winning object's position (position << 3 | code): the objects that
# yield items, and the few whose content the first pass needs (markings, malware names, relations).
_INDICATOR, _VULNERABILITY, _REPORT, _MARKING, _MALWARE, _RELATIONSHIP, _SIGHTING = 1, 2, 3, 4, 5, 6, 7
_TYPE_CODE = {"indicator": _INDICATOR, "vulnerability": _VULNERABILITY, "report": _REPORT,
              "marking-definition": _MARKING, "malware": _MALWARE, "relationship": _RELATIONSHIP,
              "sighting": _SIGHTING}


@dataclass
class StixStats:
    """What a parse saw and skipped (logged at INFO; pass one in to read it)."""

    objects: int = 0
    items: int = 0
    superseded: int = 0
    invalid_objects: int = 0
    skipped_pattern_type: int = 0
    skipped_bad_pattern: int = 0
    no_observable: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class _Bundle:
    spec_version: str
    raw: list[msgspec.Raw]  # every element of the container, undecoded
    winners: dict[str, int]  # id → position << 3 | type code of its newest version, first-seen order
    marking_tlp: dict[str, TLP]
    malware_names: dict[str, list[str]]
    times: dict[Any, str | None] = field(default_factory=dict)  # iso_utc per distinct timestamp
    relations: list[StixObject] = field(default_factory=list)  # those that can give SCOs context
    sightings: list[str] = field(default_factory=list)

    def get(self, object_id: str) -> StixObject | None:
        """The newest version of an object, decoded on demand (reports look up what they refer to)."""
        code = self.winners.get(object_id)
        return None if code is None else _OBJECT.decode(self.raw[code >> 3])


def parse(data: bytes, ctx: ParseContext, stats: StixStats | None = None) -> Iterator[Item]:
    """Yield items for every indicator, vulnerability and report in a STIX bundle/envelope/list.

    Streams: a first pass reads only each object's type, id and timestamps (plus the few marking,
    malware and relationship objects), then the winning objects are decoded one at a time as their
    items are consumed, so memory stays near the size of the input however large the bundle is.
    """
    stats = stats if stats is not None else StixStats()
    was_enabled = gc.isenabled()
    # Decoding and item building create ~10^5 acyclic objects each; cyclic collections in between
    # only re-scan them (about a quarter of the run time). Restored when the generator finishes.
    gc.disable()
    try:
        bundle = _index(*_decode(data, ctx), stats)
        raw, decode, decode_indicator = bundle.raw, _OBJECT.decode, _INDICATOR_OBJECT.decode
        # Only a bundle that can put observables in context records what the patterns yielded.
        yielded: set[tuple[str, str]] | None = set() if bundle.relations or bundle.sightings else None
        for code in bundle.winners.values():
            kind = code & 7
            if kind == _INDICATOR:
                items = _indicator_items(decode_indicator(raw[code >> 3]), bundle, ctx, stats)
                if yielded is not None:
                    yielded.update((str(i.type), str(i.value)) for i in items)
                yield from items
            elif kind == _VULNERABILITY:
                stats.items += 1
                yield _vulnerability(decode(raw[code >> 3]), bundle, ctx)
            elif kind == _REPORT:
                stats.items += 1
                yield _report(decode(raw[code >> 3]), bundle, ctx)
        if yielded is not None:
            yield from context_items(bundle, ctx, stats, yielded)
    except UnicodeDecodeError as exc:  # msgspec checks UTF-8 as it decodes each object's strings
        where = utf8_problem(json_utf8(data, ctx)) or exc.reason
        raise fail(ctx, "", f"not valid UTF-8 ({where}); STIX is UTF-8 JSON") from None
    finally:
        if was_enabled:
            gc.enable()
    log.info("stix %s: %s", ctx.filename or ctx.source_name, stats)


def _decode(data: bytes, ctx: ParseContext) -> tuple[str, list[msgspec.Raw]]:
    data = json_utf8(data, ctx)  # BOM / UTF-16 / UTF-32; plain UTF-8 is not copied
    try:
        top = _ENVELOPE.decode(data)
    except msgspec.ValidationError:
        raise fail(ctx, "top level", "'objects' is not a list") from None
    except msgspec.DecodeError as exc:
        raise fail(ctx, "", f"invalid JSON: {exc}") from None
    except RecursionError:
        raise fail(ctx, "", "JSON nested too deeply") from None
    if isinstance(top, list):
        return "", top
    if top.objects is None and isinstance(top.type, str) and top.type != "bundle" and top.id is not None:
        return "", [msgspec.Raw(data)]  # one bare STIX object
    if top.objects is None:
        raise fail(ctx, "top level", "not a STIX bundle, TAXII envelope or list of objects (no 'objects')")
    return str(top.spec_version or ""), top.objects


def _index(spec: str, raw: list[msgspec.Raw], stats: StixStats) -> _Bundle:
    """First pass: the newest version of each id, TLP markings and malware names, without keeping
    any decoded object beyond the markings, malware and relationships."""
    winners: dict[str, int] = {}
    head = _HEAD.decode
    for position, element in enumerate(raw):
        try:
            obj = head(element)
        except msgspec.ValidationError:
            stats.invalid_objects += 1
            stats.problems.append(f"objects[{position}]: not a JSON object")
            continue
        stats.objects += 1
        object_id = obj.id
        if not isinstance(obj.type, str) or not isinstance(object_id, str):
            stats.invalid_objects += 1
            continue
        previous = winners.get(object_id)
        if previous is not None:
            stats.superseded += 1
            if _stamp(head(raw[previous >> 3])) >= _stamp(obj):
                continue
        winners[object_id] = position << 3 | _TYPE_CODE.get(obj.type, 0)
    marking_tlp = dict(STIX_MARKING_IDS)
    names: dict[str, str] = {}
    relations: list[StixObject] = []
    context_relations: list[StixObject] = []
    sightings: list[str] = []
    for object_id, code in winners.items():
        kind = code & 7
        if kind < _MARKING:
            continue
        if kind == _SIGHTING:
            sightings.append(object_id)
            continue
        full = _OBJECT.decode(raw[code >> 3])
        if kind == _MARKING:
            tlp = _definition_tlp(full)
            if tlp is not None:
                marking_tlp[object_id] = tlp
        elif kind == _MALWARE and isinstance(full.name, str):
            names[object_id] = full.name
        elif kind == _RELATIONSHIP and full.relationship_type == "indicates":
            relations.append(full)
        elif kind == _RELATIONSHIP and relevant_relation(full.relationship_type, full.source_ref, full.target_ref):
            context_relations.append(full)
    malware_names: dict[str, list[str]] = {}
    for rel in relations:
        if _is_key(rel.target_ref, names):
            malware_names.setdefault(str(rel.source_ref), []).append(names[rel.target_ref])
    return _Bundle(spec, raw, winners, marking_tlp, malware_names, relations=context_relations,
                   sightings=sightings)


def _stamp(obj: _Head | StixObject) -> str:
    # "…:16" < "…:16.432" once the Z is gone, so plain string order follows time order.
    return str(obj.modified or obj.created or "").rstrip("Z")


def _definition_tlp(obj: StixObject) -> TLP | None:
    if obj.definition_type == "tlp" and isinstance(obj.definition, dict):
        return parse_tlp(obj.definition.get("tlp"), TLP.RED) if obj.definition.get("tlp") else None
    if isinstance(obj.extensions, dict) and isinstance(obj.extensions.get(TLP2_EXTENSION), dict):
        label = obj.extensions[TLP2_EXTENSION].get("tlp_2_0")
        return parse_tlp(label, TLP.RED) if label else None
    return None


def _tlp(obj: StixObject, bundle: _Bundle, ctx: ParseContext) -> str:
    refs = obj.object_marking_refs
    if type(refs) is list and len(refs) == 1 and type(refs[0]) is str:  # the usual single marking
        single = bundle.marking_tlp.get(refs[0])
        return single.value_str if single is not None else ctx.default_tlp.value_str
    if isinstance(refs, list) and refs:
        found = [bundle.marking_tlp[r] for r in refs if isinstance(r, str) and r in bundle.marking_tlp]
        if found:
            return max(found).value_str
    return ctx.default_tlp.value_str


def _indicator_items(obj: StixObject, bundle: _Bundle, ctx: ParseContext, stats: StixStats) -> list[Item]:
    """The items of an indicator (decoded as `_IndicatorObject`: the StixObject fields read here)."""
    if obj.pattern_type not in (None, "stix") or not isinstance(obj.pattern, str):
        stats.skipped_pattern_type += 1
        return []
    version = obj.spec_version or bundle.spec_version or ("2.1" if obj.pattern_type else "2.0")
    try:
        found = observables(obj.pattern, str(version))
    except PatternUnsupported as exc:
        stats.skipped_bad_pattern += 1
        stats.problems.append(f"{obj.id}: {exc}")
        return []
    if not found:
        stats.no_observable += 1
        return []
    labels = _labels(obj, bundle)
    tlp = _tlp(obj, bundle, ctx)
    confidence = obj.confidence  # the common cases of `_confidence` and `_time`, without their calls
    if type(confidence) is not int or not 0 <= confidence <= 100:
        confidence = _confidence(confidence)
    valid_from = _time(obj.valid_from, bundle)
    valid_until = None if obj.valid_until is None else _time(obj.valid_until, bundle)
    revoked = obj.revoked is True
    stats.items += len(found)
    if len(found) == 1:  # the usual case, without a comprehension's own call
        ((itype, value),) = found
        return [Item(kind="indicator", key=f"stix:{obj.id}:{itype}:{value}", tlp=tlp, source_format="stix",
                     type=itype, value=value, labels=labels, confidence=confidence, valid_from=valid_from,
                     valid_until=valid_until, revoked=revoked)]
    prefix = f"stix:{obj.id}:"
    return [
        Item(kind="indicator", key=f"{prefix}{itype}:{value}", tlp=tlp, source_format="stix", type=itype,
             value=value, labels=list(labels), confidence=confidence,
             valid_from=valid_from, valid_until=valid_until, revoked=revoked)
        for itype, value in found
    ]


def _time(value: Any, bundle: _Bundle) -> str | None:
    """iso_utc, once per distinct string (feeds repeat the same timestamps many times)."""
    if value is None:
        return None
    if type(value) is not str:
        return iso_utc(value)
    got = bundle.times.get(value, bundle)
    if got is bundle:
        got = bundle.times[value] = iso_utc(value)
    return got  # type: ignore[return-value]


def _labels(obj: StixObject, bundle: _Bundle) -> list[str]:
    types = obj.indicator_types
    if type(types) is list and len(types) == 1 and obj.labels is None and type(types[0]) is str and types[0] \
            and obj.id not in bundle.malware_names:
        return types  # the common STIX 2.1 case: the decoded list is this object's own, so no copy
    values: list[str] = []
    for group in (obj.indicator_types, obj.labels):
        if isinstance(group, list):
            values.extend(str(v) for v in group if isinstance(v, str))
    values.extend(bundle.malware_names.get(obj.id, ()))
    return unique(values)


def _confidence(value: Any) -> int | None:
    if type(value) is int:
        return value if 0 <= value <= 100 else max(0, min(100, value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0, min(100, int(value)))
    return None


def _external(obj: StixObject) -> tuple[list[str], str | None]:
    cves: list[str] = []
    url: str | None = None
    for ref in obj.external_references if isinstance(obj.external_references, list) else ():
        if not isinstance(ref, dict):
            continue
        if str(ref.get("source_name", "")).lower() == "cve" and ref.get("external_id"):
            cves.append(str(ref["external_id"]).strip().upper())
        if url is None and isinstance(ref.get("url"), str):
            url = ref["url"]
    return cves, url


def _vulnerability(obj: StixObject, bundle: _Bundle, ctx: ParseContext) -> Item:
    cves, url = _external(obj)
    name = str(obj.name) if obj.name else None
    if not cves and name:
        cves = find_cves(name)
    description = str(obj.description) if isinstance(obj.description, str) else None
    return Item(
        kind="vulnerability", key=f"stix:{obj.id}", tlp=_tlp(obj, bundle, ctx), source_format="stix",
        title=name, cve=cves[0] if cves else None, cves=sorted(set(cves)), url=url,
        summary=sanitise_html(description), published=iso_utc(obj.created), updated=iso_utc(obj.modified),
        revoked=obj.revoked is True,
    )


def _report(obj: StixObject, bundle: _Bundle, ctx: ParseContext) -> Item:
    _, url = _external(obj)
    name = str(obj.name) if obj.name else None
    description = str(obj.description) if isinstance(obj.description, str) else ""
    text = f"{name or ''}\n{plain_text(description)}"
    cves = set(find_cves(text))
    for ref in obj.object_refs if isinstance(obj.object_refs, list) else ():
        target = bundle.get(ref) if isinstance(ref, str) else None
        if target is not None and target.type == "vulnerability":
            cves.update(_external(target)[0] or find_cves(str(target.name or "")))
    return Item(
        kind="advisory", key=f"stix:{obj.id}", tlp=_tlp(obj, bundle, ctx), source_format="stix",
        title=name, url=url, published=iso_utc(obj.published) or iso_utc(obj.created),
        updated=iso_utc(obj.modified), summary=sanitise_html(description), cves=sorted(cves),
        products=find_products(text), revoked=obj.revoked is True,
    )


def _is_key(value: Any, mapping: dict[str, Any]) -> bool:
    return isinstance(value, str) and value in mapping
