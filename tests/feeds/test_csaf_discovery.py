"""CSAF discovery: pure parsing of the OASIS samples, and discover_csaf against a real loopback server."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from certmon.errors import FeedBlocked, FeedError, FeedParseError, FeedTooLarge
from certmon.tlp import TLP
from feeds.csaf_discovery import (
    CsafDocRef,
    discover_csaf,
    parse_aggregator,
    parse_changes_csv,
    parse_provider_metadata,
    parse_rolie_feed,
)
from feeds.fetcher import fetch, set_politeness_interval

FIXTURES = Path(__file__).parent.parent / "fixtures" / "csaf"
METADATA = (FIXTURES / "provider-metadata-example-01.json").read_bytes()
ROLIE = (FIXTURES / "rolie-feed-example-01-tlp-white.json").read_bytes()
ADVISORY = (FIXTURES / "icsma-24-151-01.json").read_bytes()


@pytest.fixture(autouse=True)
def no_politeness_delay():
    set_politeness_interval(0)


def test_provider_metadata_sample_gives_its_white_rolie_feed():
    dists = parse_provider_metadata(METADATA)
    assert dists.rolie_feeds == [("https://www.example.com/.well-known/csaf/feed-tlp-white.json", TLP.CLEAR)]
    assert dists.directories == []


def test_feeds_above_the_allowed_tlp_are_left_out():
    doc = json.loads(METADATA)
    doc["distributions"].append({"rolie": {"feeds": [
        {"tlp_label": "AMBER", "url": "https://www.example.com/amber.json"},
        {"tlp_label": "UNLABELED", "url": "https://www.example.com/unlabeled.json"},
        {"tlp_label": "BOGUS", "url": "https://www.example.com/bogus.json"},
    ]}, "directory_url": "https://www.example.com/.well-known/csaf/white/"})
    dists = parse_provider_metadata(json.dumps(doc).encode())
    assert [u.rsplit("/", 1)[1] for u, _ in dists.rolie_feeds] == ["feed-tlp-white.json", "unlabeled.json"]
    assert dists.directories == ["https://www.example.com/.well-known/csaf/white/"]
    amber = parse_provider_metadata(json.dumps(doc).encode(), max_tlp=TLP.AMBER)
    assert ("https://www.example.com/amber.json", TLP.AMBER) in amber.rolie_feeds


def test_rolie_sample_entry_becomes_a_reference():
    [ref] = parse_rolie_feed(ROLIE, tlp=TLP.CLEAR)
    assert ref == CsafDocRef(
        url="https://psirt.domain.tld/advisories/csaf/2020/2020-ESA-001.json",
        updated="2021-01-01T12:00:00.000Z", tlp=TLP.CLEAR,
        hash_url="https://psirt.domain.tld/advisories/csaf/2020/2020-ESA-001.json.sha512",
        signature_url="https://psirt.domain.tld/advisories/csaf/2020/2020-ESA-001.json.asc",
    )


def _feed(entries: list[dict]) -> bytes:
    return json.dumps({"feed": {"id": "f", "entry": entries}}).encode()


def test_rolie_entries_are_newest_first_and_content_src_is_a_fallback():
    refs = parse_rolie_feed(_feed([
        {"id": "old", "updated": "2023-01-01T00:00:00Z", "link": [{"rel": "self", "href": "a/old.json"}]},
        {"id": "new", "updated": "2024-06-01T08:00:00+02:00", "content": {"src": "b/new.json"}},
        {"id": "mid", "updated": "2023-06-01T00:00:00Z", "link": [{"rel": "self", "href": "/c/mid.json"}]},
        {"id": "none"},
    ]), base_url="https://csaf.example/feeds/white.json")
    assert [r.url for r in refs] == [
        "https://csaf.example/feeds/b/new.json",
        "https://csaf.example/c/mid.json",
        "https://csaf.example/feeds/a/old.json",
    ]


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"no": "feed"}'])
def test_broken_rolie_feed_is_a_parse_error(data):
    with pytest.raises(FeedParseError):
        parse_rolie_feed(data)


def test_changes_csv_gives_newest_first_urls_relative_to_the_directory():
    data = (b'"2024/icsma-24-151-01.json","2024-05-30T16:00:00Z"\n'
            b'"2022/bsi-2022-0001.json","2022-03-17T13:09:00Z"\n')
    refs = parse_changes_csv(data, directory_url="https://csaf.example/white")
    assert [r.url for r in refs] == ["https://csaf.example/white/2024/icsma-24-151-01.json",
                                     "https://csaf.example/white/2022/bsi-2022-0001.json"]
    assert refs[0].via == "directory" and refs[0].hash_url.endswith(".json.sha512")


def test_bad_changes_csv_row_is_named():
    with pytest.raises(FeedParseError, match="row 2"):
        parse_changes_csv(b"a.json,2024-01-01T00:00:00Z\nb.json,yesterday\n", directory_url="https://x.example/")


@pytest.fixture
def csaf_provider(http_fixture_server):
    """Serve the OASIS samples from the loopback server, with their URLs pointing at it."""
    srv = http_fixture_server
    base = srv.base_url
    metadata = json.loads(METADATA)
    metadata["canonical_url"] = f"{base}/.well-known/csaf/provider-metadata.json"
    metadata["distributions"][0]["rolie"]["feeds"][0]["url"] = f"{base}/.well-known/csaf/feed-tlp-white.json"
    metadata["distributions"].append({"rolie": {"feeds": [
        {"tlp_label": "RED", "url": f"{base}/.well-known/csaf/feed-tlp-red.json"}]}})
    metadata["distributions"].append({"directory_url": f"{base}/.well-known/csaf/white/"})
    feed = json.loads(ROLIE)
    feed["feed"]["entry"][0]["link"][0]["href"] = f"{base}/advisories/2020-ESA-001.json"
    second = {"id": "ICSMA-24-151-01", "updated": "2024-05-30T16:00:00Z",
              "link": [{"rel": "self", "href": "/advisories/icsma-24-151-01.json"}]}
    feed["feed"]["entry"].append(second)
    srv.serve_bytes("/.well-known/csaf/provider-metadata.json", json.dumps(metadata).encode(),
                    {"Content-Type": "application/json"})
    srv.serve_bytes("/.well-known/csaf/feed-tlp-white.json", json.dumps(feed).encode())
    srv.serve_bytes("/.well-known/csaf/feed-tlp-red.json", b"must never be fetched")
    srv.serve_bytes("/.well-known/csaf/white/changes.csv",
                    b'"2022/bsi-2022-0001.json","2022-03-17T13:09:00Z"\n')
    srv.serve_bytes("/advisories/icsma-24-151-01.json", ADVISORY)
    return srv


def test_discover_csaf_over_http(csaf_provider):
    srv = csaf_provider
    url = f"{srv.base_url}/.well-known/csaf/provider-metadata.json"
    refs = discover_csaf(url, allow_internal=True)
    assert [(r.url.removeprefix(srv.base_url), r.via) for r in refs] == [
        ("/advisories/icsma-24-151-01.json", "rolie"),
        ("/.well-known/csaf/white/2022/bsi-2022-0001.json", "directory"),
        ("/advisories/2020-ESA-001.json", "rolie"),
    ]
    assert srv.hits["/.well-known/csaf/feed-tlp-red.json"] == 0
    # the collector fetches a reference with the same fetcher
    assert fetch(refs[0].url, allow_internal=True).content == ADVISORY


def test_discover_csaf_since_skips_unchanged(csaf_provider):
    url = f"{csaf_provider.base_url}/.well-known/csaf/provider-metadata.json"
    refs = discover_csaf(url, fetch=partial(fetch, retries=0), since="2023-01-01T00:00:00Z",
                         allow_internal=True)
    assert [r.url.rsplit("/", 1)[1] for r in refs] == ["icsma-24-151-01.json"]


def test_discover_csaf_is_guarded(csaf_provider):
    url = f"{csaf_provider.base_url}/.well-known/csaf/provider-metadata.json"
    with pytest.raises(FeedBlocked):
        discover_csaf(url)
    assert sum(csaf_provider.hits.values()) == 0


def test_discover_csaf_sends_the_sources_credentials_to_every_document(csaf_provider):
    url = f"{csaf_provider.base_url}/.well-known/csaf/provider-metadata.json"
    refs = discover_csaf(url, allow_internal=True, auth=("csaf-user", "s3cret"))
    assert len(refs) == 3
    sent = [hdrs for _, hdrs in csaf_provider.requests]
    assert len(sent) == 3  # metadata, the WHITE ROLIE feed, the directory's changes.csv
    assert all(h.get("authorization", "").startswith("Basic ") for h in sent)


def test_discover_csaf_honours_the_size_limit(csaf_provider):
    url = f"{csaf_provider.base_url}/.well-known/csaf/provider-metadata.json"
    with pytest.raises(FeedTooLarge, match="limit of 100 bytes"):
        discover_csaf(url, allow_internal=True, max_bytes=100)


def _aggregator(base: str, providers: list[dict], publishers: list[dict] | None = None) -> bytes:
    """An aggregator.json (CSAF 2.0 section 7.1.21) listing the given entries."""
    return json.dumps({
        "aggregator": {"category": "lister", "name": "Test Lister", "namespace": "https://lister.example"},
        "aggregator_version": "2.0", "canonical_url": f"{base}/.well-known/csaf-aggregator/aggregator.json",
        "csaf_providers": providers, "csaf_publishers": publishers or [], "last_updated": "2024-06-01T00:00:00Z",
    }).encode()


def _entry(name: str, url: str, mirrors: list[str] | None = None) -> dict:
    entry: dict = {"metadata": {"last_updated": "2024-06-01T00:00:00Z", "url": url,
                                "publisher": {"category": "vendor", "name": name,
                                              "namespace": f"https://{name.lower()}.example"}}}
    if mirrors:
        entry["mirrors"] = mirrors
    return entry


def test_an_aggregator_leads_to_every_providers_advisories(csaf_provider):
    """Each provider an aggregator lists is discovered in turn; one that cannot be read (here a 404) is
    skipped and the others' advisories stay; a publisher is read from the aggregator's mirror."""
    srv = csaf_provider
    base = srv.base_url
    own = f"{base}/.well-known/csaf/provider-metadata.json"
    srv.serve_bytes("/.well-known/csaf-aggregator/aggregator.json", _aggregator(base, [
        _entry("Gone", f"{base}/gone/provider-metadata.json"),
        _entry("Example", own),
    ], [_entry("Mirrored", "https://unreachable.example/provider-metadata.json", mirrors=[own])]))
    url = f"{base}/.well-known/csaf-aggregator/aggregator.json"
    refs = discover_csaf(url, fetch=partial(fetch, retries=0), allow_internal=True)
    assert [r.url.removeprefix(base) for r in refs] == [
        "/advisories/icsma-24-151-01.json", "/.well-known/csaf/white/2022/bsi-2022-0001.json",
        "/advisories/2020-ESA-001.json"]  # the mirror names the same provider: read once
    assert srv.hits["/.well-known/csaf/feed-tlp-red.json"] == 0
    only = discover_csaf(url, fetch=partial(fetch, retries=0), allow_internal=True, publishers=["example"])
    assert len(only) == 3
    with pytest.raises(FeedParseError, match="no provider matching"):
        discover_csaf(url, fetch=partial(fetch, retries=0), allow_internal=True, publishers=["siemens"])


def test_an_aggregator_whose_providers_all_fail_fails_the_run(http_fixture_server):
    srv = http_fixture_server
    srv.serve_bytes("/aggregator.json", _aggregator(srv.base_url, [
        _entry("Gone", f"{srv.base_url}/gone/provider-metadata.json"),
        _entry("Broken", f"{srv.base_url}/broken/provider-metadata.json")]))
    srv.serve_bytes("/broken/provider-metadata.json", b"<html>not json</html>")
    with pytest.raises(FeedError, match="none of the aggregator's 2 providers"):
        discover_csaf(f"{srv.base_url}/aggregator.json", fetch=partial(fetch, retries=0), allow_internal=True)


def test_an_aggregator_is_a_discovery_document_not_an_advisory():
    from feeds.base import ParseContext
    from feeds.csaf import is_csaf_index
    from feeds.csaf import parse as parse_csaf

    data = _aggregator("https://lister.example", [_entry("Example", "https://example.com/provider-metadata.json")])
    assert is_csaf_index(data) == "aggregator"
    assert list(parse_csaf(data, ParseContext())) == []
    (entry,) = parse_aggregator(data)
    assert (entry.name, entry.urls) == ("Example", ("https://example.com/provider-metadata.json",))


def test_an_aggregator_keeps_the_sources_credentials_to_its_own_host(csaf_provider):
    """The source's user and password are for the aggregator: a provider it lists on another host (here
    `localhost` beside `127.0.0.1`) is asked without them. A provider of the wrong shape (a list where an
    object belongs) or a mirrors entry that is not a list is skipped, not the run."""
    srv = csaf_provider
    other = srv.base_url.replace("127.0.0.1", "localhost")
    srv.serve_bytes("/odd/provider-metadata.json", json.dumps(
        {"canonical_url": "x", "distributions": [{"rolie": ["not", "an", "object"]}]}).encode())
    odd = _entry("Odd", f"{srv.base_url}/odd/provider-metadata.json")
    odd["mirrors"] = "https://mirror.example/provider-metadata.json"  # not a list: no mirrors
    srv.serve_bytes("/aggregator.json", _aggregator(srv.base_url, [
        odd, _entry("Example", f"{other}/.well-known/csaf/provider-metadata.json")]))
    refs = discover_csaf(f"{srv.base_url}/aggregator.json", fetch=partial(fetch, retries=0), allow_internal=True,
                         auth=("agg-user", "s3cret"))
    assert len(refs) == 3
    sent = {path: hdrs for path, hdrs in srv.requests}
    assert "authorization" in {k.lower() for k in sent["/aggregator.json"]}
    assert "authorization" not in {k.lower() for k in sent["/.well-known/csaf/provider-metadata.json"]}
    assert all(not path.startswith("/h") for path, _ in srv.requests)  # the string was not read as a list


def test_publisher_words_match_whole_words():
    from feeds.csaf_discovery import AggregatedProvider, _wanted

    siemens = AggregatedProvider("Siemens ProductCERT", "https://www.siemens.de", ("u",))
    assert _wanted(siemens, ["siemens"]) and _wanted(siemens, ["productcert"])
    assert not _wanted(siemens, ["de"])  # the top-level label names nobody
    assert not _wanted(siemens, ["sie"]) and _wanted(siemens, ["Siemens ProductCERT"])
    assert _wanted(siemens, ["www.siemens.de"])
