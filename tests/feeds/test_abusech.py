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
