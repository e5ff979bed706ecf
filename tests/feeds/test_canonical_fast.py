"""The fast paths of canonical_url and iso_utc give exactly what the general paths give."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.common import _canonical_url, _parse_text_time, canonical_url, iso_utc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "abusech"

hosts = st.one_of(
    st.from_regex(r"[a-z0-9](?:[a-z0-9.\-_]{0,20}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}", fullmatch=True),
    st.from_regex(r"0[0-9]{1,2}\.[0-9]\.[0-9]\.[0-9]", fullmatch=True),
    st.sampled_from(["Example.COM", "xn--bcher-kva.example", "[2001:db8::1]", "bücher.example", "a..b", "-a.b"]),
)
urls = st.builds(
    lambda scheme, userinfo, host, port, rest: f"{scheme}://{userinfo}{host}{port}{rest}",
    st.sampled_from(["http", "https", "HTTP", "ftp", "hxxp", "ftps", "file", "x"]),
    st.sampled_from(["", "", "", "user:pw@", "@"]),
    hosts,
    st.sampled_from(["", "", ":80", ":8080", ":", ":99999", ":abc", ":123456"]),
    st.text(alphabet="/?#&=abcXYZ0.%@:\\ ", max_size=25),
)


@settings(max_examples=3000)
@given(urls)
def test_the_url_fast_path_agrees_with_the_general_path(url: str) -> None:
    stripped = url.strip()
    expected = None if not stripped or any(c in stripped for c in "\r\n\t ") else _canonical_url(stripped)
    assert canonical_url(url) == expected


def test_real_urlhaus_urls_agree() -> None:
    for name in ("urlhaus_csv_recent_2026-02-26.csv", "urlhaus_tld_ch.csv"):
        lines = [line for line in (FIXTURES / name).read_text().splitlines() if not line.startswith("#")]
        for row in csv.reader(lines):
            for cell in row:
                if "://" in cell:
                    assert canonical_url(cell) == _canonical_url(cell.strip()), cell


@given(st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}", fullmatch=True))
@example("0001-01-01 00:00:00")
def test_the_naive_time_fast_path_agrees_with_the_general_path(text: str) -> None:
    found = _parse_text_time(text)
    expected = None if found is None else found.isoformat(timespec="seconds")[:19] + "Z"
    assert iso_utc(text) == expected


def test_early_and_late_years_stay_iso_or_are_dropped() -> None:
    """Years below 1000 keep four digits on the general path (strftime does not pad them), and an offset
    that moves a time out of years 1-9999 gives no time instead of a ValueError."""
    assert iso_utc("0001-01-01T00:00:00+00:00") == "0001-01-01T00:00:00Z"
    assert iso_utc("0999-03-01T10:00:00+01:00") == "0999-03-01T09:00:00Z"
    assert iso_utc("0001-01-01T00:30:00+01:00") is None
    assert iso_utc("9999-12-31T23:30:00-01:00") is None
    # feedparser's struct_time: padded too, and an impossible date gives no time instead of a ValueError
    assert iso_utc(time.struct_time((999, 1, 1, 0, 0, 0, 0, 1, 0))) == "0999-01-01T00:00:00Z"
    assert iso_utc(time.struct_time((2026, 12, 7, 10, 5, 3, 0, 341, 0))) == "2026-12-07T10:05:03Z"
    assert iso_utc(time.struct_time((2026, 13, 40, 0, 0, 0, 0, 1, 0))) is None
