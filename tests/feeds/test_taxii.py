"""TAXII 2.1 collection against a real medallion server started on a free loopback port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certmon.errors import FeedBlocked, FeedUnavailable
from feeds.fetcher import set_politeness_interval
from feeds.taxii import _just_before, collect_taxii, list_taxii_collections

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent.parent / "fixtures" / "taxii21"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
CLOSED_ID = "64993447-4d7e-4f70-b94d-d7f33742ee63"
USER, PASSWORD = "reader", "s3cret-passord"  # medallion compares ASCII only
MAX_PAGE_SIZE = 4
BULK_ID = "5d0c6a4e-7b1f-4e37-8a8e-1c7f6b2a9d03"
SPLIT_IDS = ("0b7a2c5e-1f3d-4c4e-9a51-2f6a8d1e7c01", "0b7a2c5e-1f3d-4c4e-9a51-2f6a8d1e7c02")


def _stix_objects() -> list[dict]:
    envelope = json.loads((FIXTURES / "envelope_objects.json").read_text())
    bundle = json.loads((FIXTURES / "indicators-for-C2-with-COA.json").read_text())
    unique = {obj["id"]: obj for obj in envelope["objects"] + bundle["objects"]}  # both hold one malware
    return list(unique.values())


def _date_added(i: int) -> str:
    return f"2024-03-01T10:00:{i:02d}.000000Z"


def _data_file(base: str) -> dict:
    objects, manifest = [], []
    for i, obj in enumerate(_stix_objects()):
        objects.append({**obj, "_date_added": _date_added(i)})
        manifest.append({"id": obj["id"], "date_added": _date_added(i),
                         "version": obj.get("modified", obj["created"]),
                         "media_type": "application/stix+json;version=2.1"})
    media = ["application/stix+json;version=2.1"]
    split = [  # api2 (not in discovery): the same objects in two readable collections, 8 + 4
        {"id": cid, "title": f"Part {n}", "can_read": True, "can_write": False, "media_types": media,
         "objects": objects[part], "manifest": manifest[part]}
        for n, (cid, part) in enumerate(zip(SPLIT_IDS, (slice(0, 8), slice(8, None)), strict=True))
    ]
    bulk_dates = [_date_added(0)] + [_date_added(1)] * 4 + [_date_added(5)]  # a bulk upload at :01
    bulk_objects = [{**obj, "_date_added": d} for obj, d in zip(_stix_objects()[:6], bulk_dates, strict=True)]
    bulk_manifest = [{**m, "date_added": d} for m, d in zip(manifest[:6], bulk_dates, strict=True)]
    return {
        "api3": {
            "information": {"title": "api3", "description": "a bulk upload", "max_content_length": 9765625,
                            "versions": ["application/taxii+json;version=2.1"]},
            "status": [],
            "collections": [{"id": BULK_ID, "title": "Bulk", "can_read": True, "can_write": False,
                             "media_types": media, "objects": bulk_objects, "manifest": bulk_manifest}],
        },
        "/discovery": {"title": "certmon test TAXII", "description": "medallion for tests",
                       "default": f"{base}/api1/", "api_roots": [f"{base}/api1/"]},
        "api1": {
            "information": {"title": "api1", "description": "test root", "max_content_length": 9765625,
                            "versions": ["application/taxii+json;version=2.1"]},
            "status": [],
            "collections": [
                {"id": COLLECTION_ID, "title": "Indicators", "can_read": True, "can_write": False,
                 "media_types": media, "objects": objects, "manifest": manifest},
                {"id": CLOSED_ID, "title": "Secret", "can_read": False, "can_write": False,
                 "media_types": media, "objects": [], "manifest": []},
            ],
        },
        "api2": {
            "information": {"title": "api2", "description": "two collections", "max_content_length": 9765625,
                            "versions": ["application/taxii+json;version=2.1"]},
            "status": [],
            "collections": split,
        },
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def medallion_server(tmp_path_factory):
    """Start medallion with a memory backend; yield its base URL; stop it by pid."""
    work = tmp_path_factory.mktemp("medallion")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    (work / "data.json").write_text(json.dumps(_data_file(base)))
    config = {"backend": {"module_class": "MemoryBackend", "filename": str(work / "data.json"),
                          "module": "medallion.backends.memory_backend"},
              "users": {USER: PASSWORD}, "taxii": {"max_page_size": MAX_PAGE_SIZE}}
    (work / "medallion.json").write_text(json.dumps(config))
    exe = Path(sys.executable).parent / "medallion"
    log = (work / "medallion.log").open("w")
    command = [str(exe), "--host", "127.0.0.1", "--port", str(port), str(work / "medallion.json")]
    proc = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((work / "medallion.log").read_text()) from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(autouse=True)
def no_politeness_delay():
    set_politeness_interval(0)


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _ids(pages: list[bytes]) -> list[str]:
    return [obj["id"] for page in pages for obj in json.loads(page)["objects"]]


def _collect(url: str, **kwargs):
    kwargs.setdefault("added_after", None)
    return collect_taxii(url, user=USER, password=PASSWORD, allow_internal=True, **kwargs)


def test_discovery_lists_collections(medallion_server):
    refs = list_taxii_collections(f"{medallion_server}/taxii2/", user=USER, password=PASSWORD,
                                  allow_internal=True)
    assert {(r.id, r.can_read) for r in refs} == {(COLLECTION_ID, True), (CLOSED_ID, False)}
    assert refs[0].url == f"{medallion_server}/api1/collections/{COLLECTION_ID}/"


def test_discovery_url_pages_through_readable_collections_and_cursor_stops_repeats(medallion_server):
    expected = [o["id"] for o in _stix_objects()]
    batch = _collect(f"{medallion_server}/taxii2/", per_request=5)
    assert batch.collections == [f"{medallion_server}/api1/collections/{COLLECTION_ID}/"]
    assert len(expected) == 12
    assert [len(json.loads(p)["objects"]) for p in batch.pages] == [4, 4, 4]  # server caps 5 to 4
    assert sorted(_ids(batch.pages)) == sorted(expected)
    assert all(json.loads(p)["objects"] for p in batch.pages)
    assert batch.next_added_after == _date_added(len(expected) - 1)

    again = _collect(f"{medallion_server}/taxii2/", added_after=batch.next_added_after, per_request=5)
    assert again.pages == []
    assert again.next_added_after == batch.next_added_after


def test_small_per_request_pages_and_server_max_page_size_forces_more(medallion_server):
    url = f"{medallion_server}/api1/collections/{COLLECTION_ID}/"
    assert [len(json.loads(p)["objects"]) for p in _collect(url, per_request=3).pages] == [3, 3, 3, 3]
    batch = _collect(url, per_request=1000)
    assert [len(json.loads(p)["objects"]) for p in batch.pages] == [4, 4, 4]
    assert _ids(batch.pages) == [o["id"] for o in _stix_objects()]


def test_api_root_url_and_added_after_in_the_middle(medallion_server):
    batch = _collect(f"{medallion_server}/api1", added_after=_date_added(9))
    assert _ids(batch.pages) == [o["id"] for o in _stix_objects()[10:]]
    assert batch.next_added_after == _date_added(11)


def test_max_pages_stops_early_and_the_cursor_resumes(medallion_server):
    url = f"{medallion_server}/api1/collections/{COLLECTION_ID}"
    first = _collect(url, per_request=2, max_pages=2)
    assert len(_ids(first.pages)) == 4
    assert first.next_added_after == _just_before(_date_added(3))  # the last instant is asked for again
    rest = _collect(url, per_request=2, added_after=first.next_added_after)
    assert _unique(_ids(first.pages) + _ids(rest.pages)) == [o["id"] for o in _stix_objects()]


def test_wrong_password_is_a_clear_feed_unavailable(medallion_server):
    with pytest.raises(FeedUnavailable, match=r"HTTP 401.*credentials") as err:
        collect_taxii(f"{medallion_server}/taxii2/", added_after=None, user=USER, password="wrong",
                      allow_internal=True)
    assert err.value.transient is False
    assert "wrong" not in err.value.message


def test_loopback_taxii_server_is_refused_unless_internal(medallion_server):
    with pytest.raises(FeedBlocked):
        collect_taxii(f"{medallion_server}/taxii2/", added_after=None, user=USER, password=PASSWORD)
    local = medallion_server.replace("127.0.0.1", "localhost")
    with pytest.raises(FeedBlocked):
        list_taxii_collections(f"{local}/taxii2/", user=USER, password=PASSWORD)


def test_run_limits_count_over_every_collection_and_the_cursor_skips_nothing(medallion_server):
    url = f"{medallion_server}/api2/"
    cursor, seen, runs = None, [], 0
    while True:
        batch = _collect(url, added_after=cursor, per_request=2, max_pages=2)
        runs += 1
        if not batch.pages:
            break
        # at most max_pages in total, plus the first page of each further collection
        assert len(batch.pages) <= 2 + 1
        seen += _ids(batch.pages)
        assert batch.next_added_after != cursor  # every run moves on
        cursor = batch.next_added_after
        assert runs < 10
    assert set(seen) == {o["id"] for o in _stix_objects()}  # the 8-object collection lost nothing
    first = _collect(url, per_request=2, max_pages=2)
    assert first.truncated and first.next_added_after == _just_before(_date_added(3))  # not the other's 9


def test_total_bytes_of_a_run_are_limited(medallion_server):
    url = f"{medallion_server}/api1/collections/{COLLECTION_ID}/"
    page = len(_collect(url, per_request=2, max_pages=1).pages[0])
    batch = _collect(url, per_request=2, max_bytes=int(page * 1.5))
    assert len(batch.pages) == 2 and batch.truncated
    assert batch.next_added_after == _just_before(_date_added(3))
    rest = _collect(url, per_request=2, added_after=batch.next_added_after)
    assert _unique(_ids(batch.pages) + _ids(rest.pages)) == [o["id"] for o in _stix_objects()]


def test_run_time_limit_stops_after_the_first_page(medallion_server):
    url = f"{medallion_server}/api1/collections/{COLLECTION_ID}/"
    batch = _collect(url, per_request=2, max_duration=0)
    assert len(batch.pages) == 1 and batch.truncated
    assert batch.next_added_after == _just_before(_date_added(1))


def test_a_limit_inside_a_bulk_upload_skips_nothing(medallion_server):
    """Four objects share one date_added; runs of two pages of two still collect all six."""
    url = f"{medallion_server}/api3/collections/{BULK_ID}/"
    cursor, seen = None, []
    for _run in range(5):
        batch = _collect(url, added_after=cursor, per_request=2, max_pages=2)
        seen += _ids(batch.pages)
        if not batch.truncated:
            break
        cursor = batch.next_added_after
    assert set(seen) == {o["id"] for o in _stix_objects()[:6]}
