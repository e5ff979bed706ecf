"""Fast paths of the STIX adapter agree with the general ones they skip (property tests)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.stix_patterns import _canonical, _canonical_slow

KINDS = ("ip", "host", "domain", "url", "md5", "sha1", "sha256")
_NAME_CHARS = "abcXYZ019_-.*"
_URL_CHARS = "abZ09_-.:/?#@[]%&=+ \t\"<>'\\~!$()" + "æ"

labels = st.text(alphabet=_NAME_CHARS, min_size=0, max_size=12)
names = st.lists(labels, min_size=1, max_size=5).map(".".join)
octets = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "255", "256", ""]))
ipv4s = st.lists(octets, min_size=3, max_size=5).map(".".join)
hosts = st.one_of(names, ipv4s, st.sampled_from(["[::1]", "[2001:DB8::1]", "a" * 260 + ".example"]))
ports = st.one_of(st.just(""), st.integers(0, 999_999).map(lambda p: f":{p}"), st.just(":"))
tails = st.text(alphabet=_URL_CHARS, max_size=20)
urls = st.builds(
    lambda s, h, p, t: f"{s}://{h}{p}{t}",
    st.sampled_from(["http", "HTTPS", "hxxp", "ftp", "a+b.c"]),
    hosts,
    ports,
    tails,
)
hashes = st.text(alphabet="0123456789abcdefABCDEF g", min_size=30, max_size=66)
values = st.one_of(names, ipv4s, urls, hashes, st.text(max_size=30))


@settings(max_examples=3000, deadline=None)
@given(kind=st.sampled_from(KINDS), value=values)
@example(kind="url", value="http://bad1.example.net/path/1?q=0")
@example(kind="url", value="http://a.example/?")
@example(kind="url", value="http://a.example/x#")
@example(kind="url", value="http://a.example:/x")
@example(kind="url", value="http://user@a.example/x")
@example(kind="url", value="http://A.example/x")
@example(kind="url", value="http://1.2.3/x")
@example(kind="url", value="http://a.example./x")
@example(kind="url", value="http://" + "a" * 254 + "/")
@example(kind="domain", value="163.com")
@example(kind="domain", value="1.2.3.04")
@example(kind="host", value="198.51.100.7")
@example(kind="sha256", value="0" * 64)
def test_fast_canonical_equals_the_general_path(kind: str, value: str) -> None:
    assert _canonical(kind, value) == _canonical_slow(kind, value)
