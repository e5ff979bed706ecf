"""Multi-document sources through the whole pipeline: a MISP feed manifest, a CSAF provider with a
ROLIE feed (both on a loopback HTTP server) and a TAXII 2.1 collection on a real medallion server."""

import json
import shutil

from sqlalchemy import func, select

import feeds.multidoc as multidoc_mod
from certmon.items.models import StoredItem
from certmon.sources.models import Source
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds.collect import run_source
from tests.conftest import FIXTURES
from tests.feeds.test_taxii import COLLECTION_ID, PASSWORD, USER, medallion_server  # noqa: F401

MISP_SLICE = FIXTURES / "misp" / "circl_osint_feed_slice"


def _source(env, **fields):
    with env.factory.begin() as session:
        return create_source(session, SourceCreate(internal=True, **fields)).id


def _count(env, source_id):
    with env.factory() as session:
        return session.scalar(select(func.count(StoredItem.id)).where(StoredItem.source_id == source_id))


def test_misp_feed_manifest_with_cursor(sqlite_env, file_server):
    base, root = file_server
    shutil.copytree(MISP_SLICE, root / "feed")
    source_id = _source(sqlite_env, name="circl", format="misp", url=f"{base}/feed/manifest.json",
                        options={"max_documents": 1})
    cursors = []
    for _ in range(3):  # oldest event first, one per run; the third run finds nothing new
        report = run_source(sqlite_env.factory, source_id)
        assert report.outcome == "ok", report.error
        with sqlite_env.factory() as session:
            cursors.append(session.get(Source, source_id).cursor)
    assert cursors == ["1461831498|5721c2e4-05ec-4af3-9264-411b950d210f",
                       "1474460824|57e27c3d-17a8-4c3b-8195-493e950d210f",
                       "1474460824|57e27c3d-17a8-4c3b-8195-493e950d210f"]
    assert _count(sqlite_env, source_id) == 125


def test_csaf_provider_metadata_and_rolie(sqlite_env, file_server):
    base, root = file_server
    (root / "csaf").mkdir()
    shutil.copy(FIXTURES / "csaf" / "bsi-2022-0001.json", root / "csaf" / "bsi-2022-0001.json")
    rolie = json.loads((FIXTURES / "csaf" / "rolie-feed-example-01-tlp-white.json").read_text())
    entry = rolie["feed"]["entry"][0]
    entry["link"] = [{"rel": "self", "href": f"{base}/csaf/bsi-2022-0001.json"}]
    entry.pop("content", None)
    rolie["feed"]["entry"] = [entry]
    (root / "csaf" / "feed-tlp-white.json").write_text(json.dumps(rolie))
    meta = json.loads((FIXTURES / "csaf" / "provider-metadata-example-01.json").read_text())
    meta["distributions"] = [{"rolie": {"feeds": [{"tlp_label": "WHITE", "url": f"{base}/csaf/feed-tlp-white.json",
                                                   "summary": "test"}]}}]
    (root / "provider-metadata.json").write_text(json.dumps(meta))
    source_id = _source(sqlite_env, name="bsi", format="csaf", url=f"{base}/provider-metadata.json")
    first = run_source(sqlite_env.factory, source_id)
    assert first.outcome == "ok", first.error
    assert first.items_new >= 1
    again = run_source(sqlite_env.factory, source_id)
    assert again.items_total == 0  # the cursor skips advisories that have not been updated


def test_taxii_collection_with_added_after_cursor(sqlite_env, medallion_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CERTMON_FEED_SECRET_TAXII_TEST", PASSWORD)
    with sqlite_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(
            name="partner-taxii", format="taxii21", url=f"{medallion_server}/api1/collections/{COLLECTION_ID}/",
            internal=True, auth_user=USER, auth_secret_env="CERTMON_FEED_SECRET_TAXII_TEST", default_tlp="amber")).id
    first = run_source(sqlite_env.factory, source_id)
    assert first.outcome == "ok", first.error
    assert first.items_new > 0
    with sqlite_env.factory() as session:
        assert session.get(Source, source_id).cursor
    again = run_source(sqlite_env.factory, source_id)
    assert again.outcome == "ok" and again.items_new == 0
    assert _count(sqlite_env, source_id) == first.items_new


SAME_TIME = "1700000000"
SAME_UUIDS = ["3f000000-0000-4000-8000-00000000000" + str(n) for n in (3, 1, 2)]  # not in order


def _same_timestamp_feed(root):
    """A MISP feed whose three events share one timestamp (the slice's small event, new UUIDs)."""
    event = json.loads((MISP_SLICE / "57e27c3d-17a8-4c3b-8195-493e950d210f.json").read_text())
    (root / "same").mkdir()
    manifest = {}
    for uuid in SAME_UUIDS:
        event["Event"].update(uuid=uuid, timestamp=SAME_TIME)
        (root / "same" / f"{uuid}.json").write_text(json.dumps(event))
        manifest[uuid] = {"info": "same second", "timestamp": SAME_TIME}
    (root / "same" / "manifest.json").write_text(json.dumps(manifest))


def _record_fetches(monkeypatch):
    fetched: list[str] = []
    real = multidoc_mod.fetch

    def recording(url, **kwargs):
        fetched.append(url.rsplit("/", 1)[-1])
        return real(url, **kwargs)

    monkeypatch.setattr(multidoc_mod, "fetch", recording)
    return fetched


def test_misp_events_sharing_the_cut_off_timestamp_are_all_collected_once(sqlite_env, file_server, monkeypatch):
    base, root = file_server
    _same_timestamp_feed(root)
    fetched = _record_fetches(monkeypatch)
    source_id = _source(sqlite_env, name="same-second", format="misp", url=f"{base}/same/manifest.json",
                        options={"max_documents": 1})
    cursors = []
    for _ in range(4):
        report = run_source(sqlite_env.factory, source_id)
        assert report.outcome == "ok", report.error
        with sqlite_env.factory() as session:
            cursors.append(session.get(Source, source_id).cursor)
    events = [name for name in fetched if name != "manifest.json"]
    assert events == [f"{uuid}.json" for uuid in sorted(SAME_UUIDS)]  # each once, in (time, id) order
    assert cursors == [f"{SAME_TIME}|{uuid}" for uuid in sorted(SAME_UUIDS)] + [f"{SAME_TIME}|{max(SAME_UUIDS)}"]


def test_old_plain_timestamp_cursor_reads_the_cut_off_second_again(sqlite_env, file_server, monkeypatch):
    base, root = file_server
    _same_timestamp_feed(root)
    fetched = _record_fetches(monkeypatch)
    source_id = _source(sqlite_env, name="old-cursor", format="misp", url=f"{base}/same/manifest.json")
    with sqlite_env.factory.begin() as session:
        session.get(Source, source_id).cursor = SAME_TIME  # as stored before the composite cursor
    assert run_source(sqlite_env.factory, source_id).outcome == "ok"
    assert sorted(name for name in fetched if name != "manifest.json") == sorted(f"{u}.json" for u in SAME_UUIDS)


def test_csaf_advisories_sharing_updated_are_all_collected_once(sqlite_env, file_server, monkeypatch):
    base, root = file_server
    (root / "csaf").mkdir()
    advisory = (FIXTURES / "csaf" / "bsi-2022-0001.json").read_bytes()
    names = [f"adv-{n}.json" for n in range(3)]
    for name in names:
        (root / "csaf" / name).write_bytes(advisory)
    entries = [{"id": name, "updated": "2024-05-30T16:00:00Z",
                "link": [{"rel": "self", "href": f"{base}/csaf/{name}"}]} for name in names]
    (root / "csaf" / "feed.json").write_text(json.dumps({"feed": {"id": "f", "entry": entries}}))
    meta = {"distributions": [{"rolie": {"feeds": [{"tlp_label": "WHITE", "url": f"{base}/csaf/feed.json"}]}}]}
    (root / "provider-metadata.json").write_text(json.dumps(meta))
    fetched = _record_fetches(monkeypatch)
    source_id = _source(sqlite_env, name="csaf-same", format="csaf", url=f"{base}/provider-metadata.json",
                        options={"max_documents": 2})
    for _ in range(3):
        report = run_source(sqlite_env.factory, source_id)
        assert report.outcome == "ok", report.error
    assert sorted(fetched) == sorted(names)
    with sqlite_env.factory() as session:
        assert session.get(Source, source_id).cursor.startswith("2024-05-30T16:00:00.000000Z|")
