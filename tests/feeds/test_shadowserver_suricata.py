"""Shadowserver reports (column table) and Suricata EVE alerts → exposures."""

from pathlib import Path

import pytest

from certmon.errors import FeedParseError
from feeds.base import ParseContext
from feeds.shadowserver import parse as parse_shadowserver
from feeds.suricata import parse as parse_suricata

FIX = Path(__file__).parents[1] / "fixtures"
REPORTS = {
    "scan_rdp.csv": 2, "scan_http_vulnerable.csv": 2, "blocklist.csv": 2, "event4_sinkhole_http.csv": 5,
    "event4_honeypot_brute_force.csv": 6, "compromised_website.csv": 2,
}


@pytest.mark.parametrize(("name", "count"), REPORTS.items())
def test_report_type_from_filename_and_from_header(name: str, count: int) -> None:
    data = (FIX / "shadowserver" / name).read_bytes()
    by_name = list(parse_shadowserver(data, ParseContext(filename=name)))
    by_header = list(parse_shadowserver(data, ParseContext(filename="report.csv")))
    assert len(by_name) == count and [i.key for i in by_name] == [i.key for i in by_header]
    assert all(i.kind == "exposure" and i.report_type == name[:-4] for i in by_name)


def test_scan_http_vulnerable_row() -> None:
    first = next(parse_shadowserver((FIX / "shadowserver/scan_http_vulnerable.csv").read_bytes(), ParseContext()))  # noqa: E501
    assert first.key == "shadowserver:scan_http_vulnerable:210.181.42.1:8000:2021-08-01T07:00:24Z"
    assert (first.ip, first.port, first.protocol, first.asn) == ("210.181.42.1", 8000, "tcp", 1234)
    assert first.labels == ["basic-auth", "http"]
    assert first.extra["www_authenticate"] == 'Basic realm="Managed Switch"'


def test_event4_uses_the_source_side() -> None:
    rows = list(parse_shadowserver((FIX / "shadowserver/event4_honeypot_brute_force.csv").read_bytes(),
                                   ParseContext()))
    assert (rows[0].ip, rows[0].port, rows[0].asn) == ("141.98.1.2", 30123, 209588)
    assert rows[0].extra["dst_ip"] == "162.250.1.2" and rows[0].labels == ["ssh-brute-force", "ssh"]
    assert rows[0].extra["client_version"] == "b'SSH-2.0-Go'"


def test_blocklist_without_port_and_explicit_report_type() -> None:
    rows = list(parse_shadowserver((FIX / "shadowserver/blocklist.csv").read_bytes(),
                                   ParseContext(report_type="blocklist")))
    assert rows[0].port is None and rows[0].hostname == "host.local"
    assert rows[0].key == "shadowserver:blocklist:198.123.245.134::2019-09-04T07:00:19Z"


def test_shadowserver_bad_input() -> None:
    with pytest.raises(FeedParseError, match="report type"):
        list(parse_shadowserver(b"a,b,c\n1,2,3\n", ParseContext(filename="x.csv")))
    with pytest.raises(FeedParseError, match="empty"):
        list(parse_shadowserver(b"", ParseContext()))
    rows = b'"timestamp","ip","port"\n"2024-01-01 00:00:00","not-an-ip",1\n"2024-01-01 00:00:00","192.0.2.1",99999\n'  # noqa: E501
    (only,) = parse_shadowserver(rows, ParseContext(report_type="scan_custom"))
    assert (only.ip, only.port, only.report_type) == ("192.0.2.1", None, "scan_custom")


@pytest.mark.parametrize("name", ["2021-03-04-event4_sinkhole_http_referer-nettest-asn.csv",
                                  "event4_sinkhole_http_referer.csv"])
def test_sinkhole_http_referer_is_its_own_report(name: str) -> None:
    # the "sinkhole_http" hint once claimed this report, whose host columns are http_referer_*
    data = (FIX / "shadowserver/event4_sinkhole_http_referer.csv").read_bytes()
    first, second = parse_shadowserver(data, ParseContext(filename=name))
    assert first.report_type == "event4_sinkhole_http_referer"
    assert (first.ip, first.port, first.asn, first.hostname) == ("178.162.203.211", 80, 28753, "12106.mobapptrack.com")
    assert first.extra["dst_ip"] == "85.17.31.82" and second.labels == ["sunburst"]


def test_report_named_by_shadowserver_file_name_keeps_its_name() -> None:
    # Shadowserver's own names: YYYY-MM-DD-<report>-<org>-<kind>.csv. "rdp" must not claim scan_rdpeudp
    # (read as scan_rdp it came out as tcp), and scan_http is not scan_http_vulnerable because its
    # columns are the same.
    udp = list(parse_shadowserver((FIX / "shadowserver/scan_rdpeudp.csv").read_bytes(),
                                  ParseContext(filename="2022-01-10-scan_rdpeudp-kommunecert-asn.csv")))
    assert [(i.report_type, i.ip, i.port, i.protocol, i.labels) for i in udp] == [
        ("scan_rdpeudp", "192.168.0.1", 3389, "udp", ["rdpeudp"]),
        ("scan_rdpeudp", "192.168.0.2", 3389, "udp", ["rdpeudp"])]
    assert udp[0].key == "shadowserver:scan_rdpeudp:192.168.0.1:3389:2010-02-10T00:00:00Z"
    http = (FIX / "shadowserver/scan_http.csv").read_bytes()
    for name in ("scan_http.csv", "2018-04-19-scan_http-kommunecert-geo.csv", "shadowserver-scan_http.csv"):
        assert {i.report_type for i in parse_shadowserver(http, ParseContext(filename=name))} == {"scan_http"}
    (first, _) = parse_shadowserver(http, ParseContext(filename="scan_http.csv"))
    assert (first.ip, first.port, first.protocol, first.asn) == ("75.74.78.113", 8080, "tcp", 7922)


def test_report_type_known_only_by_a_generic_layout_fails_clearly() -> None:
    # columns that fit only the generic layout name no report: no more silent "scan_generic"
    data = (FIX / "shadowserver/scan_rdpeudp.csv").read_bytes()
    with pytest.raises(FeedParseError, match=r"report\.csv \(line 1\): cannot tell the Shadowserver report type"):
        list(parse_shadowserver(data, ParseContext(filename="report.csv")))
    (first, _) = parse_shadowserver(data, ParseContext(filename="report.csv", report_type="scan_rdpeudp"))
    assert (first.report_type, first.protocol) == ("scan_rdpeudp", "udp")
    with pytest.raises(FeedParseError, match="no column mapping fits report type sandbox_dns"):
        list(parse_shadowserver(b'"timestamp","md5hash","request","type","response"\n', ParseContext(
            filename="2022-01-10-sandbox_dns-kommunecert-asn.csv")))


def test_semicolon_tags_are_split() -> None:
    # Vulnerable-Exchange and Vulnerable-SMTP tag lists use ";" ("exchange;cve-2021-26855")
    first, second = parse_shadowserver((FIX / "shadowserver/scan_exchange.csv").read_bytes(),
                                       ParseContext(filename="2021-05-14-scan_exchange-kommunecert-asn.csv"))
    assert first.labels == ["exchange", "cve-2021-26855"] and second.labels == ["exchange", "webshell"]
    assert (first.report_type, first.ip, first.port, first.asn) == ("scan_exchange", "12.237.1.2", 443, 7018)


def test_severity_column_becomes_the_severity() -> None:
    # reports carry a `severity` column since 2023 (critical, high, medium, low, info): it drives the
    # alert policy's "at once from high", so it must not end up in extra only
    data = (FIX / "shadowserver/n6_device_info_202510.csv").read_bytes()
    first, second = parse_shadowserver(data, ParseContext(filename="2025-10-08-device_id-kommunecert-asn.csv"))
    assert (first.report_type, first.ip, first.port, first.severity) == ("device_id", "1.1.1.1", 80, "low")
    assert "severity" not in first.extra and second.labels == ["http", "iot"]
    header, row = data.splitlines()[:2]
    for word, severity in (("critical", "critical"), ("High", "high"), ("medium", "medium"), ("", None)):
        (item,) = parse_shadowserver(header + b"\n" + row.replace(b'"info"', f'"{word}"'.encode()) + b"\n",
                                     ParseContext(report_type="device_id"))
        assert item.severity == severity, word


def test_suricata_eve_alerts() -> None:
    items = list(parse_suricata((FIX / "suricata/eve_sample.json").read_bytes(), ParseContext()))
    assert [(i.kind, i.key) for i in items] == [
        ("exposure", "suricata:2023753:10.20.30.40:3389:2025-03-14T08:26:53Z"),
        ("indicator", "suricata:2023753:ipv4:185.220.101.34"),
        ("exposure", "suricata:2046266:2001:db8:0:10::40:443:2025-03-14T08:31:17Z"),
        ("indicator", "suricata:2046266:ipv6:2001:db8:dead::7"),
        ("exposure", "suricata:2024897:10.20.30.40:50000:2025-03-14T08:40:05Z"),  # outbound: internal = source  # noqa: E501
        ("indicator", "suricata:2024897:ipv4:91.215.85.17"),
    ]
    rdp = items[0]
    assert rdp.report_type == "suricata-alert" and rdp.protocol == "tcp" and rdp.severity == "medium"
    assert rdp.labels == ["ET SCAN MS Terminal Server Traffic on Non-standard Port", "Attempted Information Leak"]  # noqa: E501
    assert rdp.extra["src_ip"] == "185.220.101.34"


def test_suricata_alert_between_internal_hosts_yields_no_indicator() -> None:
    # a real east-west alert (client 192.168.86.85 to 192.168.156.70:443): the client is no attacker,
    # and an RFC 1918 address as a TLP:CLEAR indicator would reach firewalls' blocklists
    items = list(parse_suricata((FIX / "suricata/elastic_eve_small_alert_internal.json").read_bytes(),
                                ParseContext()))
    assert [(i.kind, i.key) for i in items] == [
        ("exposure", "suricata:2024833:192.168.156.70:443:2018-07-05T19:07:20Z")]
    assert items[0].extra["src_ip"] == "192.168.86.85" and items[0].severity == "high"
    line = b'{"timestamp":"2024-01-01T00:00:00Z","event_type":"alert","src_ip":"100.64.3.4","src_port":1,'
    for src in (b"100.64.3.4", b"fe80::1", b"127.0.0.1", b"fd00::5"):
        record = line.replace(b"100.64.3.4", src) + b'"dest_ip":"10.0.0.1","dest_port":2,"alert":{"signature_id":1}}'
        assert [i.kind for i in parse_suricata(record, ParseContext())] == ["exposure"], src


def test_suricata_garbage() -> None:
    with pytest.raises(FeedParseError, match="no EVE JSON"):
        list(parse_suricata(b"\x00\x01garbage\n[1,2]\n", ParseContext()))
