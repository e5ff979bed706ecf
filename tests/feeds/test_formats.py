"""Format registry, sniffing for `--format auto`, and the shared text/canonical helpers."""

from pathlib import Path

import pytest

from certmon.errors import FeedParseError
from certmon.items.schemas import item_to_json
from feeds.base import ParseContext
from feeds.common import canonical_indicator, iso_utc, sanitise_html
from feeds.formats import FORMATS, detect_format, parse_bytes
from feeds.textscan import find_cves, find_products

FIX = Path(__file__).parents[1] / "fixtures"
SAMPLES = {
    "rss/us-cert_bulletins_2016-01-06_first3.rss.xml": "rss",
    "stix/apt1.json": "stix",
    "stix/mvt_operation_triangulation.stix2": "stix",
    "stix/envelope_objects.json": "stix",
    "kev/known_exploited_vulnerabilities_first200.json": "kev",
    "csaf/icsma-24-151-01.json": "csaf",
    "csaf/rolie-feed-example-01-tlp-white.json": "csaf",
    "misp/57c4445b-c548-4654-af0b-4be3950d210f.json": "misp",
    "misp/circl_osint_feed_slice/manifest.json": "misp",
    "abusech/feodotracker_ipblocklist.txt": "feodo",
    "abusech/urlhaus_tld_ch.csv": "urlhaus",
    "abusech/threatfox_api_iocs_sample.ndjson": "threatfox",
    "shadowserver/scan_rdp.csv": "shadowserver",
    "suricata/eve_sample.json": "suricata",
}


def test_registry_names() -> None:
    assert {"rss", "atom", "stix", "stix21", "taxii21", "kev", "csaf", "misp", "misp-feed", "feodo",
            "abusech-feodo", "urlhaus", "abusech-urlhaus", "threatfox", "abusech-threatfox", "shadowserver",
            "suricata"} <= set(FORMATS)


@pytest.mark.parametrize(("rel", "fmt"), SAMPLES.items())
def test_detect_and_parse_every_sample(rel: str, fmt: str) -> None:
    data = (FIX / rel).read_bytes()
    assert detect_format(data, Path(rel).name) == fmt
    items = parse_bytes(data, "auto", ParseContext(filename=Path(rel).name))
    for item in items:  # every item serialises to the JSON Lines format
        assert item_to_json(item).startswith(b"{")


def test_undetectable_and_unknown() -> None:
    with pytest.raises(FeedParseError, match="cannot tell"):
        detect_format(b"\x00\x01\x02 binary")
    with pytest.raises(FeedParseError, match="unknown kind"):
        detect_format(b'{"hello": "world"}')
    with pytest.raises(FeedParseError, match="unknown format 'nope'"):
        parse_bytes(b"{}", "nope", ParseContext())


def test_canonical_values() -> None:
    assert canonical_indicator("ipv4", "192.0.2.1/32") == ("ipv4", "192.0.2.1")
    assert canonical_indicator("cidr", "192.0.2.77/24") == ("cidr", "192.0.2.0/24")
    assert canonical_indicator("ipv6", "2001:DB8:0:0:0:0:0:1") == ("ipv6", "2001:db8::1")
    assert canonical_indicator("domain", "WWW.Example.COM.") == ("domain", "www.example.com")
    assert canonical_indicator("domain", "Ærlig.no") == ("domain", "xn--rlig-uoa.no")
    assert canonical_indicator("domain", "not a domain") is None
    assert canonical_indicator("asn", "AS64496") == ("asn", "64496")
    assert canonical_indicator("sha256", "AB" * 32) == ("sha256", "ab" * 32)
    assert canonical_indicator("md5", "xyz") is None
    assert canonical_indicator("url", "HTTPS://Bücher.Example:8443/P?q=1") == (
        "url", "https://xn--bcher-kva.example:8443/P?q=1")
    assert canonical_indicator("url", "no-scheme.example/path") is None


def test_timestamps() -> None:
    assert iso_utc("Mon, 04 Jan 2016 15:34:25 -0500") == "2016-01-04T20:34:25Z"
    assert iso_utc("2024-05-01") == "2024-05-01T00:00:00Z"
    assert iso_utc("2021-03-27T00:00:00.521730Z") == "2021-03-27T00:00:00Z"
    assert iso_utc("1472540684") == "2016-08-30T07:04:44Z"
    assert iso_utc("yesterday") is None and iso_utc("2024-13-45") is None


def test_textscan() -> None:
    text = ("Critical flaws in Cisco IOS XE (cve-2023-20198) and Apple iOS; the key exchange is fine. "
            "Palo Alto PAN-OS GlobalProtect CVE-2024-3400, CVE-2023-20198.")
    assert find_cves(text) == ["CVE-2023-20198", "CVE-2024-3400"]
    assert [(p.vendor, p.product) for p in find_products(text)] == [
        ("Cisco", "IOS XE"), ("Apple", "iOS"), ("Palo Alto Networks", "PAN-OS")]


def test_sanitise_html() -> None:
    assert sanitise_html('<img src=x onerror=alert(1)><b style="x">bold</b><script>x()</script>') == "<b>bold</b>"  # noqa: E501
    long = "<p>" + "ord & ord " * 1000 + "</p>"
    cut = sanitise_html(long, limit=100)
    assert cut is not None and len(cut) <= 100 and cut.endswith("…") and "&amp;" in cut
