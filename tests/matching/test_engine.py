"""Example tests for every matching rule, the label-boundary and name-matching edge cases."""

from __future__ import annotations

from certmon.items.schemas import Item, Product
from certmon.matching import IndicatorHistory, MatchEngine, MatchResult
from tests.matching.matching_helpers import ALL, OSLO, advisory, engine_for, indicator


def found(results: list[MatchResult]) -> set[tuple[int, str, str]]:
    """(constituent_id, rule, asset) of each result."""
    return {(r.constituent_id, r.rule, r.asset) for r in results}


def by_owner(results: list[MatchResult], rule: str) -> dict[int, MatchResult]:
    """Results of one rule by constituent."""
    return {r.constituent_id: r for r in results if r.rule == rule}


def test_nested_networks_of_different_owners_all_match_most_specific_named(engine: MatchEngine) -> None:
    results = engine.match(indicator("ipv4", "203.0.113.7"))
    assert found(results) == {(1, "ip-network", "203.0.113.0/28"), (2, "ip-network", "203.0.113.0/24")}
    oslo = by_owner(results, "ip-network")[1]
    assert oslo.org_number == "958935420" and oslo.asset_id == 3
    assert oslo.explanation == ("IP-adressen 203.0.113.7 ligger i nettverket 203.0.113.0/28 som er "
                                "registrert på Oslo kommune.")
    outer = engine.match(indicator("ipv4", "203.0.113.100"))
    assert found(outer) == {(1, "ip-network", "203.0.0.0/16"), (2, "ip-network", "203.0.113.0/24")}
    assert by_owner(outer, "ip-network")[1].confidence == 85


def test_confidence_grows_with_narrower_networks() -> None:
    engine = engine_for([OSLO], [(1, "network", "198.51.100.7/32"), (1, "network", "10.0.0.0/8")])
    assert engine.match(indicator("ipv4", "198.51.100.7"))[0].confidence == 95
    assert engine.match(indicator("ipv4", "10.1.2.3"))[0].confidence == 80


def test_address_outside_every_network_matches_nothing(engine: MatchEngine) -> None:
    assert engine.match(indicator("ipv4", "198.51.100.1")) == []
    assert engine.match(indicator("ipv4", "not-an-ip")) == []


def test_ipv6_nested(engine: MatchEngine) -> None:
    results = engine.match(indicator("ipv6", "2001:db8:42::1"))
    assert found(results) == {(1, "ip-network", "2001:db8::/32"), (3, "ip-network", "2001:db8:42::/48")}
    assert engine.match(indicator("ipv6", "2001:db9::1")) == []


def test_url_with_ip_literal_goes_to_ip_rule(engine: MatchEngine) -> None:
    results = engine.match(indicator("url", "http://[2001:db8::1]:8080/x"))
    assert found(results) == {(1, "ip-network", "2001:db8::/32")}
    assert "Nettadressen http://[2001:db8::1]:8080/x" in results[0].explanation
    assert found(engine.match(indicator("url", "http://203.0.113.200/a"))) == {
        (1, "ip-network", "203.0.0.0/16"), (2, "ip-network", "203.0.113.0/24")}


def test_cidr_overlap_both_directions(engine: MatchEngine) -> None:
    inside = by_owner(engine.match(indicator("cidr", "203.0.113.0/26")), "cidr-overlap")
    assert inside[2].asset == "203.0.113.0/24" and inside[2].confidence == 85
    assert inside[1].asset == "203.0.0.0/16"  # contains the /26; the /28 inside it ranks lower
    covers = by_owner(engine.match(indicator("cidr", "203.0.0.0/8")), "cidr-overlap")
    assert set(covers) == {1, 2} and covers[2].confidence == 70
    assert "omfatter nettverket" in covers[2].explanation
    assert engine.match(indicator("cidr", "198.51.100.0/24")) == []


def test_domain_label_boundaries(engine: MatchEngine) -> None:
    assert found(engine.match(indicator("domain", "mail.oslo.kommune.no"))) == {
        (1, "domain", "oslo.kommune.no")}
    assert engine.match(indicator("domain", "xoslo.kommune.no")) == []
    assert engine.match(indicator("domain", "oslo.kommune.no.evil.example")) == []
    assert engine.match(indicator("domain", "kommune.no")) == []
    exact = engine.match(indicator("domain", "OSLO.Kommune.NO."))
    assert exact[0].confidence == 95 and exact[0].explanation == (
        "Domenet oslo.kommune.no er registrert på Oslo kommune.")
    assert engine.match(indicator("domain", "mail.oslo.kommune.no"))[0].confidence == 90


def test_idn_domains_both_forms(engine: MatchEngine) -> None:
    for value in ("www.bø.kommune.no", "www.xn--b-5ga.kommune.no", "WWW.BØ.KOMMUNE.NO"):
        assert found(engine.match(indicator("domain", value))) == {(7, "domain", "xn--b-5ga.kommune.no")}


def test_url_host_goes_to_domain_rule(engine: MatchEngine) -> None:
    results = engine.match(indicator("url", "https://user@Login.Bergen.Kommune.no:443/x?y=1"))
    assert found(results) == {(2, "domain", "bergen.kommune.no")}
    assert engine.match(indicator("url", "https://bergen.kommune.no.evil.example/")) == []


def test_email_matches_email_domain_and_domain(engine: MatchEngine) -> None:
    results = engine.match(indicator("email", "Ola.Nordmann@oslo.kommune.no"))
    assert found(results) == {(1, "email-domain", "oslo.kommune.no"), (1, "domain", "oslo.kommune.no")}
    sub = by_owner(engine.match(indicator("email", "x@ansatt.oslo.kommune.no")), "email-domain")
    assert sub[1].confidence == 85
    assert engine.match(indicator("email", "x@osloxkommune.no")) == []


def test_asn_indicator_and_exposure(engine: MatchEngine) -> None:
    for value in ("64500", "AS64500"):
        assert found(engine.match(indicator("asn", value))) == {(2, "asn", "64500")}
    exposure = Item(kind="exposure", key="exp-1", tlp="amber", source_format="shadowserver",
                    ip="203.0.113.9", asn=64500, hostname="vpn.bergen.kommune.no")
    assert found(engine.match(exposure)) == {
        (2, "asn", "64500"), (2, "ip-network", "203.0.113.0/24"), (1, "ip-network", "203.0.113.0/28"),
        (2, "domain", "bergen.kommune.no")}


def test_supplier_propagation(engine: MatchEngine) -> None:
    results = engine.match(indicator("domain", "cdn.visma.no"))
    suppliers = by_owner(results, "supplier")
    assert set(suppliers) == {2, 3}
    assert suppliers[2].asset == "Visma" and suppliers[2].confidence == 80
    assert suppliers[2].explanation.startswith("Bergen kommune er avhengig av leverandøren Visma")
    assert by_owner(results, "domain")[4].confidence == 90


def test_product_version_ranges(engine: MatchEngine) -> None:
    def hits(version: str | None) -> dict[int, MatchResult]:
        item = advisory(products=[Product(vendor="Fortinet, Inc.", product="FortiOS", version=version)])
        return by_owner(engine.match(item), "product")

    # the organisation registers a range (>=7.0,<7.2.5): one affected version inside it is a partial overlap
    assert hits("7.2.4")[3].confidence == 70
    assert "overlapper delvis" in hits("7.2.4")[3].explanation
    assert hits(">=7.0,<7.3")[3].confidence == 90  # the whole registered range is affected
    assert hits("7.2.5") == {}
    assert hits("6.4.9") == {}
    assert hits(None)[3].confidence == 60


def test_product_cpe_and_vendor_alias(engine: MatchEngine) -> None:
    cpe = "cpe:2.3:a:microsoft:exchange_server:2019:cumulative_update_13:*:*:*:*:*:*"
    item = advisory(products=[Product(vendor="", product="", cpe=cpe)])
    results = by_owner(engine.match(item), "product")
    assert results[8].confidence == 90 and results[1].confidence == 60
    vuln = Item(kind="vulnerability", key="CVE-2024-0001", tlp="clear", source_format="kev",
                cve="CVE-2024-0001", vendor="Microsoft", product="Exchange Server", known_exploited=True)
    vuln_hits = by_owner(engine.match(vuln), "product")
    assert set(vuln_hits) == {1, 8} and vuln_hits[1].severity == "high"


def test_exploited_critical_stays_critical(engine: MatchEngine) -> None:
    item = advisory(products=[Product(vendor="fortinet", product="fortios")], cvss=9.8,
                    extra={"actively_exploited": True})
    assert {r.severity for r in engine.match(item)} == {"critical"}
    plain = advisory(products=[Product(vendor="fortinet", product="fortios")], severity="medium")
    assert {r.severity for r in engine.match(plain)} == {"medium"}


def test_names_whole_words_with_norwegian_letters(engine: MatchEngine) -> None:
    text = ("Angrep mot Nes kommune, Os herad og Østre Toten. Helse Bergens systemer og "
            "Sykehuset Innlandet er også rammet; Oslo kommunes nettsider er nede.")
    results = by_owner(engine.match(advisory(text)), "name")
    assert set(results) == {1, 3, 5, 6, 8, 9}
    assert results[5].asset == "Nes kommune" and results[5].confidence == 50
    assert results[1].explanation == "Teksten nevner «Oslo kommunes», som er navnet på Oslo kommune."


def test_names_common_words_and_partial_words_do_not_match(engine: MatchEngine) -> None:
    text = ("Nes er et vanlig ord. Os, Bø og Vik ligger ved sjøen. Osloveien er stengt, Oslo er stor, "
            "Bergen regner. Vestre Toten kommune og Helse Bergenhus. Bønes kommune finnes ikke.")
    assert engine.match(advisory(text)) == []


def test_name_in_summary_and_case_insensitive(engine: MatchEngine) -> None:
    item = advisory("Ukens trusler", summary="<p>Hendelse hos bø kommune i går.</p>")
    assert found(engine.match(item)) == {(7, "name", "bø kommune")}


def test_revoked_items_match_nothing(engine: MatchEngine) -> None:
    assert engine.match(indicator("ipv4", "203.0.113.7", revoked=True)) == []
    assert engine.match_many([indicator("domain", "oslo.kommune.no", revoked=True)]) == []


def test_one_result_per_item_constituent_and_rule() -> None:
    engine = engine_for([OSLO], [(1, "network", "10.0.0.0/8"), (1, "network", "10.1.0.0/16"),
                                 (1, "network", "10.1.2.0/24"), (1, "domain", "kommune.no"),
                                 (1, "domain", "oslo.kommune.no")])
    assert found(engine.match(indicator("ipv4", "10.1.2.3"))) == {(1, "ip-network", "10.1.2.0/24")}
    assert found(engine.match(indicator("domain", "a.oslo.kommune.no"))) == {(1, "domain", "oslo.kommune.no")}


def test_match_many_agrees_with_match(engine: MatchEngine) -> None:
    items = [indicator("ipv4", "203.0.113.7"), indicator("ipv6", "2001:db8:42::9"),
             indicator("ipv4", "bogus"), indicator("ipv4", "198.51.100.1"),
             indicator("domain", "cdn.visma.no"), indicator("domain", "BØ.kommune.no."),
             indicator("domain", "nowhere.example"), indicator("cidr", "203.0.113.0/25"),
             advisory("Nes kommune"), indicator("ipv4", "203.0.113.8", revoked=True)]
    expected = sorted((r for item in items for r in engine.match(item)), key=repr)
    assert sorted(engine.match_many(items), key=repr) == expected
    assert len(expected) == 11


def test_bad_assets_are_reported_not_fatal() -> None:
    engine = engine_for(ALL, [(1, "network", "not-a-net"), (1, "asn", "ASX"), (1, "supplier", "999"),
                              (1, "product", "justonefield"), (1, "network", "10.0.0.0/33")])
    assert len(engine.rejected) == 5
    assert engine.version == "test"


def test_history_rematch_after_registry_change() -> None:
    items = [indicator("ipv4", "203.0.113.7"), indicator("ipv4", "198.51.100.9"),
             indicator("domain", "www.oslo.kommune.no"), indicator("url", "https://oslo.kommune.no/"),
             indicator("ipv6", "2001:db8::1")]
    history = IndicatorHistory(items)
    before = engine_for([OSLO], [(1, "network", "203.0.113.0/24")])
    assert found(history.rematch(before)) == {(1, "ip-network", "203.0.113.0/24")}
    after = engine_for([OSLO], [(1, "network", "198.51.100.0/24"), (1, "domain", "oslo.kommune.no"),
                                (1, "network", "2001:db8::/32")])
    assert sorted(history.rematch(after), key=repr) == sorted(after.match_many(items), key=repr)
    assert {r.item_key for r in history.rematch(after)} == {
        "ipv4:198.51.100.9", "domain:www.oslo.kommune.no", "url:https://oslo.kommune.no/", "ipv6:2001:db8::1"}
