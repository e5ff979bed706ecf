"""certmon's TAXII 2.1 server under a real uvicorn on loopback, read with the real taxii2-client library
and with certmon's own TAXII adapter (feeds/taxii.py): collections per role and clearance, objects,
filters, manifest, versions, paging, error objects and both kinds of token authentication."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
import stix2
from sqlalchemy import select
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from certmon.api.app import create_app
from certmon.auth.service import create_user, issue_token
from certmon.exports.service import TLP2_MARKING, indicator_id
from certmon.items.models import StoredItem
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.notify.models import Notification, NotificationMatch
from certmon.registry.models import Constituent
from certmon.sources.models import Source
from certmon.taxii.service import COLLECTION_NAMESPACE, encode_next
from certmon.tlp import TLP
from tests.conftest import CertmonEnv, serving

pytestmark = pytest.mark.slow
MEDIA = "application/taxii+json;version=2.1"
_seq = itertools.count(1)


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@dataclass
class World:
    base: str
    env: CertmonEnv
    tokens: dict[str, str]
    org: int
    other_org: int
    source_id: int
    values: dict[str, TLP]  # every planted indicator value and its TLP
    alerted: dict[str, int]  # values alerted to an organisation → that organisation

    @property
    def discovery(self) -> str:
        return f"{self.base}/taxii2/"

    def server(self, who: str, *, bearer: bool = False) -> Server:
        if bearer:
            return Server(self.discovery, auth=Bearer(self.tokens[who]))
        return Server(self.discovery, user="brannmur", password=self.tokens[who])

    def get(self, path: str, who: str | None = None, **kw) -> requests.Response:
        headers = {"Accept": MEDIA, **kw.pop("headers", {})}
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return requests.request(kw.pop("method", "GET"), f"{self.base}{path}", headers=headers, timeout=30, **kw)


def _plant(session, source_id: int, tlp: TLP, value: str) -> int:
    (item_id,) = upsert_items(session, source_id=source_id, items=[Item(
        kind="indicator", key=f"k-{value}", tlp=tlp.value_str, source_format="stix", type="domain",
        value=value, labels=["c2"], confidence=80)]).new_ids
    return item_id


def _alert(session, item_id: int, org: int, tlp: TLP) -> None:
    n = next(_seq)
    match = Match(item_id=item_id, constituent_id=org, rule="domain", asset="example", confidence=90,
                  explanation="Treff.", severity="high", status="confirmed")
    session.add(match)
    session.flush()
    note = Notification(reference=f"HKC-2026-8{n:05d}", constituent_id=org, mode="immediate", status="sent",
                        dedupe_key=f"taxii:{n}", tlp=tlp.value_str, severity="high")
    session.add(note)
    session.flush()
    session.add(NotificationMatch(notification_id=note.id, match_id=match.id))


@pytest.fixture
def world(sqlite_env: CertmonEnv) -> Iterator[World]:
    """Embedded SQLite: most tests."""
    yield from _world(sqlite_env)


@pytest.fixture
def any_world(any_env: CertmonEnv) -> Iterator[World]:
    """The same on SQLite and on PostgreSQL: the tests of who sees what, and the round trip."""
    yield from _world(any_env)


def _world(env: CertmonEnv) -> Iterator[World]:
    values: dict[str, TLP] = {}
    alerted: dict[str, int] = {}
    with env.factory.begin() as s:
        org, other = s.scalars(select(Constituent.id).order_by(Constituent.id).limit(2)).all()
        src = Source(name="taxii-test", title="TAXII-test", format="stix", url="https://feed.invalid/")
        s.add(src)
        s.flush()
        for tlp in TLP:
            for kind in ("plain", "own", "other"):
                value = f"{kind}-{tlp.value_str.replace('+', '-')}.example"
                item_id = _plant(s, src.id, tlp, value)
                values[value] = tlp
                if kind != "plain":
                    target = org if kind == "own" else other
                    _alert(s, item_id, target, tlp)
                    alerted[value] = target
        tokens = {}
        for name, role, tlp_max, constituent in (
            ("reader", "reader", "amber", None), ("analyst", "analyst", "red", None),
            ("analyst-amber", "analyst", "amber", None), ("constituent", "constituent", "amber+strict", org),
            ("constituent-amber", "constituent", "amber", org), ("feeder", "feeder", None, None),
        ):
            user = create_user(s, email=f"{name}@cert.example", role=role, password="taxii-passord-1",
                               tlp_max=tlp_max, constituent_id=constituent)
            tokens[name] = issue_token(s, user=user)
        source_id = src.id
    with serving(create_app()) as port:
        yield World(f"http://127.0.0.1:{port}", env, tokens, org, other, source_id, values, alerted)


def _collection_url(w: World, cid: str) -> str:
    return f"{w.base}/taxii2/certmon/collections/{cid}/"


def _tlp_id(tlp: TLP) -> str:
    return str(uuid.uuid5(COLLECTION_NAMESPACE, f"tlp:{tlp.value_str}"))


def _all_objects(collection: Collection, **filters) -> list[dict]:
    return [o for env in as_pages(collection.get_objects, per_request=50, **filters) for o in env.get("objects", [])]


def _values(objects: list[dict]) -> set[str]:
    return {o["name"].split(" ", 1)[1] for o in objects if o["type"] == "indicator"}


def test_discovery_api_root_and_collections_per_role_and_clearance(any_world: World) -> None:
    world = any_world
    server = world.server("analyst")
    assert server.title == "Helse- og KommuneCERT TAXII"
    assert [r.url for r in server.api_roots] == [f"{world.base}/taxii2/certmon/"]
    root = server.default
    assert root.versions == [MEDIA]
    seen = {c.title: c.id for c in root.collections}
    assert seen == {f"Indikatorer {t.label}": _tlp_id(t) for t in TLP}
    assert all(c.can_read and not c.can_write for c in root.collections)
    for who, levels in (("reader", (TLP.CLEAR, TLP.GREEN, TLP.AMBER)),
                        ("analyst-amber", (TLP.CLEAR, TLP.GREEN, TLP.AMBER))):
        ids = [c.id for c in world.server(who).default.collections]
        assert ids == [_tlp_id(t) for t in levels], who  # the same stable ids for everyone
    (mine,) = world.server("constituent").default.collections
    assert mine.title == "Våre indikatorer" and "TLP:AMBER+STRICT" in mine.description


def test_objects_are_stix_21_with_stable_ids_and_tlp_20_markings(world: World) -> None:
    coll = Collection(_collection_url(world, _tlp_id(TLP.AMBER)), user="x", password=world.tokens["analyst"])
    first = _all_objects(coll)
    again = _all_objects(coll)
    assert first == again
    bundle = stix2.parse({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": first}, allow_custom=False)
    types = [o.type for o in bundle.objects]
    assert types[:2] == ["identity", "marking-definition"] and set(types[2:]) == {"indicator"}
    assert first[1]["id"] == TLP2_MARKING[TLP.AMBER]
    assert first[1]["extensions"]["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"]["tlp_2_0"] == "amber"
    indicators = [o for o in first if o["type"] == "indicator"]
    assert _values(indicators) == {v for v, t in world.values.items() if t == TLP.AMBER}
    assert all(o["object_marking_refs"] == [TLP2_MARKING[TLP.AMBER]] for o in indicators)
    with world.env.factory() as s:
        keys = dict(s.execute(select(StoredItem.value, StoredItem.key)).tuples().all())
    assert {o["id"] for o in indicators} == {indicator_id(world.source_id, keys[v]) for v in _values(indicators)}


def test_an_amber_capped_analyst_never_sees_red(any_world: World) -> None:
    world = any_world
    server = world.server("analyst-amber")
    got = set()
    for c in server.default.collections:
        got |= _values(_all_objects(c))
    assert got == {v for v, t in world.values.items() if t <= TLP.AMBER}
    r = world.get(f"/taxii2/certmon/collections/{_tlp_id(TLP.RED)}/objects/", "analyst-amber")
    assert r.status_code == 404 and r.headers["content-type"] == MEDIA
    red = next(v for v, t in world.values.items() if t == TLP.RED)
    assert r.json()["http_status"] == "404" and red not in r.text
    stix_id = indicator_id(world.source_id, f"k-{red}")
    r = world.get(f"/taxii2/certmon/collections/{_tlp_id(TLP.AMBER)}/objects/{stix_id}/", "analyst-amber")
    assert r.status_code == 404 and red not in r.text


def test_a_constituent_sees_only_what_its_own_organisation_was_alerted(any_world: World) -> None:
    world = any_world
    for who, top in (("constituent", TLP.AMBER_STRICT), ("constituent-amber", TLP.AMBER)):
        (mine,) = world.server(who).default.collections
        objects = _all_objects(mine)
        expected = {v for v, org in world.alerted.items() if org == world.org and world.values[v] <= top}
        assert _values(objects) == expected
        assert {o["id"] for o in objects if o["type"] == "marking-definition"} == {
            TLP2_MARKING[t] for t in TLP if t <= top}
    for tlp in TLP:  # and no staff collection is theirs
        r = world.get(f"/taxii2/certmon/collections/{_tlp_id(tlp)}/objects/", "constituent")
        assert r.status_code == 404


def test_an_old_indicator_alerted_later_is_new_to_the_organisations_poll(any_world: World) -> None:
    world = any_world
    with world.env.factory.begin() as s:
        item_id = _plant(s, world.source_id, TLP.GREEN, "gammel-men-ny.example")
        old = s.get(StoredItem, item_id)
        old.first_seen = old.updated_at = datetime(2025, 1, 1, tzinfo=UTC)  # stored long ago
    (mine,) = world.server("constituent").default.collections
    r = world.get(f"/taxii2/certmon/collections/{mine.id}/objects/", "constituent")
    cursor = r.headers["X-TAXII-Date-Added-Last"]
    assert "gammel-men-ny.example" not in r.text  # not alerted yet
    with world.env.factory.begin() as s:
        _alert(s, item_id, world.org, TLP.GREEN)  # released now
    since = _all_objects(mine, added_after=cursor)
    assert _values(since) == {"gammel-men-ny.example"}
    r = world.get(f"/taxii2/certmon/collections/{mine.id}/manifest/", "constituent",
                  params={"added_after": cursor})
    (record,) = r.json()["objects"]
    assert record["date_added"] > cursor and record["version"] == "2025-01-01T00:00:00.000Z"
    assert world.get(f"/taxii2/certmon/collections/{_tlp_id(TLP.GREEN)}/objects/", "analyst",
                     params={"added_after": cursor}).json() == {"more": False}  # staff: stored in 2025


def test_match_filters(world: World) -> None:
    coll = world.server("analyst").default.collections[0]  # TLP:CLEAR
    everything = _all_objects(coll)
    indicators = [o for o in everything if o["type"] == "indicator"]
    assert len(_all_objects(coll, type="indicator")) == len(indicators) == 3
    assert [o["type"] for o in _all_objects(coll, type=["marking-definition", "identity"])] == [
        "identity", "marking-definition"]
    picked = [indicators[0]["id"], indicators[2]["id"]]
    assert [o["id"] for o in _all_objects(coll, id=picked)] == picked
    assert _all_objects(coll, id="indicator--00000000-0000-4000-8000-000000000000") == []
    version = indicators[1]["modified"]
    assert {o["id"] for o in _all_objects(coll, type="indicator", version=version)} >= {indicators[1]["id"]}
    assert _all_objects(coll, type="indicator", version="2001-01-01T00:00:00.000Z") == []
    for keyword in ("last", "first", "all"):
        assert len(_all_objects(coll, version=keyword)) == len(everything)
    assert len(_all_objects(coll, spec_version="2.1")) == len(everything)
    assert _all_objects(coll, spec_version="2.0") == []
    envelope = coll.get_object(indicators[0]["id"])
    assert envelope["objects"] == [indicators[0]] and envelope["more"] is False


def test_manifest_and_versions(world: World) -> None:
    coll = world.server("analyst").default.collections[2]  # TLP:AMBER
    objects = _all_objects(coll)
    records = [r for env in as_pages(coll.get_manifest, per_request=4) for r in env.get("objects", [])]
    assert [(r["id"], r["version"]) for r in records] == [(o["id"], o.get("modified", o["created"])) for o in objects]
    assert {r["media_type"] for r in records} == {"application/stix+json;version=2.1"}
    dates = [r["date_added"] for r in records]
    assert dates == sorted(dates)
    indicator = objects[-1]
    versions = coll.object_versions(indicator["id"])
    assert versions == {"more": False, "versions": [indicator["modified"]]}
    r = world.get(f"/taxii2/certmon/collections/{coll.id}/objects/{indicator['id']}/versions/", "analyst")
    assert r.headers["X-TAXII-Date-Added-First"] == r.headers["X-TAXII-Date-Added-Last"] == records[-1]["date_added"]
    r = world.get(f"/taxii2/certmon/collections/{coll.id}/manifest/?limit=2", "analyst")
    body = r.json()
    assert body["more"] is True and len(body["objects"]) == 2 and body["next"]
    assert r.headers["X-TAXII-Date-Added-Last"] == body["objects"][-1]["date_added"]


def test_errors_are_taxii_error_objects(world: World) -> None:
    coll = f"/taxii2/certmon/collections/{_tlp_id(TLP.CLEAR)}"
    cases = [
        ("GET", "/taxii2/", None, {}, 401),
        ("GET", f"{coll}/objects/", None, {"Authorization": "Bearer cm_unknown"}, 401),
        ("GET", f"{coll}/objects/", None, {"Authorization": "Basic !!notbase64"}, 401),
        ("GET", "/taxii2/", "feeder", {}, 403),
        ("GET", "/taxii2/", "reader", {"Accept": "application/json"}, 406),
        ("GET", "/taxii2/", "reader", {"Accept": "application/taxii+json;version=2.0"}, 406),
        ("GET", f"{coll}/objects/?limit=0", "reader", {}, 400),
        ("GET", f"{coll}/objects/?limit=ti", "reader", {}, 400),
        ("GET", f"{coll}/objects/?next=xyz", "reader", {}, 400),
        ("GET", f"{coll}/objects/?next={encode_next((datetime.now(UTC), 2**40))}", "reader", {}, 400),
        ("GET", f"{coll}/objects/?added_after=i-går", "reader", {}, 400),
        ("GET", f"{coll}/objects/?match[version]=snart", "reader", {}, 400),
        ("POST", f"{coll}/objects/", "reader", {"Content-Type": MEDIA}, 403),
        ("DELETE", f"{coll}/objects/indicator--00000000-0000-4000-8000-000000000000/", "reader", {}, 403),
        ("PUT", f"{coll}/objects/", "reader", {}, 405),
        ("GET", "/taxii2/certmon/collections/00000000-0000-0000-0000-000000000000/", "reader", {}, 404),
        ("GET", "/taxii2/annen-rot/collections/", "reader", {}, 404),
        ("GET", f"{coll}/objects/indicator--00000000-0000-4000-8000-000000000000/", "reader", {}, 404),
        ("GET", "/taxii2/certmon/status/abc/", "reader", {}, 404),
        ("GET", "/taxii2/certmon/finnes/ikke/", "reader", {}, 404),
    ]
    for method, path, who, headers, status in cases:
        r = world.get(path, who, method=method, headers=headers, data=b"{}" if method == "POST" else None)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == MEDIA, (path, r.headers)
        body = r.json()
        assert body["http_status"] == str(status) and body["title"], body
        if status == 401:
            challenge = r.headers["WWW-Authenticate"]
            assert challenge.startswith("Basic realm=") and "Bearer" in challenge
        if status == 405:
            assert "GET" in r.headers["Allow"]
    assert world.get("/taxii2/", None).json()["title"] == "Innlogging kreves"


def test_an_item_stix2_refuses_is_left_out_and_the_page_still_answers(world: World) -> None:
    with world.env.factory.begin() as s:
        bad = s.get(StoredItem, _plant(s, world.source_id, TLP.CLEAR, "rar-dato.example"))
        bad.data = {**bad.data, "valid_until": "snart"}  # a string stix2 cannot read as a timestamp
    coll = world.server("reader").default.collections[0]
    assert _values(_all_objects(coll)) == {v for v, t in world.values.items() if t == TLP.CLEAR}
    assert len(coll.get_manifest()["objects"]) == 2 + 4  # it is still listed, as stored


def test_basic_and_bearer_authentication(world: World) -> None:
    for bearer in (False, True):
        assert len(world.server("reader", bearer=bearer).default.collections) == 3
    basic = base64.b64encode(f"hvem-som-helst:{world.tokens['reader']}".encode()).decode()
    assert world.get("/taxii2/", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    token_scheme = {"Authorization": f"Token {world.tokens['reader']}"}  # taxii2-client's TokenAuth (OpenCTI)
    assert world.get("/taxii2/", headers=token_scheme).status_code == 200
    wrong = base64.b64encode(b"reader:cm_feil").decode()
    assert world.get("/taxii2/", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    with pytest.raises(requests.HTTPError) as err:
        ApiRoot(f"{world.base}/taxii2/certmon/", user="x", password="cm_feil").refresh()
    assert err.value.response.status_code == 401


def test_read_only_collections_refuse_writes_through_the_client(world: World) -> None:
    coll = world.server("analyst").default.collections[0]
    with pytest.raises(AccessError):
        coll.add_objects({"objects": []})


def test_certmons_own_taxii_adapter_reads_the_same_indicators_with_the_same_tlp(any_world: World) -> None:
    world = any_world
    from feeds.base import ParseContext
    from feeds.fetcher import set_politeness_interval
    from feeds.stix import parse
    from feeds.taxii import collect_taxii

    set_politeness_interval(0)
    batch = collect_taxii(world.discovery, added_after=None, user="certmon", password=world.tokens["analyst"],
                          allow_internal=True, per_request=4)
    assert len(batch.collections) == 5
    items = [i for page in batch.pages for i in parse(page, ParseContext(default_tlp=TLP.CLEAR))]
    assert {(i.value, i.tlp) for i in items} == {(v, t.value_str) for v, t in world.values.items()}
    # and the cursor it keeps brings nothing new next time, then exactly what was added since
    again = collect_taxii(world.discovery, added_after=batch.next_added_after, user="certmon",
                          password=world.tokens["analyst"], allow_internal=True)
    assert not [i for page in again.pages for i in parse(page, ParseContext())]
    with world.env.factory.begin() as s:
        _plant(s, world.source_id, TLP.GREEN, "ny-etterpaa.example")
    later = collect_taxii(world.discovery, added_after=batch.next_added_after, user="certmon",
                          password=world.tokens["analyst"], allow_internal=True)
    assert [(i.value, i.tlp) for page in later.pages for i in parse(page, ParseContext())] == [
        ("ny-etterpaa.example", "green")]


def test_the_constituents_collection_round_trips_through_certmons_adapter(any_world: World) -> None:
    world = any_world
    from feeds.base import ParseContext
    from feeds.stix import parse
    from feeds.taxii import collect_taxii

    batch = collect_taxii(world.discovery, added_after=None, user="virksomhet", password=world.tokens["constituent"],
                          allow_internal=True)
    got = {(i.value, i.tlp) for page in batch.pages for i in parse(page, ParseContext())}
    assert got == {(v, world.values[v].value_str) for v, org in world.alerted.items()
                   if org == world.org and world.values[v] <= TLP.AMBER_STRICT}


def _json(r: requests.Response) -> dict:
    return json.loads(r.content)


def test_added_after_is_strict_and_headers_bound_the_page(world: World) -> None:
    path = f"/taxii2/certmon/collections/{_tlp_id(TLP.GREEN)}/objects/"
    r = world.get(f"{path}?limit=3", "reader")
    first, last = r.headers["X-TAXII-Date-Added-First"], r.headers["X-TAXII-Date-Added-Last"]
    assert first <= last and _json(r)["more"] is True
    rest = world.get(path, "reader", params={"added_after": last})
    assert all(o["id"] not in {x["id"] for x in _json(r)["objects"]} for o in _json(rest).get("objects", []))
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    empty = world.get(path, "reader", params={"added_after": future})
    assert _json(empty) == {"more": False} and "X-TAXII-Date-Added-First" not in empty.headers
