"""abuse.ch adapters: Feodo Tracker, URLhaus and ThreatFox real exports."""

from collections import Counter
from pathlib import Path

import pytest

from certmon.errors import FeedParseError
from feeds.abusech import parse_feodo, parse_threatfox, parse_urlhaus
from feeds.base import ParseContext

FIX = Path(__file__).parents[1] / "fixtures" / "abusech"


def test_feodo_csv_blocklist() -> None:
    items = list(parse_feodo((FIX / "feodotracker_ipblocklist.txt").read_bytes(), ParseContext()))
    assert [(i.key, i.value, i.labels) for i in items] == [
        ("feodo:ipv4:10.213.75.205", "10.213.75.205", ["Dridex", "botnet-c2"]),
        ("feodo:ipv4:192.16.238.101", "192.16.238.101", ["Dridex", "botnet-c2"]),
    ]
    assert items[0].extra == {"port": 443, "c2_status": "online", "last_online": "2021-02-10"}
    assert items[0].valid_from == "2021-01-17T07:30:05Z"


def test_feodo_plain_and_json_lists() -> None:
    assert [i.value for i in parse_feodo(b"# banner\n192.0.2.1\nnot-an-ip\n192.0.2.2\n", ParseContext())] == [
        "192.0.2.1", "192.0.2.2"]
    data = b'[{"ip_address": "192.0.2.9", "port": 447, "malware": "QakBot", "first_seen": "2024-01-02 03:04:05"}]'  # noqa: E501
    (item,) = parse_feodo(data, ParseContext())
    assert (item.value, item.labels, item.extra["port"]) == ("192.0.2.9", ["QakBot", "botnet-c2"], 447)
    with pytest.raises(FeedParseError, match="no valid IP"):
        list(parse_feodo(b"garbage\nmore garbage\n", ParseContext()))


def test_urlhaus_csv() -> None:
    items = list(parse_urlhaus((FIX / "urlhaus_tld_ch.csv").read_bytes(), ParseContext()))
    assert [i.value for i in items] == ["http://marconuenlist.ch/verif.accounts.docs.net/",
                                        "http://cbd-planet.ch/sec.myacc.send.com/"]
    assert items[0].labels == ["malware_download"] and items[0].extra["url_status"] == "offline"
    assert items[1].extra["asnumber"] == "29222" and items[1].valid_from == "2019-02-12T14:27:03Z"


RECENT = "urlhaus_csv_recent_2026-02-26.csv"


def _urlhaus(data: bytes) -> list:
    return list(parse_urlhaus(data, ParseContext(filename=RECENT)))


def test_urlhaus_recent_dump_reads_by_column_names() -> None:
    data = (FIX / RECENT).read_bytes()
    items = _urlhaus(data)
    assert len(items) == 10
    first = items[0]
    assert (first.key, first.value) == ("urlhaus:url:http://182.126.120.150:58801/i", "http://182.126.120.150:58801/i")
    assert first.labels == ["malware_download", "32-bit", "elf", "mips", "Mozi"]
    assert first.valid_from == "2026-02-26T12:05:20Z"
    assert first.extra == {"url_status": "online", "last_online": "2026-02-26 12:05:20",
                           "urlhaus_link": "https://urlhaus.abuse.ch/url/3786237/"}
    assert items[6].extra["url_status"] == "offline" and "last_online" not in items[6].extra


def test_a_banner_with_a_comma_is_not_the_header() -> None:
    data = (FIX / RECENT).read_bytes()
    expected = [(i.value, i.labels, i.extra) for i in _urlhaus(data)]
    for banner in (b"# URLhaus CSV Feed (synthetic, test)\n", b"# urlhaus, url, dump\n",
                   b"# Terms, see https://urlhaus.abuse.ch/api/\n"):
        got = _urlhaus(banner + data)
        assert [(i.value, i.labels, i.extra) for i in got] == expected, banner


def test_urlhaus_without_a_header_line_uses_the_published_order() -> None:
    lines = (FIX / RECENT).read_bytes().splitlines(keepends=True)
    headerless = b"# URLhaus CSV Feed (synthetic, test)\n" + b"".join(
        line for line in lines if not line.startswith(b"# id,"))
    assert [i.value for i in _urlhaus(headerless)] == [i.value for i in _urlhaus(b"".join(lines))]


def test_urlhaus_columns_in_another_order_and_an_uncommented_header() -> None:
    data = (b"# URLhaus CSV Feed (synthetic, test)\n"
            b"url,threat,dateadded,url_status\n"
            b"http://bad.example/x.exe,malware_download,2024-05-01 10:00:00,online\n")
    (item,) = _urlhaus(data)
    assert (item.value, item.labels, item.valid_from, item.extra) == (
        "http://bad.example/x.exe", ["malware_download"], "2024-05-01T10:00:00Z", {"url_status": "online"})


def test_feodo_banner_with_commas_keeps_the_quoted_header() -> None:
    data = b"# Feodo Tracker, botnet C2 (synthetic, test)\n" + (FIX / "feodotracker_ipblocklist.txt").read_bytes()
    items = list(parse_feodo(data, ParseContext()))
    assert [(i.value, i.extra["port"]) for i in items] == [("10.213.75.205", 443), ("192.16.238.101", 443)]


def test_threatfox_ndjson() -> None:
    items = list(parse_threatfox((FIX / "threatfox_api_iocs_sample.ndjson").read_bytes(), ParseContext()))
    assert len(items) == 12 and len({i.key for i in items}) == 12
    assert Counter(i.type for i in items) == {"ipv4": 8, "url": 3, "ipv6": 1}
    v6 = items[0]
    assert (v6.key, v6.value, v6.extra["port"], v6.confidence) == (
        "threatfox:841508:ipv6:2a02:cf40:1::5", "2a02:cf40:1::5", 40669, 100)
    assert v6.labels == ["RedLine Stealer", "botnet_cc", "RedLineStealer"]


def test_threatfox_json_export_and_bad_line() -> None:
    data = b'{"1": [{"ioc_value": "bad.example", "ioc_type": "domain", "malware_printable": "X", "confidence_level": 50}]}'  # noqa: E501
    (item,) = parse_threatfox(data, ParseContext())
    assert (item.type, item.value, item.confidence) == ("domain", "bad.example", 50)
    with pytest.raises(FeedParseError, match="line 2"):
        list(parse_threatfox(b'{"ioc": "a.example", "ioc_type": "domain"}\n{oops\n', ParseContext()))


def test_threatfox_csv_export() -> None:
    """ThreatFox's CSV export (what a free account downloads): a '#' banner and header, `", "`-separated
    quoted fields, confidence as text, tags as one comma list; the keys are the JSON export's."""
    from feeds.formats import detect_format

    data = (FIX / "threatfox_export_full_head.csv").read_bytes()
    assert detect_format(data, "full.csv") == "threatfox"
    items = list(parse_threatfox(data, ParseContext()))
    assert [(i.type, i.value, i.extra.get("port")) for i in items] == [
        ("url", "http://rocheholding.top/rudolph/five/fre.php", None), ("ipv4", "8.134.12.90", 7777),
        ("ipv4", "172.245.184.135", 8888), ("ipv4", "91.208.73.75", 82), ("ipv4", "8.223.20.63", 443)]
    loki = items[0]
    assert loki.key == "threatfox:1301611:url:http://rocheholding.top/rudolph/five/fre.php"
    assert loki.confidence == 75 and loki.valid_from == "2024-07-16T06:45:19Z"
    assert loki.labels == ["Loki Password Stealer (PWS)", "botnet_cc", "lokibot"]
    assert loki.extra["reference"].startswith("https://bazaar.abuse.ch/") and loki.extra["id"] == "1301611"
    assert items[1].labels == ["Cobalt Strike", "botnet_cc", "CobaltStrike", "cs-watermark-987654321"]
    assert "reference" not in items[1].extra  # "None" in the export
    with pytest.raises(FeedParseError, match="no valid indicator"):
        list(parse_threatfox(data.replace(b"rocheholding.top", b"").replace(b'"ip:port"', b'"odd"'),
                             ParseContext()))
