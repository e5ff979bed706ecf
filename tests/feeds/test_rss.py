"""RSS/Atom adapter: real US-CERT bulletins, malformed feeds, and XML attacks."""

import time
from pathlib import Path

import pytest

from certmon.errors import FeedParseError
from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.rss import parse

FIX = Path(__file__).parents[1] / "fixtures"


def run(rel: str, **ctx: object) -> list:
    return list(parse((FIX / rel).read_bytes(), ParseContext(filename=Path(rel).name, **ctx)))  # type: ignore[arg-type]


def test_us_cert_bulletins_become_advisories() -> None:
    items = run("rss/us-cert_bulletins_2016-01-06_first3.rss.xml", default_tlp=TLP.GREEN)
    assert [i.key for i in items] == [
        "6370 at https://www.us-cert.gov", "6369 at https://www.us-cert.gov", "6363 at https://www.us-cert.gov",
    ]
    first = items[0]
    assert first.kind == "advisory" and first.tlp == "green" and first.source_format == "rss"
    assert first.title == "SB16-004: Vulnerability Summary for the Week of December 28, 2015"
    assert first.url == "https://www.us-cert.gov/ncas/bulletins/SB16-004"
    assert first.published == "2016-01-04T15:34:25Z"
    assert len(first.cves) == 104 and first.cves == sorted(set(first.cves))
    assert "CVE-2013-2015" in first.cves
    assert ("Adobe", "Flash Player") in {(p.vendor, p.product) for p in first.products}


def test_summary_is_sanitised_and_bounded() -> None:
    for item in run("rss/us-cert_bulletins_2016-02-02_first3.rss.xml"):
        assert item.summary is not None and len(item.summary) <= 4000
        # Over-long HTML tables become escaped plain text cut at a word: no markup survives.
        assert "<" not in item.summary and item.summary.endswith("…")


def test_malformed_duplicate_attribute_feed_is_salvaged() -> None:
    good = run("rss/us-cert_bulletins_2016-02-02_first3.rss.xml")
    bad = run("bad/us-cert_bulletins_duplicate-xmlns-attr_first3.rss.xml")
    assert [i.key for i in bad] == [i.key for i in good]
    assert bad[1].title == "SB16-025: Vulnerability Summary for the Week of January 18, 2016"
    assert ("Fortinet", "FortiOS") in {(p.vendor, p.product) for p in bad[1].products}


def test_corrupted_ampersands_keep_the_link() -> None:
    items = run("bad/feedparser_rss_item_link_corrupted_ampersands.xml")
    assert [i.url for i in items] == ["http://link/get?a=1&b=2"]
    assert items[0].key == "http://link/get?a=1&b=2"


def test_incomplete_cdata_gives_no_items_and_terminates() -> None:
    assert run("bad/feedparser_rss_incomplete_cdata.xml") == []


@pytest.mark.parametrize("name", ["bad/feedparser_aaa_illformed.xml", "bad/feedparser_undeclared_namespace.xml"])  # noqa: E501
def test_unreadable_feeds_raise_parse_error(name: str) -> None:
    with pytest.raises(FeedParseError, match=Path(name).name):
        run(name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad/defusedxml_xmlbomb.xml", "entity declaration refused"),
        ("bad/defusedxml_quadratic.xml", "entity declaration refused"),
        ("bad/defusedxml_external.xml", "entity declaration refused"),
    ],
)
def test_xml_attacks_are_refused_quickly(name: str, reason: str) -> None:
    start = time.process_time()
    with pytest.raises(FeedParseError, match=reason):
        run(name)
    assert time.process_time() - start < 5  # generous: an expansion would take far longer / run out of memory


def test_external_dtd_is_not_fetched_and_the_feed_still_parses() -> None:
    # RSS 0.91 feeds commonly name Netscape's DTD; it is never loaded (no entity may come from it).
    data = (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            b'"http://127.0.0.1:1/rss-0.91.dtd"><rss version="0.91"><channel><title>t</title>'
            b"<item><title>A</title><link>https://a.example/1</link></item></channel></rss>")
    (item,) = parse(data, ParseContext(filename="x.xml"))
    assert item.url == "https://a.example/1"


def test_entity_in_malformed_xml_is_refused() -> None:
    data = b'<!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel><item><title>&a;</title></item></rss>'
    with pytest.raises(FeedParseError, match="entity"):
        list(parse(data, ParseContext()))


def test_binary_garbage_is_a_parse_error() -> None:
    with pytest.raises(FeedParseError):
        list(parse(bytes(range(256)) * 64, ParseContext(filename="garbage.bin")))


def test_atom_entry_with_norwegian_exploitation_wording() -> None:
    summary = ('<summary type="html">&lt;p onclick="x()"&gt;Sårbarheten utnyttes aktivt. '
               '&lt;a href="https://x.example/"&gt;Les mer&lt;/a&gt;&lt;script&gt;alert(1)&lt;/script&gt;'
               '&lt;/p&gt;</summary>')
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>NCSC</title><id>urn:x</id><updated>2025-01-10T12:00:00+01:00</updated>
<entry><title>Kritisk sårbarhet i Ivanti Connect Secure (CVE-2025-0282)</title><id>urn:ncsc:2025-01</id>
<link href="https://nsm.no/varsel/1"/><updated>2025-01-10T12:00:00+01:00</updated>
{summary}
</entry></feed>""".encode()
    (item,) = parse(atom, ParseContext())
    assert item.key == "urn:ncsc:2025-01" and item.url == "https://nsm.no/varsel/1"
    assert item.published == "2025-01-10T11:00:00Z"
    assert item.cves == ["CVE-2025-0282"] and item.severity == "critical"
    assert item.extra == {"actively_exploited": True}
    assert [(p.vendor, p.product) for p in item.products] == [("Ivanti", "Connect Secure")]
    assert item.summary == (
        '<p>Sårbarheten utnyttes aktivt. <a href="https://x.example/" rel="noopener noreferrer">Les mer</a></p>'  # noqa: E501
    )


def test_entry_without_guid_or_link_gets_a_title_hash_key() -> None:
    data = b"<rss version='2.0'><channel><title>t</title><item><title>Hello</title></item></channel></rss>"
    (item,) = parse(data, ParseContext())
    assert item.key.startswith("sha1:") and len(item.key) == 45


def _rss(title: bytes, encoding: str) -> bytes:
    return (b'<?xml version="1.0" encoding="' + encoding.encode() + b'"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>" + title + b"</title><link>https://example.org/a</link></item></channel></rss>")


@pytest.mark.parametrize(("declared", "title", "expected"), [
    ("mac", b"Fra\x94ches", "Fraîches"),  # Mac Roman 0x94, an alias Python lacks
    ("ms-ee", b"\x8aibenik", "Šibenik"),  # Windows-1250
    ("bogus", "Tromsø".encode(), "Tromsø"),  # unknown name, valid UTF-8
    ("viscii", b"Troms\xf8", "Tromsø"),  # unknown name, not UTF-8: Windows-1252
])
def test_unknown_declared_encoding_falls_back(declared: str, title: bytes, expected: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    (item,) = parse(_rss(title, declared), ParseContext(filename="f.xml"))
    assert item.title == expected
    assert f"f.xml: declared encoding '{declared}' is unknown" in caplog.text


def test_utf16_declared_as_ucs2_is_read_and_still_guarded() -> None:
    doc = _rss("Bodø".encode(), "ucs-2").decode()
    (item,) = parse(doc.encode("utf-16-be"), ParseContext())  # no BOM: the `<?` byte pattern tells
    assert item.title == "Bodø"
    bomb = ('<?xml version="1.0" encoding="ucs-2"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            "<rss><channel><item><title>&b;</title></item></channel></rss>")
    for form in ("utf-16-le", "utf-16-be"):
        with pytest.raises(FeedParseError, match="entity declaration refused"):
            list(parse(bomb.encode(form), ParseContext()))
    utf32 = bomb.replace("ucs-2", "utf-32").encode("utf-32")  # a name Python knows, a form expat cannot read
    with pytest.raises(FeedParseError, match="entity declaration refused"):
        list(parse(utf32, ParseContext()))


def test_a_failure_inside_feedparser_is_one_error_naming_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.rss

    def broken(*args: object, **kwargs: object) -> None:
        raise LookupError("unknown encoding: x-made-up")

    monkeypatch.setattr(feeds.rss.feedparser, "parse", broken)
    with pytest.raises(FeedParseError, match=r"^feed\.xml: feedparser could not read it \(LookupError: unknown"):
        list(parse(_rss(b"x", "utf-8"), ParseContext(filename="feed.xml")))
