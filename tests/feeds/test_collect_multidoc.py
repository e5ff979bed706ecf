"""Multi-document sources through the whole pipeline: a MISP feed manifest, a CSAF provider with a
ROLIE feed (both on a loopback HTTP server) and a TAXII 2.1 collection on a real medallion server."""

import json
import shutil

from sqlalchemy import func, select

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
    assert cursors == ["1461831498", "1474460824", "1474460824"]
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
    monkeypatch.setenv("TAXII_TEST_PASSWORD", PASSWORD)
    with sqlite_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(
            name="partner-taxii", format="taxii21", url=f"{medallion_server}/api1/collections/{COLLECTION_ID}/",
            internal=True, auth_user=USER, auth_secret_env="TAXII_TEST_PASSWORD", default_tlp="amber")).id
    first = run_source(sqlite_env.factory, source_id)
    assert first.outcome == "ok", first.error
    assert first.items_new > 0
    with sqlite_env.factory() as session:
        assert session.get(Source, source_id).cursor
    again = run_source(sqlite_env.factory, source_id)
    assert again.outcome == "ok" and again.items_new == 0
    assert _count(sqlite_env, source_id) == first.items_new
