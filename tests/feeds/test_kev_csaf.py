"""KEV and CSAF adapters on real CISA, BSI, Cisco and OASIS samples."""

from pathlib import Path

import pytest

from certmon.errors import FeedParseError
from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.csaf import is_csaf_index
from feeds.csaf import parse as parse_csaf
from feeds.kev import parse as parse_kev

FIX = Path(__file__).parents[1] / "fixtures"


def test_kev_catalogue() -> None:
    items = list(parse_kev((FIX / "kev/known_exploited_vulnerabilities_first200.json").read_bytes(), ParseContext()))  # noqa: E501
    assert len(items) == 200 and sum(1 for i in items if i.ransomware) == 25
    git = items[0]
    assert (git.kind, git.key, git.cve, git.vendor, git.product) == (
        "vulnerability", "kev:CVE-2025-48384", "CVE-2025-48384", "Git", "Git")
    assert git.title == "Git Link Following Vulnerability"
    assert (git.published, git.due_date, git.known_exploited, git.ransomware) == (
        "2025-08-25T00:00:00Z", "2025-09-15", True, False)
    assert git.extra["requiredAction"].startswith("Apply mitigations") and git.extra["cwes"] == ["CWE-59", "CWE-436"]  # noqa: E501
    assert items[-1].cve == "CVE-2024-43093" and items[-1].vendor == "Android"


def test_kev_rejects_other_json_and_skips_bad_entries() -> None:
    with pytest.raises(FeedParseError, match="not a KEV catalogue"):
        list(parse_kev(b'{"title": "x"}', ParseContext(filename="kev.json")))
    data = b'{"vulnerabilities": [{"cveID": "nonsense"}, 7, {"cveID": "cve-2024-0001", "vendorProject": "X"}]}'  # noqa: E501
    assert [i.cve for i in parse_kev(data, ParseContext())] == ["CVE-2024-0001"]


def test_csaf_cisco_advisory() -> None:
    items = list(parse_csaf((FIX / "csaf/cisco-sa-20180328-smi2.json").read_bytes(), ParseContext()))
    adv, vuln = items
    assert adv.kind == "advisory" and adv.key == "csaf:cisco-sa-20180328-smi2"
    assert adv.title == "Cisco IOS and IOS XE Software Smart Install Remote Code Execution Vulnerability"
    assert adv.published == "2018-03-28T16:00:00Z" and adv.cves == ["CVE-2018-0171"]
    assert (adv.cvss, adv.severity) == (9.8, "critical")
    assert {(p.vendor, p.product) for p in adv.products} == {("Cisco", "IOS"), ("Cisco", "Cisco IOS XE Software")}  # noqa: E501
    assert any(p.version == "12.2(55)SE" and p.status == "affected" for p in adv.products)  # the release, not the train
    assert (vuln.kind, vuln.key, vuln.cve) == ("vulnerability", "csaf:cisco-sa-20180328-smi2:CVE-2018-0171",
                                               "CVE-2018-0171")


def test_csaf_tlp_and_self_url() -> None:
    bsi = list(parse_csaf((FIX / "csaf/bsi-2022-0001.json").read_bytes(), ParseContext(default_tlp=TLP.AMBER)))  # noqa: E501
    assert bsi[0].tlp == "clear"  # distribution.tlp.label WHITE
    assert bsi[0].url == "BSI-2022-0001"  # no 'self' reference: the tracking id stands in
    assert bsi[0].products[0].vendor == "CSAF Tools"
    statuses = {(p.version or p.range, p.status) for p in bsi[0].products}
    assert ("1.0.0-alpha", "affected") in statuses and ("1.0.0-rc2", "fixed") in statuses
    assert ("vers:generic/>=1.0.0-rc2", "fixed") in statuses  # first_fixed: that version and later
    cisa = list(parse_csaf((FIX / "csaf/icsma-24-151-01.json").read_bytes(), ParseContext(default_tlp=TLP.AMBER)))  # noqa: E501
    assert cisa[0].url.endswith("/icsma-24-151-01.json") and cisa[0].cves == ["CVE-2024-5176"]
    assert cisa[0].products[0].vendor == "Baxter"
    cisco = list(parse_csaf((FIX / "csaf/cisco-sa-20180328-smi2.json").read_bytes(), ParseContext(default_tlp=TLP.GREEN)))  # noqa: E501
    assert cisco[0].tlp == "green"  # no distribution: source default


def test_csaf_vex_lists_every_cve() -> None:
    items = list(parse_csaf((FIX / "csaf/sec-vex-2022-0001.json").read_bytes(), ParseContext()))
    assert items[0].cves == ["CVE-2021-44228", "CVE-2021-45046", "CVE-2021-45105"]
    assert [i.cve for i in items[1:]] == ["CVE-2021-44228", "CVE-2021-45046", "CVE-2021-45105"]


def test_csaf_21_product_paths_are_read_like_20_relationships() -> None:
    """CSAF 2.1 replaced `relationships` by `product_paths`: the same Red Hat advisory in both versions
    names the same products, each a component with its platform."""
    def products(path: str) -> list[tuple[object, ...]]:
        adv = next(iter(parse_csaf((FIX / path).read_bytes(), ParseContext())))
        return sorted((p.product_id, p.vendor, p.product, p.platform, p.relation, p.status) for p in adv.products)

    v20, v21 = products("csaf/real/oasis-2.0/rhsa-2021_5186.json"), products("csaf/real/oasis-2.1/rhsa-2021_5186.json")
    assert v21 == v20 and len(v21) == 3
    assert all(vendor == "Red Hat" and platform and relation == "default_component_of"
               for _, vendor, _, platform, relation, _ in v21)
    items = list(parse_csaf((FIX / "csaf/oasis_csaf_tc-csaf_2_1-2024-6-1-01-12.json").read_bytes(), ParseContext()))
    path = next(p for p in items[0].products if p.product_id == "CSAFPID-9080706")
    assert (path.vendor, path.product, path.version, path.platform, path.relation, path.status) == (
        "Example Company", "Product A", "1.0.0", "Example Company Extension I", "installed_with", "under_investigation")


@pytest.mark.parametrize(("name", "kind"), [("rolie-feed-example-01-tlp-white.json", "rolie"),
                                             ("provider-metadata-example-01.json", "provider-metadata")])
def test_csaf_index_documents(name: str, kind: str) -> None:
    data = (FIX / "csaf" / name).read_bytes()
    assert is_csaf_index(data) == kind
    assert list(parse_csaf(data, ParseContext())) == []


def test_csaf_bad_input() -> None:
    assert is_csaf_index((FIX / "csaf/bsi-2022-0001.json").read_bytes()) is None
    assert is_csaf_index(b"\x00\xff") is None
    with pytest.raises(FeedParseError, match="not a CSAF document"):
        list(parse_csaf(b'{"a": 1}', ParseContext()))
    with pytest.raises(FeedParseError, match="tracking id"):
        list(parse_csaf(b'{"document": {"title": "x"}}', ParseContext()))


def test_csaf_21_first_known_exploitation_dates_mean_exploited() -> None:
    """CSAF 2.1 `first_known_exploitation_dates` says when the vulnerability was first exploited in the wild;
    its threat text ("Reliable exploits integrated in Metasploit.") does not say "exploited"."""
    adv, vuln = parse_csaf((FIX / "csaf/oasis_csaf_tc-csaf_2_1-2024-6-1-01-12.json").read_bytes(), ParseContext())
    assert vuln.known_exploited is True and vuln.extra["first_known_exploitation"] == "2024-01-11T15:53:00Z"
    assert adv.extra["actively_exploited"] is True
    bsi = list(parse_csaf((FIX / "csaf/bsi-2022-0001.json").read_bytes(), ParseContext()))
    assert "actively_exploited" not in bsi[0].extra and not bsi[1].known_exploited


def _release_lines_doc(status: dict[str, list[str]], versions: list[str]) -> bytes:
    """A CSAF 2.0 advisory of one product in several versions, with the given product status."""
    import json

    branches = [{"category": "product_version", "name": v, "product": {"product_id": f"GW-{v}", "name": f"Gateway {v}"}}
                for v in versions]
    return json.dumps({
        "document": {"category": "csaf_security_advisory", "csaf_version": "2.0", "title": "Gateway",
                     "publisher": {"category": "vendor", "name": "Example", "namespace": "https://example.com"},
                     "tracking": {"id": "EX-2026-1", "status": "final", "version": "1",
                                  "initial_release_date": "2026-12-01T00:00:00Z",
                                  "current_release_date": "2026-12-01T00:00:00Z",
                                  "revision_history": [{"date": "2026-12-01T00:00:00Z", "number": "1",
                                                        "summary": "x"}]}},
        "product_tree": {"branches": [{"category": "vendor", "name": "Example", "branches": [
            {"category": "product_name", "name": "Gateway", "branches": branches}]}]},
        "vulnerabilities": [{"cve": "CVE-2026-0001",
                             "product_status": {k: [f"GW-{v}" for v in vs] for k, vs in status.items()}}],
    }).encode()


@pytest.mark.parametrize(("status", "affected", "cleared", "unlisted"), [
    # two release lines, each with its first affected and first fixed version
    ({"first_affected": ["1.0", "2.0"], "first_fixed": ["1.5", "2.3"]},
     ["1.0", "1.4.9", "2.0", "2.2.1"], ["1.5", "1.9", "2.3", "3.0"], ["0.9"]),
    # the first fixed version per release line only (as vendors list their trains): a line's earlier
    # versions are not fixed (the old reading cleared 7.2.0 by 7.0.15); first_fixed says nothing of them
    ({"first_fixed": ["7.0.15", "7.2.8", "7.4.4"]},
     [], ["7.0.15", "7.0.99", "7.2.8", "7.4.4", "7.6"], ["6.4", "7.0.14", "7.2.0", "7.2.7", "7.4.3"]),
    # a release line nobody lists (7.2) is not cleared by the fix of the line before it
    ({"first_fixed": ["7.0.15", "7.4.4"]}, [], ["7.0.15", "7.0.99", "7.4.4"], ["7.1.0", "7.2.5", "7.4.3"]),
    ({"first_affected": ["1.0"], "first_fixed": ["1.5", "2.3.1"]},
     ["1.0", "1.4"], ["1.5", "1.9", "2.3.1", "3.0"], ["2.0", "2.2", "2.3.0"]),
    # a bound equal to another in another spelling: no empty range
    ({"first_affected": ["7.2.0"], "first_fixed": ["7.2"]}, [], ["7.2.0", "7.3"], ["7.1"]),
    # last affected per line, then the later line's fix
    ({"first_affected": ["1.0", "2.0"], "last_affected": ["1.4", "2.2"], "first_fixed": ["1.5", "2.3"]},
     ["1.0", "1.4", "2.0", "2.2"], ["1.5", "2.3", "2.4"], ["0.9"]),
    # a fix, then a later line's last affected version: that line is affected up to it
    ({"first_fixed": ["1.5"], "last_affected": ["2.2"]}, ["2.0", "2.2"], ["1.5", "1.9"], ["1.4", "2.3"]),
    # one line: the ranges as before
    ({"first_affected": ["1.0"], "first_fixed": ["1.5"]}, ["1.0", "1.4"], ["1.5", "2.0"], ["0.9"]),
    ({"last_affected": ["1.4"]}, ["0.1", "1.4"], [], ["1.5"]),
])
def test_csaf_first_and_last_bounds_keep_release_lines_apart(status: dict[str, list[str]], affected: list[str],
                                                             cleared: list[str], unlisted: list[str]) -> None:
    """first_affected / last_affected / first_fixed of several release lines of one product: a version of
    one line is judged by that line's bounds, not by the lowest first and the highest last of all."""
    from certmon.matching.products import InventoryEntry, judge

    versions = sorted({v for vs in status.values() for v in vs})
    adv = next(iter(parse_csaf(_release_lines_doc(status, versions), ParseContext())))
    for version in affected + cleared + unlisted:
        entry = InventoryEntry(1, 1, f"example:gateway:{version}", version, "generic")
        verdict = judge(entry, list(adv.products))
        want = "affected" if version in affected else "fixed" if version in cleared else None
        assert (verdict.status if verdict is not None else None) == want, (version, verdict)


def test_a_csaf_document_without_scores_takes_the_publishers_severity_words() -> None:
    """Red Hat's advisories carry no CVSS here but `document.aggregate_severity` ("Critical") and per
    vulnerability an `impact` threat ("Moderate"); a score, where there is one, still decides."""
    adv, log4j_jms, log4j_core = parse_csaf((FIX / "csaf/real/oasis-2.0/rhsa-2021_5186.json").read_bytes(),
                                            ParseContext())
    assert (adv.cvss, adv.severity) == (None, "critical")
    assert (log4j_jms.cve, log4j_jms.severity) == ("CVE-2021-4104", "medium")
    assert (log4j_core.cve, log4j_core.severity) == ("CVE-2021-4125", "critical")
    bsi = list(parse_csaf((FIX / "csaf/bsi-2022-0001.json").read_bytes(), ParseContext()))
    assert (bsi[0].cvss, bsi[0].severity) == (6.1, "medium")


def test_csaf_bounds_that_do_not_compare_are_read_as_single_versions() -> None:
    """One bound in prose ("4.0 for Windows Server 2022") does not spoil the others: the versions that
    compare are read in order, and the odd one is a statement about itself."""
    status = {"first_affected": ["2.0", "1.0"], "first_fixed": ["1.5", "4.0 for Windows Server 2022"]}
    adv = next(iter(parse_csaf(_release_lines_doc(status, ["1.0", "1.5", "2.0", "4.0 for Windows Server 2022"]),
                               ParseContext())))
    got = {(p.version, p.range, p.status) for p in adv.products}
    assert got == {(None, "vers:generic/>=1.0|<1.5|>=2.0", "affected"), (None, "vers:generic/>=1.5|<2.0", "fixed"),
                   ("4.0 for Windows Server 2022", None, "fixed")}
