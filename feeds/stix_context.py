"""STIX observables (SCOs) that are indicators by their context in the bundle, not by a pattern.

A cyber observable alone says only that something was seen; it becomes an indicator here when the
bundle puts it in malicious context:
- an `infrastructure` that `consists-of` it, when that infrastructure is linked by any relationship
  but `targets` to a malware, intrusion set, threat actor or campaign (the C2 and hosting idioms);
- an `observed-data` that holds or refers to it (`objects` in 2.0, `object_refs` in 2.1), when a
  `sighting` refers to that observed-data, or a relationship other than `targets` links it to one of
  those malicious objects or to an indicator;
`targets` says the object is the victim (a campaign targets the municipality's mail servers): its
addresses are the attacked, not the attacker's, and never become indicators.
- an indicator's `based-on` relationship to it (directly, or to an observed-data holding it).
SCOs read: ipv4-addr, ipv6-addr, domain-name, url, email-addr, file (MD5/SHA-1/SHA-256 hashes).
Each yields one indicator per value (key `stix:<SCO id>:<type>:<value>`, for 2.0's embedded objects
`stix:<observed-data id>/<n>:…`) with the context in `extra.context` and the malware/infrastructure
names as labels; TLP is the most restrictive marking on the SCO and on every object of its context,
else the source default. A value a pattern already yielded in the same bundle is not repeated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from certmon.items.schemas import Item
from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.common import canonical_indicator, iso_utc, unique


class _Bundle(Protocol):
    """What this module reads of feeds.stix's indexed bundle (a Protocol: no import cycle)."""

    raw: list[msgspec.Raw]
    winners: dict[str, int]  # id → position << 3 | type code
    marking_tlp: dict[str, TLP]
    malware_names: dict[str, list[str]]
    relations: list[Any]  # StixObject relationships that can give context
    sightings: list[str]


class _Stats(Protocol):
    items: int

MALICIOUS = ("malware", "intrusion-set", "threat-actor", "campaign")
VICTIM = frozenset({"targets"})  # relationships that name the victim, not the attacker's means
_VALUE_TYPES = {"ipv4-addr": "ipv4", "ipv6-addr": "ipv6", "domain-name": "domain", "url": "url",
                "email-addr": "email"}
_HASHES = {"md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256"}
MAX_CONTEXT = 20  # context entries kept per observable


class _Obj(msgspec.Struct, gc=False):
    """The fields of context objects and SCOs read here."""

    type: Any = None
    id: Any = None
    name: Any = None
    value: Any = None
    hashes: Any = None
    objects: Any = None  # STIX 2.0 observed-data: embedded SCOs by index
    object_refs: Any = None
    observed_data_refs: Any = None
    sighting_of_ref: Any = None
    object_marking_refs: Any = None
    first_seen: Any = None
    first_observed: Any = None
    last_seen: Any = None
    last_observed: Any = None
    created: Any = None


_DECODE = msgspec.json.Decoder(_Obj)


def relevant_relation(rtype: Any, source: Any, target: Any) -> bool:
    """Whether a (non-`indicates`) relationship can put an observable in context."""
    if not isinstance(source, str) or not isinstance(target, str):
        return False
    ends = (_kind(source), _kind(target))
    return rtype in ("consists-of", "based-on") or "observed-data" in ends or "infrastructure" in ends


@dataclass
class _Found:
    itype: str
    value: str
    context: list[dict[str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    tlps: list[TLP] = field(default_factory=list)
    seen: str | None = None


class _Reader:
    def __init__(self, bundle: _Bundle, ctx: ParseContext) -> None:
        self.bundle, self.ctx = bundle, ctx
        self.cache: dict[str, _Obj | None] = {}
        self.found: dict[tuple[str, str], _Found] = {}
        self.order: list[tuple[str, str, str]] = []  # (key prefix, type, value), first-found order

    def get(self, object_id: Any) -> _Obj | None:
        if not isinstance(object_id, str):
            return None
        if object_id not in self.cache:
            code = self.bundle.winners.get(object_id)
            self.cache[object_id] = None if code is None else _DECODE.decode(self.bundle.raw[code >> 3])
        return self.cache[object_id]

    def name(self, object_id: str) -> str:
        obj = self.get(object_id)
        return str(obj.name) if obj is not None and isinstance(obj.name, str) else object_id

    def tlps(self, *objs: Any) -> list[TLP]:
        marks = self.bundle.marking_tlp
        return [marks[r] for o in objs if o is not None and isinstance(o.object_marking_refs, list)
                for r in o.object_marking_refs if isinstance(r, str) and r in marks]

    def add(self, key: str, sco: dict[str, Any] | _Obj, context: dict[str, str], labels: list[str],
            via: list[Any], seen: Any) -> None:
        """Record every indicator value of one SCO under one context."""
        get = sco.get if isinstance(sco, dict) else lambda name: getattr(sco, name, None)
        sco_tlps = self.tlps(*via) + (self.tlps(sco) if not isinstance(sco, dict) else [])
        for itype, value in _values(get("type"), get("value"), get("hashes")):
            entry = self.found.get((itype, value))
            if entry is None:
                entry = self.found[(itype, value)] = _Found(itype, value)
                self.order.append((key, itype, value))
            if context not in entry.context and len(entry.context) < MAX_CONTEXT:
                entry.context.append(context)
            entry.labels.extend(labels)
            entry.tlps.extend(sco_tlps)
            stamp = iso_utc(seen)
            if stamp and (entry.seen is None or stamp < entry.seen):
                entry.seen = stamp

    def observed(self, od: _Obj, context: dict[str, str], labels: list[str], via: list[Any],
                 seen: Any = None) -> None:
        """Every SCO an observed-data holds (2.0) or refers to (2.1)."""
        when = seen or od.first_observed or od.created
        if isinstance(od.objects, dict):
            for index, sco in od.objects.items():
                if isinstance(sco, dict):
                    self.add(f"{od.id}/{index}", sco, context, labels, [*via, od], when)
        for ref in od.object_refs if isinstance(od.object_refs, list) else ():
            sco = self.get(ref)
            if sco is not None:
                self.add(str(ref), sco, context, labels, [*via, od], when)


def context_items(bundle: _Bundle, ctx: ParseContext, stats: _Stats,
                  yielded: set[tuple[str, str]]) -> Iterator[Item]:
    """Indicators for the SCOs the bundle's relationships and sightings put in malicious context."""
    reader = _Reader(bundle, ctx)
    _infrastructure(reader)
    _observed_and_based_on(reader)
    for key, itype, value in reader.order:
        if (itype, value) in yielded:
            continue
        entry = reader.found[(itype, value)]
        tlp = max(entry.tlps) if entry.tlps else ctx.default_tlp
        stats.items += 1
        yield Item(kind="indicator", key=f"stix:{key}:{itype}:{value}", tlp=tlp.value_str, source_format="stix",
                   type=itype, value=value, labels=unique(entry.labels), valid_from=entry.seen,
                   extra={"context": entry.context})


def _infrastructure(reader: _Reader) -> None:
    links: dict[str, list[tuple[str, str]]] = {}  # infrastructure id → (relationship, malicious id)
    for rel in reader.bundle.relations:
        if rel.relationship_type in VICTIM:
            continue
        for infra, other in ((rel.source_ref, rel.target_ref), (rel.target_ref, rel.source_ref)):
            if _kind(infra) == "infrastructure" and _kind(other) in MALICIOUS:
                links.setdefault(infra, []).append((str(rel.relationship_type), other))
    for rel in reader.bundle.relations:
        infra_id, sco_id = rel.source_ref, rel.target_ref
        if rel.relationship_type != "consists-of" or infra_id not in links:
            continue
        infra, sco = reader.get(infra_id), reader.get(sco_id)
        if infra is None or sco is None:
            continue
        for rtype, other_id in links[infra_id]:
            other = reader.get(other_id)
            context = {"via": "infrastructure", "infrastructure": reader.name(infra_id),
                       "relationship": rtype, _kind(other_id): reader.name(other_id)}
            names = [reader.name(infra_id), reader.name(other_id)]
            via, when = [infra, other, rel], infra.first_seen or infra.created
            if sco.type == "observed-data":
                reader.observed(sco, context, names, via, when)
            else:
                reader.add(str(sco_id), sco, context, names, via, when)


def _observed_and_based_on(reader: _Reader) -> None:
    for sighting_id in reader.bundle.sightings:
        sighting = reader.get(sighting_id)
        if sighting is None or not isinstance(sighting.observed_data_refs, list):
            continue
        what = sighting.sighting_of_ref if isinstance(sighting.sighting_of_ref, str) else ""
        labels = [reader.name(what)] if _kind(what) in MALICIOUS else []
        labels += reader.bundle.malware_names.get(what, [])
        context = {"via": "sighting", "sighting_of": reader.name(what) if what else ""}
        for ref in sighting.observed_data_refs:
            od = reader.get(ref)
            if od is not None and od.type == "observed-data":
                reader.observed(od, context, labels, [sighting, reader.get(what)], sighting.first_seen)
    for rel in reader.bundle.relations:
        source, target, rtype = rel.source_ref, rel.target_ref, str(rel.relationship_type)
        if rtype == "based-on" and _kind(source) == "indicator":
            ind, obj = reader.get(source), reader.get(target)
            context = {"via": "based-on", "indicator": reader.name(source), "relationship": rtype}
            labels = list(reader.bundle.malware_names.get(source, ()))
            if obj is not None and obj.type == "observed-data":
                reader.observed(obj, context, labels, [ind, rel])
            elif obj is not None:
                reader.add(str(target), obj, context, labels, [ind, rel], obj.created)
            continue
        if rtype in VICTIM:
            continue
        for od_id, other in ((source, target), (target, source)):
            if _kind(od_id) == "observed-data" and _kind(other) in (*MALICIOUS, "indicator"):
                od, other_obj = reader.get(od_id), reader.get(other)
                if od is not None:
                    context = {"via": "observed-data", "relationship": rtype, _kind(other): reader.name(other)}
                    labels = [reader.name(other)] if _kind(other) in MALICIOUS else []
                    reader.observed(od, context, labels, [other_obj, rel])


def _values(stype: Any, value: Any, hashes: Any) -> list[tuple[str, str]]:
    if stype == "file":
        found = []
        for algo, digest in hashes.items() if isinstance(hashes, dict) else ():
            itype = _HASHES.get(str(algo).lower())
            canon = canonical_indicator(itype, digest) if itype else None
            if canon is not None:
                found.append(canon)
        return found
    itype = _VALUE_TYPES.get(str(stype))
    canon = canonical_indicator(itype, value) if itype else None
    return [canon] if canon is not None else []


def _kind(object_id: Any) -> str:
    """The type part of a STIX id (`malware--…` → `malware`)."""
    return object_id.partition("--")[0] if isinstance(object_id, str) else ""
