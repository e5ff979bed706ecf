"""STIX adapter: real OASIS/MVT/Amnesty bundles, TAXII envelopes, STIX 2.0, TLP, versions, hostile input."""

import json
from collections import Counter
from pathlib import Path

import pytest

from certmon.errors import FeedParseError
from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.stix import StixStats, parse
from feeds.stix_patterns import MAX_PATTERN, observables

FIX = Path(__file__).parents[1] / "fixtures" / "stix"
IND = "indicator--11111111-1111-4111-8111-111111111111"


def run(name: str, stats: StixStats | None = None, tlp: TLP = TLP.CLEAR) -> list:
    return list(parse((FIX / name).read_bytes(), ParseContext(default_tlp=tlp, filename=name), stats))


def bundle(*objects: dict) -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--1", "objects": list(objects)}).encode()


def indicator(pattern: str, **fields: object) -> dict:
    obj = {"type": "indicator", "spec_version": "2.1", "id": IND, "created": "2024-01-01T00:00:00Z",
           "modified": "2024-01-01T00:00:00Z", "pattern": pattern, "pattern_type": "stix",
           "valid_from": "2024-01-01T00:00:00Z"}
    obj.update(fields)
    return obj


def test_apt1_bundle() -> None:
    stats = StixStats()
    items = run("apt1.json", stats, TLP.AMBER)
    assert Counter((i.kind, i.type) for i in items) == {
        ("indicator", "cidr"): 4, ("indicator", "domain"): 3, ("indicator", "md5"): 3, ("advisory", None): 1,
    }
    cidr = next(i for i in items if i.type == "cidr")
    assert cidr.key == "stix:indicator--031778a4-057f-48e6-9db9-c8d72b81ccd5:cidr:223.166.0.0/15"
    assert cidr.value == "223.166.0.0/15" and cidr.tlp == "amber"
    assert cidr.labels == ["malicious-activity", "HUC Packet Transmit Tool (HTRAN)"]
    assert cidr.valid_from == "2015-05-15T09:12:16Z"
    report = next(i for i in items if i.kind == "advisory")
    assert report.title == "APT1: Exposing One of China's Cyber Espionage Units"
    assert report.published == "2013-02-19T00:00:00Z"
    assert stats.no_observable == 2  # the two x509-certificate patterns


def test_stix20_gives_the_same_indicators() -> None:
    v21 = {(i.type, i.value) for i in run("apt1.json") if i.kind == "indicator"}
    v20 = {(i.type, i.value) for i in run("apt1_stix20.json") if i.kind == "indicator"}
    assert v20 == v21 and len(v20) == 10


def test_poisonivy_compound_patterns_and_vulnerabilities() -> None:
    items = run("poisonivy.json")
    kinds = Counter(i.kind for i in items)
    assert kinds == {"indicator": 64, "vulnerability": 6, "advisory": 1}
    compound = [i for i in items if i.key.startswith("stix:indicator--329ae6e9-25bd-49e8-89d1-aae4ca52e4a7:")]
    assert {(i.type, i.value) for i in compound} >= {("domain", "www.webserver.dynssl.com"),
                                                      ("ipv4", "113.10.246.30")}
    vulns = {i.cve for i in items if i.kind == "vulnerability"}
    assert "CVE-2012-0158" in vulns and len(vulns) == 6
    report = next(i for i in items if i.kind == "advisory")
    assert "CVE-2012-0158" in report.cves


def test_real_ioc_bundles() -> None:
    mvt = run("mvt_operation_triangulation.stix2")
    assert Counter(i.type for i in mvt) == {"domain": 75, "email": 36}
    assert mvt[0].value == "senlin83.com" and "OperationTriangulation" in mvt[0].labels
    amnesty = run("amnesty_novispy.stix2")
    # Amnesty writes IP addresses as domain-name values; they come out as ipv4 indicators.
    assert Counter(i.type for i in amnesty) == {"ipv4": 7, "sha256": 4}


def test_taxii_envelope_and_coa_bundle() -> None:
    items = run("envelope_objects.json")
    assert {(i.type, i.value) for i in items} == {
        ("sha256", "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"),
        ("url", "http://x4z9arb.cn/4712"),
    }
    coa = run("indicators-for-C2-with-COA.json")
    assert next((i.type, i.value) for i in coa) == ("ipv4", "10.0.0.0")
    assert [i.value for i in run("infrastructure.json")] == ["198.51.100.3", "example.com"]  # SCOs in context


def test_tlp_from_marking_refs_definitions_and_extension() -> None:
    tlp2_amber_strict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    custom = {"type": "marking-definition", "id": "marking-definition--aaaaaaaa-0000-4000-8000-000000000001",
              "definition_type": "tlp", "definition": {"tlp": "red"}, "created": "2017-01-20T00:00:00Z"}
    ext = {"type": "marking-definition", "id": "marking-definition--aaaaaaaa-0000-4000-8000-000000000002",
           "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"tlp_2_0": "green"}}}
    objs = [
        indicator("[ipv4-addr:value = '192.0.2.1']", id="indicator--a", object_marking_refs=[tlp2_amber_strict]),  # noqa: E501
        indicator("[ipv4-addr:value = '192.0.2.2']", id="indicator--b", object_marking_refs=[custom["id"]]),
        indicator("[ipv4-addr:value = '192.0.2.3']", id="indicator--c", object_marking_refs=[ext["id"]]),
        indicator("[ipv4-addr:value = '192.0.2.4']", id="indicator--d"),
        indicator("[ipv4-addr:value = '192.0.2.5']", id="indicator--e", object_marking_refs=[
            "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", tlp2_amber_strict]),
    ]
    items = list(parse(bundle(custom, ext, *objs), ParseContext(default_tlp=TLP.AMBER)))
    assert [(i.value, i.tlp) for i in items] == [
        ("192.0.2.1", "amber+strict"), ("192.0.2.2", "red"), ("192.0.2.3", "green"),
        ("192.0.2.4", "amber"), ("192.0.2.5", "amber+strict"),
    ]


def test_newest_version_wins_and_revoked_is_kept() -> None:
    old = indicator("[domain-name:value = 'old.example']", modified="2024-01-01T00:00:00.000Z")
    new = indicator("[domain-name:value = 'new.example']", modified="2024-01-01T00:00:00.5Z", revoked=True)
    stats = StixStats()
    items = list(parse(bundle(new, old), ParseContext(), stats))
    assert [(i.value, i.revoked) for i in items] == [("new.example", True)]
    assert stats.superseded == 1


def test_observable_forms_and_canonical_values() -> None:
    pattern = (
        "[ipv6-addr:value = '2001:DB8:0:0::1' OR ipv6-addr:value = '2001:db8::/32' "
        "OR network-traffic:dst_ref.value = '198.51.100.7' OR network-traffic:src_ref.value = 'Evil.Example.' "  # noqa: E501
        "OR email-message:from_ref.value = 'Boss@Example.COM' OR file:hashes.SHA1 = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01' "  # noqa: E501
        "OR file:hashes.MD5 = '0123456789ABCDEF0123456789ABCDEF' OR autonomous-system:number = 64496 "
        "OR domain-name:value = 'bücher.example' OR url:value = 'HTTP://WWW.Example.com/A?b=C' "
        "OR ipv4-addr:value IN ('192.0.2.10', '192.0.2.0/24') OR ipv4-addr:value != '192.0.2.99' "
        "OR domain-name:value LIKE '%.bad.example']"
    )
    assert observables(pattern) == [
        ("ipv6", "2001:db8::1"), ("cidr", "2001:db8::/32"), ("ipv4", "198.51.100.7"),
        ("domain", "evil.example"), ("email", "Boss@example.com"),
        ("sha1", "abcdef0123456789abcdef0123456789abcdef01"), ("md5", "0123456789abcdef0123456789abcdef"),
        ("asn", "64496"), ("domain", "xn--bcher-kva.example"), ("url", "http://www.example.com/A?b=C"),
        ("ipv4", "192.0.2.10"), ("cidr", "192.0.2.0/24"),
    ]


def test_grammar_fallback_for_qualifiers_and_not() -> None:
    pattern = ("([ipv4-addr:value = '203.0.113.5'] AND [domain-name:value NOT = 'skip.example']) "
               "WITHIN 300 SECONDS")
    assert observables(pattern) == [("ipv4", "203.0.113.5")]
    assert observables("[email-message:to_refs[*].value = 'a@b.example'] REPEATS 2 TIMES") == [
        ("email", "a@b.example")]


def test_skips_are_counted_not_fatal() -> None:
    objs = [
        indicator("[ipv4-addr:value = '192.0.2.1'", id="indicator--bad"),
        indicator("alert tcp any any -> any any", id="indicator--snort", pattern_type="snort"),
        indicator("[ipv4-addr:value = '" + "1" * (MAX_PATTERN + 1) + "']", id="indicator--huge"),
        indicator("[ipv4-addr:value = '192.0.2.77']", id="indicator--good"),
        42, "not an object",
    ]
    stats = StixStats()
    items = list(parse(bundle(*objs), ParseContext(), stats))
    assert [i.value for i in items] == ["192.0.2.77"]
    assert (stats.skipped_bad_pattern, stats.skipped_pattern_type, stats.invalid_objects) == (2, 1, 2)


def test_confidence_labels_validity_and_bare_list() -> None:
    obj = indicator("[url:value = 'https://phish.example/login']", confidence=85,
                    indicator_types=["malicious-activity"], labels=["phishing"],
                    valid_until="2025-06-30T12:00:00+02:00")
    (item,) = list(parse(json.dumps([obj]).encode(), ParseContext()))
    assert item.confidence == 85 and item.labels == ["malicious-activity", "phishing"]
    assert item.valid_until == "2025-06-30T10:00:00Z"
    assert item.key == f"stix:{IND}:url:https://phish.example/login"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ((FIX.parent / "bad" / "stix21_validator_invalid_comma.json").read_bytes(), "invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (bytes(range(256)) * 10, "invalid JSON"),
        (b'{"type": "bundle", "id": "bundle--1"}', "no 'objects'"),
        (b"", "invalid JSON"),
    ],
)
def test_bad_input_is_a_clear_parse_error(data: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason):
        list(parse(data, ParseContext(filename="x.json")))


@pytest.mark.parametrize("name", ["stix21_validator_invalid_identity.json", "stix21_validator_invalid_timestamp.json"])  # noqa: E501
def test_schema_invalid_single_objects_yield_nothing(name: str) -> None:
    # Not validated against the schema: a lone identity carries no indicator, so nothing comes out.
    assert list(parse((FIX.parent / "bad" / name).read_bytes(), ParseContext())) == []


def test_per_bundle_caches_keep_items_independent() -> None:
    """Timestamps, single markings and confidences take cached fast paths; results stay per object."""
    green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
    objs = [
        indicator("[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'a.example']",
                  id="indicator--a", confidence=150, indicator_types=["c2"], object_marking_refs=[green]),
        indicator("[ipv4-addr:value = '198.51.100.2']", id="indicator--b", confidence=-5,
                  object_marking_refs=["marking-definition--unknown"], valid_until=1717200000),
        indicator("[ipv4-addr:value = '198.51.100.3']", id="indicator--c", confidence=42,
                  valid_from="2024-01-01T00:00:00.123Z"),
    ]
    items = list(parse(bundle(*objs), ParseContext(default_tlp=TLP.AMBER)))
    first, second, other, last = items
    assert (first.value, second.value) == ("198.51.100.1", "a.example")
    assert first.labels == second.labels == ["c2"] and first.labels is not second.labels
    assert (first.tlp, first.confidence, other.tlp, other.confidence, last.confidence) == (
        "green", 100, "amber", 0, 42)
    assert other.valid_until == "2024-06-01T00:00:00Z"
    assert first.valid_from == other.valid_from == last.valid_from == "2024-01-01T00:00:00Z"
