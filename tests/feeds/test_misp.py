"""MISP adapter: CIRCL feed events, a feed folder with manifest, the ESET REST-export shape."""

import json
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from certmon.errors import FeedParseError
from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.formats import detect_format
from feeds.misp import manifest_event_ids, parse, parse_folder

FIX = Path(__file__).parents[1] / "fixtures" / "misp"
SLICE = FIX / "circl_osint_feed_slice"


def test_xorist_event() -> None:
    items = list(parse((FIX / "57c4445b-c548-4654-af0b-4be3950d210f.json").read_bytes(), ParseContext(default_tlp=TLP.RED)))  # noqa: E501
    assert [i.type for i in items] == ["md5", "sha1", "sha256"]
    md5 = items[0]
    assert md5.key == "misp:57c4445b-c548-4654-af0b-4be3950d210f:md5:0749bae92ca336a02c83d126e04ec628"
    assert md5.tlp == "clear"  # tlp:white event tag beats the source default
    assert md5.confidence == 80 and md5.extra["event_info"] == "Ransomware - Xorist"
    assert 'ms-caro-malware:malware-type="Ransom"' in md5.labels


def test_feed_folder_with_manifest() -> None:
    assert sorted(manifest_event_ids((SLICE / "manifest.json").read_bytes())) == [
        "5721c2e4-05ec-4af3-9264-411b950d210f", "57e27c3d-17a8-4c3b-8195-493e950d210f"]
    items = list(parse_folder(SLICE, ParseContext()))
    assert Counter(i.type for i in items) == {"md5": 27, "sha1": 27, "sha256": 27, "url": 17, "ipv4": 16,
                                              "domain": 11}
    assert "misp:5721c2e4-05ec-4af3-9264-411b950d210f:ipv4:50.6.80.163" in {i.key for i in items}
    assert list(parse((SLICE / "manifest.json").read_bytes(), ParseContext())) == []


def test_rest_export_shape_and_composites() -> None:
    items = list(parse((FIX / "eset_sednit_2018-11-20_Zebrocy.json").read_bytes(), ParseContext(default_tlp=TLP.AMBER)))  # noqa: E501
    assert Counter(i.type for i in items) == {"email": 11, "sha1": 5, "md5": 5, "sha256": 5, "url": 2}
    sha1 = next(i for i in items if i.type == "sha1")
    assert sha1.extra["filename"] == "SCANPASS_QXWEGRFGCVT_323803488900X_jpeg.exe"
    assert sha1.confidence == 40 and sha1.tlp == "amber"  # to_ids false; no tlp tag


def test_attribute_tlp_tag_and_ip_port() -> None:
    data = b"""{"Event": {"uuid": "e1", "info": "t", "Tag": [{"name": "tlp:green"}], "Attribute": [
      {"type": "ip-dst|port", "value": "192.0.2.5|8443", "to_ids": true, "Tag": [{"name": "tlp:amber"}]},
      {"type": "AS", "value": "AS64496"}, {"type": "regkey|value", "value": "HKLM\\\\x|1"}]}}"""
    ip, asn = parse(data, ParseContext())
    assert (ip.value, ip.tlp, ip.extra["port"]) == ("192.0.2.5", "amber", 8443)
    assert (asn.type, asn.value, asn.tlp) == ("asn", "64496", "green")


UNWRAPPED = FIX / "pymisp_existing_event_unwrapped.json"


def test_event_without_the_event_wrapper() -> None:
    data = UNWRAPPED.read_bytes()
    assert not data.lstrip().startswith(b'{"Event"') and b'"response"' not in data[:200]
    items = list(parse(data, ParseContext(default_tlp=TLP.AMBER, filename=UNWRAPPED.name)))
    assert Counter(i.type for i in items) == {"domain": 18, "sha1": 37, "ipv4": 11}  # duplicates counted once
    domain = next(i for i in items if i.value == "movieultimate.com")
    assert domain.key == "misp:5a3c2fcd-8328-42bb-a95e-4f4402de0b81:domain:movieultimate.com"
    assert domain.tlp == "clear"  # the event's tlp:white tag, read from the unwrapped event
    assert domain.confidence == 80 and 'misp-galaxy:threat-actor="Sofacy"' in domain.labels
    assert domain.extra["event_info"] == "OSINT - Sednit update: How Fancy Bear Spent the Year"


def test_every_wrapping_gives_the_same_items() -> None:
    event = msgspec.json.decode(UNWRAPPED.read_bytes())
    expected = [msgspec.to_builtins(i) for i in parse(UNWRAPPED.read_bytes(), ParseContext())]
    for doc in ({"Event": event}, {"response": [{"Event": event}]}, {"response": [event]}, [event],
                [{"Event": event}], {"response": event}):
        got = [msgspec.to_builtins(i) for i in parse(msgspec.json.encode(doc), ParseContext())]
        assert got == expected, str(doc)[:40]
    assert detect_format(UNWRAPPED.read_bytes(), UNWRAPPED.name) == "misp"


def test_rest_index_event_tags_and_empty_search() -> None:
    data = b"""[{"id": "7", "uuid": "e7", "info": "index row", "EventTag": [{"Tag": {"name": "tlp:amber"}}],
      "Attribute": [{"type": "domain", "value": "c2.example", "to_ids": true}]}]"""
    (item,) = parse(data, ParseContext())
    assert (item.key, item.tlp) == ("misp:e7:domain:c2.example", "amber")
    assert list(parse(b'{"response": []}', ParseContext())) == []


def test_misp_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FeedParseError, match="not a MISP event"):
        list(parse(b"[1, 2]", ParseContext()))
    with pytest.raises(FeedParseError, match=r"no manifest\.json"):
        list(parse_folder(tmp_path, ParseContext()))


def test_events_without_a_uuid_keep_their_items_apart() -> None:
    """An event exported without its uuid (PyMISP's def_param.json has none): its items are keyed by a
    digest of the event's id, info, date and creator, so two such events never overwrite each other."""
    def event(info: str, **more: object) -> bytes:
        return json.dumps({"Event": {"info": info, "date": "2026-12-01", **more, "Attribute": [
            {"type": "domain", "value": "evil.example", "to_ids": True}]}}).encode()

    (first,) = parse(event("Phishing wave A"), ParseContext())
    (second,) = parse(event("Phishing wave B"), ParseContext())
    (again,) = parse(event("Phishing wave A"), ParseContext())
    assert first.key != second.key and first.key == again.key
    assert first.key.startswith("misp:nouuid-") and ":None:" not in first.key
    assert "event_uuid" not in first.extra
    (with_uuid,) = parse(event("x", uuid="5e6f7a8b-0000-4000-8000-000000000001"), ParseContext())
    assert with_uuid.key == "misp:5e6f7a8b-0000-4000-8000-000000000001:domain:evil.example"
