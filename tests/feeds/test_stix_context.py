"""STIX observables in context: infrastructure, sightings of observed-data, based-on; bare SCOs yield nothing."""

import json
from pathlib import Path

from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.stix import StixStats, parse

FIX = Path(__file__).parents[1] / "fixtures" / "stix"
AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"  # TLP 1.0 amber
RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"  # TLP 1.0 red
T = "2024-03-01T10:00:00Z"


def run(data: bytes, tlp: TLP = TLP.GREEN, stats: StixStats | None = None) -> list:
    return list(parse(data, ParseContext(default_tlp=tlp, filename="t.json"), stats))


def bundle(*objects: dict) -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--1", "objects": list(objects)}).encode()


def sdo(kind: str, n: int, **fields: object) -> dict:
    return {"type": kind, "spec_version": "2.1", "id": f"{kind}--00000000-0000-4000-8000-{n:012d}",
            "created": T, "modified": T, **fields}


def sco(kind: str, n: int, **fields: object) -> dict:
    return {"type": kind, "spec_version": "2.1", "id": f"{kind}--00000000-0000-5000-8000-{n:012d}", **fields}


def rel(rtype: str, source: dict, target: dict, n: int, **fields: object) -> dict:
    return sdo("relationship", n, relationship_type=rtype, source_ref=source["id"], target_ref=target["id"],
               **fields)


def test_oasis_infrastructure_example_c2_and_hosting() -> None:
    items = run((FIX / "infrastructure.json").read_bytes(), TLP.CLEAR)
    got = {(i.type, i.value): i for i in items}
    assert set(got) == {("ipv4", "198.51.100.3"), ("domain", "example.com")}
    c2 = got[("ipv4", "198.51.100.3")]
    assert c2.kind == "indicator" and c2.tlp == "clear" and c2.labels == ["Poison Ivy C2", "Poison Ivy"]
    assert c2.key == "stix:ipv4-addr--1e4ffad7-0b88-41d4-ba4d-77d27490b956:ipv4:198.51.100.3"
    assert c2.extra["context"] == [{"via": "infrastructure", "infrastructure": "Poison Ivy C2",
                                    "relationship": "controls", "malware": "Poison Ivy"}]
    assert got[("domain", "example.com")].extra["context"][0]["malware"] == "IMDDOS"  # malware uses infra


def test_oasis_sighting_of_observed_data_stix20() -> None:
    items = run((FIX / "sighting-of-observed-data.json").read_bytes())
    assert {(i.type, i.value) for i in items} == {("md5", "1717b7fff97d37a1e1a0029d83492de1"),
                                                  ("sha1", "c79a326f8411e9488bdc3779753e1e3489aaedea")}
    md5 = items[0]  # the registry key in the second observed-data is no indicator type
    assert md5.labels == ["Online Job Site Trojan"] and md5.tlp == "green"
    assert md5.extra["context"] == [{"via": "sighting", "sighting_of": "Online Job Site Trojan"}]
    assert md5.key.startswith("stix:observed-data--cf8eaa41-6f4c-482e-89b9-9cd2d6a83cb1/0:md5:")


def test_bare_and_benign_observables_yield_nothing() -> None:
    ip, dom, url = sco("ipv4-addr", 1, value="192.0.2.10"), sco("domain-name", 2, value="quiet.example"), \
        sco("url", 3, value="http://x.example/a")
    infra = sdo("infrastructure", 4, name="Office network", infrastructure_types=["workstation"])
    od = sdo("observed-data", 5, first_observed=T, last_observed=T, number_observed=1, object_refs=[url["id"]])
    identity = sdo("identity", 6, name="Kommune")
    objs = [ip, dom, url, infra, od, identity, rel("consists-of", infra, ip, 7),  # no malware link
            rel("related-to", od, identity, 8)]  # observed-data tied to nothing malicious
    assert run(bundle(*objs)) == []


def test_targeted_infrastructure_and_observations_are_victims_not_indicators() -> None:
    victim_ip, c2_ip = sco("ipv4-addr", 31, value="198.51.100.20"), sco("ipv4-addr", 32, value="203.0.113.66")
    victim_dom = sco("domain-name", 33, value="mail.kommune.example")
    campaign = sdo("campaign", 34, name="Spring phishing wave")
    mail = sdo("infrastructure", 35, name="Municipal mail servers", infrastructure_types=["workstation"])
    c2 = sdo("infrastructure", 36, name="Wave C2", infrastructure_types=["command-and-control"])
    od = sdo("observed-data", 37, first_observed=T, last_observed=T, number_observed=1,
             object_refs=[victim_dom["id"]])
    objs = [victim_ip, c2_ip, victim_dom, campaign, mail, c2, od,
            rel("targets", campaign, mail, 38), rel("consists-of", mail, victim_ip, 39),
            rel("targets", campaign, od, 40),
            rel("uses", campaign, c2, 41), rel("consists-of", c2, c2_ip, 42)]
    items = run(bundle(*objs))
    assert [(i.value, i.extra["context"]) for i in items] == [("203.0.113.66", [{
        "via": "infrastructure", "infrastructure": "Wave C2", "relationship": "uses",
        "campaign": "Spring phishing wave"}])]


def test_observed_data_sighted_related_and_based_on_stix21() -> None:
    mal = sdo("malware", 1, name="Emotet", is_family=True)
    ip6 = sco("ipv6-addr", 2, value="2001:db8::5")
    url = sco("url", 3, value="http://drop.example/payload.bin")
    mail = sco("email-addr", 4, value="Phish@Bad.example")
    od_sighted = sdo("observed-data", 5, first_observed="2024-02-01T00:00:00Z", last_observed=T,
                     number_observed=3, object_refs=[ip6["id"]])
    sighting = sdo("sighting", 6, first_seen="2024-02-02T00:00:00Z", sighting_of_ref=mal["id"],
                   observed_data_refs=[od_sighted["id"]], object_marking_refs=[AMBER])
    od_related = sdo("observed-data", 7, first_observed=T, last_observed=T, number_observed=1,
                     object_refs=[url["id"]])
    ind = sdo("indicator", 8, name="Emotet phishing sender", pattern="[email-addr:value = 'other@bad.example']",
              pattern_type="stix", valid_from=T)
    objs = [mal, ip6, url, mail, od_sighted, sighting, od_related, ind,
            rel("related-to", od_related, mal, 9), rel("based-on", ind, mail, 10), rel("indicates", ind, mal, 11)]
    items = run(bundle(*objs))
    by = {(i.type, i.value): i for i in items}
    assert set(by) == {("email", "other@bad.example"), ("ipv6", "2001:db8::5"),
                       ("url", "http://drop.example/payload.bin"), ("email", "Phish@bad.example")}
    sighted = by[("ipv6", "2001:db8::5")]
    assert (sighted.tlp, sighted.labels, sighted.valid_from) == ("amber", ["Emotet"], "2024-02-02T00:00:00Z")
    assert sighted.extra["context"] == [{"via": "sighting", "sighting_of": "Emotet"}]
    related = by[("url", "http://drop.example/payload.bin")]
    assert related.extra["context"] == [{"via": "observed-data", "relationship": "related-to", "malware": "Emotet"}]
    based = by[("email", "Phish@bad.example")]
    assert based.labels == ["Emotet"] and based.tlp == "green"
    assert based.extra["context"] == [{"via": "based-on", "indicator": "Emotet phishing sender",
                                       "relationship": "based-on"}]
    assert by[("email", "other@bad.example")].key.startswith(f"stix:{ind['id']}:")  # the pattern, unchanged


def test_tlp_is_the_most_restrictive_of_the_context_and_patterns_are_not_repeated() -> None:
    mal = sdo("malware", 1, name="QakBot", is_family=True, object_marking_refs=[AMBER])
    ip = sco("ipv4-addr", 2, value="203.0.113.7")
    red_ip = sco("ipv4-addr", 3, value="203.0.113.8", object_marking_refs=[RED])
    infra = sdo("infrastructure", 4, name="QakBot C2 tier 1", infrastructure_types=["command-and-control"])
    ind = sdo("indicator", 5, pattern="[ipv4-addr:value = '203.0.113.7']", pattern_type="stix", valid_from=T)
    objs = [mal, ip, red_ip, infra, ind, rel("uses", mal, infra, 6), rel("consists-of", infra, ip, 7),
            rel("consists-of", infra, red_ip, 8), rel("based-on", ind, ip, 9)]
    stats = StixStats()
    items = run(bundle(*objs), TLP.CLEAR, stats)
    assert [(i.value, i.tlp, i.key.split(":")[1].split("--")[0]) for i in items] == [
        ("203.0.113.7", "clear", "indicator"),  # the indicator's own item; its based-on SCO adds no second one
        ("203.0.113.8", "red", "ipv4-addr"),
    ]
    assert stats.items == 2


def test_pattern_bundles_are_unchanged() -> None:
    for name, count in (("apt1.json", 11), ("poisonivy.json", 71), ("indicators-for-C2-with-COA.json", 2)):
        assert len(run((FIX / name).read_bytes())) == count, name
