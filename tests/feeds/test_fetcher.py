"""The shared fetcher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import socket
import struct
import threading
import zlib
from pathlib import Path

import pytest

import feeds.fetcher as fetcher_mod
import feeds.netguard as netguard
from certmon import __version__
from certmon.errors import FeedBlocked, FeedTooLarge, FeedUnavailable
from feeds.fetcher import HttpStatusError, fetch, set_politeness_interval

FIXTURE = Path(__file__).parent.parent / "fixtures" / "csaf" / "provider-metadata-example-01.json"
FAST = {"allow_internal": True, "backoff": 0.01}


def send_response(h, status, body=b"", headers=None):
    h.server.fixture.respond(h, status, body, headers)


@pytest.fixture(autouse=True)
def no_politeness_delay():
    set_politeness_interval(0)
    yield
    set_politeness_interval(0)


def _conditional(body: bytes, etag: str, last_modified: str):
    def handler(h):
        if h.headers.get("If-None-Match") == etag or h.headers.get("If-Modified-Since") == last_modified:
            send_response(h, 304, b"", {"ETag": etag})
        else:
            send_response(h, 200, body, {"ETag": etag, "Last-Modified": last_modified,
                                         "Content-Type": "application/json"})
    return handler


def test_etag_and_last_modified_give_not_modified(http_fixture_server):
    body = FIXTURE.read_bytes()
    etag, lm = '"v1-abc"', "Wed, 12 Jul 2021 20:20:56 GMT"
    url = http_fixture_server.route("/pm.json", _conditional(body, etag, lm))
    first = fetch(url, **FAST)
    assert first.status == "ok" and first.content == body
    assert first.etag == etag and first.last_modified == lm
    assert first.sha256 == hashlib.sha256(body).hexdigest()
    assert first.content_type == "application/json" and first.final_url == url
    again = fetch(url, etag=first.etag, **FAST)
    assert again.status == "not-modified" and again.content == b""
    by_date = fetch(url, last_modified=lm, **FAST)
    assert by_date.status == "not-modified"
    sent = [hdrs for path, hdrs in http_fixture_server.requests]
    assert sent[1]["if-none-match"] == etag and sent[2]["if-modified-since"] == lm
    assert sent[0]["user-agent"].startswith(f"certmon/{__version__} (+https://")


@pytest.mark.parametrize("encoding,encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
])
def test_compressed_bodies_are_decoded(http_fixture_server, encoding, encode):
    body = FIXTURE.read_bytes() * 50
    url = http_fixture_server.serve_bytes("/z", encode(body), {"Content-Encoding": encoding})
    result = fetch(url, **FAST)
    assert result.content == body
    assert result.sha256 == hashlib.sha256(body).hexdigest()


def test_slow_body_times_out_is_retried_then_unavailable(http_fixture_server):
    def slow(h):
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        h.wfile.write(b"x" * 10)
        h.wfile.flush()
        http_fixture_server.stop.wait(5)
        h.close_connection = True

    url = http_fixture_server.route("/slow", slow)
    with pytest.raises(FeedUnavailable) as err:
        fetch(url, read_timeout=0.2, retries=2, **FAST)
    assert err.value.transient is True
    assert "3 attempts" in err.value.message and "ReadTimeout" in err.value.message
    assert http_fixture_server.hits["/slow"] == 3


def test_connection_reset_mid_body_is_transient(http_fixture_server):
    def reset(h):
        h.send_response(200)
        h.send_header("Content-Length", "10000")
        h.end_headers()
        h.wfile.write(b"y" * 1000)
        h.wfile.flush()
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    url = http_fixture_server.route("/reset", reset)
    with pytest.raises(FeedUnavailable) as err:
        fetch(url, retries=1, **FAST)
    assert err.value.transient is True
    assert http_fixture_server.hits["/reset"] == 2


def test_server_error_500_is_not_retried(http_fixture_server):
    url = http_fixture_server.route("/500", lambda h: send_response(h, 500, b"boom"))
    with pytest.raises(HttpStatusError) as err:
        fetch(url, retries=3, **FAST)
    assert err.value.http_status == 500 and err.value.transient is False
    assert "HTTP 500" in err.value.message
    assert http_fixture_server.hits["/500"] == 1


def test_404_is_not_retried(http_fixture_server):
    with pytest.raises(HttpStatusError) as err:
        fetch(http_fixture_server.base_url + "/missing", **FAST)
    assert err.value.http_status == 404
    assert http_fixture_server.hits["/missing"] == 1


def test_503_then_200_is_retried_and_succeeds(http_fixture_server):
    def flaky(h):
        if http_fixture_server.hits["/flaky"] == 1:
            send_response(h, 503, b"busy", {"Retry-After": "0"})
        else:
            send_response(h, 200, b"fine")

    url = http_fixture_server.route("/flaky", flaky)
    assert fetch(url, **FAST).content == b"fine"
    assert http_fixture_server.hits["/flaky"] == 2


def test_retry_after_is_honoured_up_to_the_cap(http_fixture_server, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(fetcher_mod, "_sleep", waits.append)
    url = http_fixture_server.route("/429", lambda h: send_response(h, 429, b"", {"Retry-After": "3600"}))
    with pytest.raises(HttpStatusError) as err:
        fetch(url, retries=2, max_retry_after=7, **FAST)
    assert err.value.http_status == 429 and err.value.transient is True
    assert waits == [7, 7]
    assert http_fixture_server.hits["/429"] == 3


def test_politeness_interval_spaces_requests_to_one_host(http_fixture_server, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(fetcher_mod, "_sleep", waits.append)
    url = http_fixture_server.serve_bytes("/p", b"ok")
    set_politeness_interval(5)
    fetch(url, **FAST)
    fetch(url, **FAST)
    assert len(waits) == 1 and 4 < waits[0] <= 5


def test_declared_oversize_body_is_refused(http_fixture_server):
    url = http_fixture_server.serve_bytes("/big", b"z" * 5000)
    with pytest.raises(FeedTooLarge, match="limit of 1000 bytes"):
        fetch(url, max_bytes=1000, **FAST)


def test_streamed_oversize_body_stops_reading_early(http_fixture_server):
    total = 64 * 1024 * 1024
    written: list[int] = []
    done = threading.Event()

    def endless(h):
        h.send_response(200)
        h.send_header("Connection", "close")  # no Content-Length: body runs until close
        h.end_headers()
        sent = 0
        chunk = b"a" * 65536
        try:
            while sent < total:
                h.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            written.append(sent)
            h.close_connection = True
            done.set()

    url = http_fixture_server.route("/endless", endless)
    with pytest.raises(FeedTooLarge, match="limit of 1000000 bytes"):
        fetch(url, max_bytes=1_000_000, **FAST)
    assert done.wait(10)
    assert written[0] < total // 4  # the client hung up long before the server was done


def test_gzip_bomb_is_stopped_by_the_decoded_limit(http_fixture_server):
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    bomb = b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush()
    assert len(bomb) < 300_000  # 200 MB of zeros
    url = http_fixture_server.serve_bytes("/bomb", bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(FeedTooLarge, match="decoded"):
        fetch(url, max_bytes=2_000_000, **FAST)


def _redirect_to(target: str, status: int = 302):
    return lambda h: send_response(h, status, b"", {"Location": target})


def test_redirects_are_followed_within_the_limit(http_fixture_server):
    srv = http_fixture_server
    srv.route("/a", _redirect_to("/b", 301))
    srv.route("/b", _redirect_to(srv.base_url + "/c", 307))
    final = srv.serve_bytes("/c", b"end")
    result = fetch(srv.base_url + "/a", max_redirects=2, **FAST)
    assert result.content == b"end" and result.final_url == final


def test_redirect_chain_longer_than_the_limit_fails(http_fixture_server):
    srv = http_fixture_server
    for i in range(10):
        srv.route(f"/r{i}", _redirect_to(f"/r{i + 1}"))
    with pytest.raises(FeedUnavailable, match="more than 3 redirects"):
        fetch(srv.base_url + "/r0", max_redirects=3, **FAST)
    assert sum(srv.hits.values()) == 4


def test_credentials_are_not_sent_to_another_origin(http_fixture_server):
    srv = http_fixture_server
    other = srv.base_url.replace("127.0.0.1", "localhost")
    srv.route("/login", _redirect_to(other + "/elsewhere"))
    srv.serve_bytes("/elsewhere", b"ok")
    assert fetch(srv.base_url + "/login", auth=("user", "secret"), **FAST).content == b"ok"
    (_, first), (_, second) = srv.requests
    assert first["authorization"].startswith("Basic ")
    assert "authorization" not in second


@pytest.fixture
def loopback_127_0_0_1_counts_as_public(monkeypatch):
    """Pretend the test server's own address is public, so a 'public' URL can redirect inward."""
    real = netguard.blocked_reason

    def reason(ip):
        return None if str(ip) == "127.0.0.1" else real(ip)

    monkeypatch.setattr(netguard, "blocked_reason", reason)


@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/secret",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/secret",
    "file:///etc/passwd",
])
def test_redirect_to_an_internal_address_is_refused(http_fixture_server, loopback_127_0_0_1_counts_as_public,
                                                    target):
    srv = http_fixture_server
    port = srv.base_url.rsplit(":", 1)[1]
    srv.route("/go", _redirect_to(target.format(port=port)))
    with pytest.raises(FeedBlocked):
        fetch(srv.base_url + "/go", backoff=0.01)
    assert srv.hits["/go"] == 1 and srv.hits["/secret"] == 0


def test_redirect_to_a_name_resolving_inward_is_refused_at_connect(
        http_fixture_server, loopback_127_0_0_1_counts_as_public, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if host == "intranet.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 80))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(netguard.socket, "getaddrinfo", fake_getaddrinfo)
    srv = http_fixture_server
    srv.route("/go", _redirect_to("http://intranet.example/admin"))
    with pytest.raises(FeedBlocked, match=r"intranet\.example resolves to 10\.0\.0\.5"):
        fetch(srv.base_url + "/go", backoff=0.01)


def test_connection_goes_to_the_checked_address_and_keeps_the_host_name(http_fixture_server, monkeypatch):
    """The name is resolved once by the guard; httpcore connects to that IP, Host keeps the name."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def fake_getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        if host == "feeds.rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    srv = http_fixture_server
    srv.serve_bytes("/pinned", b"pinned")
    url = srv.base_url.replace("127.0.0.1", "feeds.rebind.example") + "/pinned"
    assert fetch(url, **FAST).content == b"pinned"
    names = [h for h in lookups if netguard.parse_ip_literal(h) is None]
    assert names == ["feeds.rebind.example"]  # resolved once; the socket then opens the IP itself
    assert srv.requests[0][1]["host"].startswith("feeds.rebind.example:")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/pm.json",
    "http://localhost:{port}/pm.json",
    "http://[::1]:{port}/pm.json",
    "http://10.0.0.5/feed",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433:{port}/pm.json",
    "http://0177.0.0.1:{port}/pm.json",
    "http://0x7f.1:{port}/pm.json",
    "http://[::ffff:127.0.0.1]:{port}/pm.json",
    "ftp://example.org/feed",
])
def test_internal_targets_are_refused_unless_allowed(http_fixture_server, url):
    srv = http_fixture_server
    srv.serve_bytes("/pm.json", b"{}")
    port = srv.base_url.rsplit(":", 1)[1]
    with pytest.raises(FeedBlocked) as err:
        fetch(url.format(port=port))
    assert "internal" in err.value.message or "scheme" in err.value.message or "no source may" in err.value.message
    assert err.value.outcome == "blocked"
    assert srv.hits["/pm.json"] == 0


def test_same_loopback_url_is_fetched_when_source_is_internal(http_fixture_server):
    url = http_fixture_server.serve_bytes("/pm.json", b"{}")
    assert fetch(url.replace("127.0.0.1", "localhost"), allow_internal=True).content == b"{}"


def _trickle(server, every: float):
    """A handler that sends one byte of a 1000-byte body every `every` seconds."""
    def handler(h):
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        try:
            for _ in range(1000):
                h.wfile.write(b"t")
                h.wfile.flush()
                if server.stop.wait(every):
                    break
        except OSError:  # the client hung up, as it should
            pass
        h.close_connection = True
    return handler


def test_trickling_server_is_stopped_by_the_total_deadline(http_fixture_server):
    url = http_fixture_server.route("/trickle", _trickle(http_fixture_server, 0.02))
    with pytest.raises(FeedUnavailable) as err:
        fetch(url, read_timeout=5, max_duration=0.3, retries=3, **FAST)
    assert err.value.transient is True
    assert "limit of 0.3 s" in err.value.message and "max_duration" in err.value.message
    assert http_fixture_server.hits["/trickle"] == 1  # the budget is spent: no retry


def test_trickle_within_the_deadline_is_read(http_fixture_server):
    url = http_fixture_server.route("/trickle", _trickle(http_fixture_server, 0))
    assert fetch(url, read_timeout=5, max_duration=60, **FAST).content == b"t" * 1000


def test_retry_sleeps_count_against_the_deadline(http_fixture_server, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(fetcher_mod, "_sleep", waits.append)
    url = http_fixture_server.route("/busy", lambda h: send_response(h, 503, b"", {"Retry-After": "3600"}))
    with pytest.raises(FeedUnavailable) as err:
        fetch(url, retries=3, max_retry_after=3600, max_duration=30, **FAST)
    assert err.value.transient is True and "limit of 30 s" in err.value.message
    assert "HTTP 503" in err.value.message
    assert waits == [] and http_fixture_server.hits["/busy"] == 1


def test_politeness_wait_beyond_the_deadline_fails_without_waiting(http_fixture_server, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(fetcher_mod, "_sleep", waits.append)
    url = http_fixture_server.serve_bytes("/p", b"ok")
    set_politeness_interval(3600)
    fetch(url, **FAST)
    with pytest.raises(FeedUnavailable, match="max_duration"):
        fetch(url, max_duration=10, **FAST)
    assert waits == [] and http_fixture_server.hits["/p"] == 1


def test_setting_the_same_politeness_interval_keeps_the_host_slots(http_fixture_server, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(fetcher_mod, "_sleep", waits.append)
    url = http_fixture_server.serve_bytes("/p", b"ok")
    set_politeness_interval(5)
    fetch(url, **FAST)
    set_politeness_interval(5)  # what every collection run does before it fetches
    fetch(url, **FAST)
    assert len(waits) == 1 and 4 < waits[0] <= 5
    set_politeness_interval(2)  # a new value starts afresh
    fetch(url, **FAST)
    assert len(waits) == 1
