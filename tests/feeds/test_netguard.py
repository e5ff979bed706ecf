"""netguard's classification and URL checks (pure; DNS replaced where used)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

import feeds.netguard as netguard
from certmon.errors import FeedBlocked
from feeds.netguard import blocked_reason, check_url, parse_ip_literal, resolve_checked


@pytest.mark.parametrize("address,reason", [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.3.4", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("192.0.2.10", "private"),  # documentation range: never a real feed
])
def test_internal_addresses_are_classified(address, reason):
    assert reason in (blocked_reason(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "158.36.0.1", "2001:4860:4860::8888",
                                     "::ffff:8.8.8.8", "100.128.0.1"])
def test_public_addresses_pass(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host,expected", [
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("[::1]", "::1"),
    ("10.0.0.5", "10.0.0.5"),
    ("example.org", None),
    ("cert.example", None),
    ("1e100.net", None),
])
def test_ip_literals_in_every_notation_are_recognised(host, expected):
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://2130706433/", "http://0177.0.0.1/", "https://[::1]/",
    "http://[::ffff:7f00:1]/", "http://10.0.0.5:8080/feed",
])
def test_check_url_refuses_internal_literals(url):
    with pytest.raises(FeedBlocked, match="marked internal"):
        check_url(url, allow_internal=False)
    check_url(url, allow_internal=True)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/", "http://100.100.100.200/", "http://[fd00:ec2::254]/",
    "http://169.254.10.1/", "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/", "http://0.0.0.0/",
])
def test_metadata_and_link_local_stay_blocked_for_internal_sources(url):
    for internal in (False, True):
        with pytest.raises(FeedBlocked, match="no source may fetch it"):
            check_url(url, allow_internal=internal)


def test_internal_sources_reach_only_the_configured_networks(monkeypatch):
    from certmon.config import get_settings

    monkeypatch.setenv("CERTMON_INTERNAL_NETWORKS", "10.20.0.0/16")
    get_settings.cache_clear()
    try:
        check_url("http://10.20.3.4/feed", allow_internal=True)
        check_url("https://www.nsm.no/rss", allow_internal=True)  # the public internet stays open
        for url in ("http://10.0.0.5/", "http://127.0.0.1/", "http://192.168.1.1/"):
            with pytest.raises(FeedBlocked, match="CERTMON_INTERNAL_NETWORKS"):
                check_url(url, allow_internal=True)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.org/", "ftp://example.org/x",
                                 "//example.org/", "http:///nohost"])
def test_check_url_refuses_other_schemes_even_when_internal(url):
    with pytest.raises(FeedBlocked):
        check_url(url, allow_internal=True)


def test_check_url_accepts_public_names_without_dns():
    check_url("https://www.nsm.no/rss", allow_internal=False)


def _fake_dns(monkeypatch, answers: dict[str, list[str]]):
    def fake(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]]
    monkeypatch.setattr(netguard.socket, "getaddrinfo", fake)


def test_every_resolved_address_is_checked(monkeypatch):
    _fake_dns(monkeypatch, {"mixed.example": ["93.184.215.14", "10.0.0.7"],
                            "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    with pytest.raises(FeedBlocked, match=r"10\.0\.0\.7"):
        resolve_checked("mixed.example", 443, allow_internal=False)
    assert resolve_checked("mixed.example", 443, allow_internal=True) == ["93.184.215.14", "10.0.0.7"]
    assert len(resolve_checked("public.example", 443, allow_internal=False)) == 2


def test_unresolvable_name_is_a_connect_error(monkeypatch):
    import httpcore

    _fake_dns(monkeypatch, {})
    with pytest.raises(httpcore.ConnectError, match="cannot resolve"):
        resolve_checked("nowhere.invalid", 80, allow_internal=False)


def test_localhost_is_refused_by_resolution():
    with pytest.raises(FeedBlocked, match="loopback"):
        resolve_checked("localhost", 80, allow_internal=False)
