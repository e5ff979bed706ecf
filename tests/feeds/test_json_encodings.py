"""JSON feeds in other encodings: a UTF-8 BOM, UTF-16/32 (BOM or none) read the same as UTF-8; bytes
that are not UTF-8 are read as Latin-1 with a warning (STIX: one clear error); never a traceback."""

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from certmon.errors import FeedParseError
from certmon.sources.models import Source
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds.abusech import parse_threatfox
from feeds.base import ParseContext
from feeds.collect import run_source
from feeds.csaf import parse as parse_csaf
from feeds.formats import detect_format
from feeds.kev import parse as parse_kev
from feeds.misp import parse as parse_misp
from feeds.stix import parse as parse_stix
from feeds.suricata import parse as parse_suricata
from tests.conftest import FIXTURES

REAL: list[tuple[str, Callable, str]] = [
    ("misp/57c4445b-c548-4654-af0b-4be3950d210f.json", parse_misp, "misp"),
    ("csaf/bsi-2022-0001.json", parse_csaf, "csaf"),
    ("kev/known_exploited_vulnerabilities_first200.json", parse_kev, "kev"),
    ("stix/poisonivy.json", parse_stix, "stix"),
    ("stix/infrastructure.json", parse_stix, "stix"),
]
ENCODINGS = {
    "utf-8 BOM": lambda t: b"\xef\xbb\xbf" + t.encode(),
    "utf-16 BOM": lambda t: t.encode("utf-16"),
    "utf-16-be BOM": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "utf-16-le": lambda t: t.encode("utf-16-le"),
    "utf-16-be": lambda t: t.encode("utf-16-be"),
    "utf-32 BOM": lambda t: t.encode("utf-32"),
    "utf-32-be": lambda t: t.encode("utf-32-be"),
}


def keys(func: Callable, data: bytes) -> list[str]:
    return [i.key for i in func(data, ParseContext(filename="f.json"))]


@pytest.mark.parametrize("name,func,fmt", REAL, ids=[r[0] for r in REAL])
def test_real_documents_read_the_same_in_every_json_encoding(name: str, func: Callable, fmt: str) -> None:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    expected = keys(func, text.encode())
    assert expected
    for label, encode in ENCODINGS.items():
        data = encode(text)
        assert keys(func, data) == expected, label
        assert detect_format(data, "f.json") == fmt, label


def test_not_utf8_json_is_read_as_latin1_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="feeds.common")
    misp = b'{"Event": {"uuid": "u1", "info": "Sp\xf8rsm\xe5l", ' \
           b'"Attribute": [{"type": "domain", "value": "a.example"}]}}'
    (item,) = parse_misp(misp, ParseContext(filename="misp.json"))
    assert item.extra["event_info"] == "Spørsmål"
    assert "misp.json: not valid UTF-8 (byte 36: invalid start byte); read as Latin-1" in caplog.text
    tf = b'{"query_status": "ok", "data": [{"ioc": "b\xe6d.example", "ioc_type": "domain", "threat_type": "x"}]}'
    assert [i.value for i in parse_threatfox(tf, ParseContext())] == ["xn--bd-1ia.example"]
    eve = b'{"event_type": "alert", "src_ip": "192.0.2.9", "dest_ip": "198.51.100.1", "alert": {"signature": "\xe6"}}\n'
    assert [i.kind for i in parse_suricata(eve, ParseContext())]  # the line is read, not dropped


def test_stix_not_utf8_and_broken_utf16_are_one_line_errors() -> None:
    bad = b'{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "id": "indicator--1", ' \
          b'"pattern": "[domain-name:value = \'a.example\']", "name": "\xff"}]}'
    message = r"^s\.json: not valid UTF-8 \(byte 151: invalid start byte\); STIX is UTF-8 JSON$"
    with pytest.raises(FeedParseError, match=message):
        list(parse_stix(bad, ParseContext(filename="s.json")))
    with pytest.raises(FeedParseError, match=r"^k\.json: looks like UTF-16-LE, but byte 4 is not"):
        list(parse_kev(b"\xff\xfe{\x00\x00\xd8", ParseContext(filename="k.json")))


# One process for all files (each start of certmon costs a second or more): the console script's
# entry point per file, its stderr captured; an exception escaping it is printed as a traceback.
_BATCH = """
import contextlib, io, json, sys, traceback
from certmon.cli.main import run
for path, fmt in json.loads(sys.argv[1]):
    sys.argv = ["certmon", "parse", "--format", fmt, path]
    err, code = io.StringIO(), 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):
        try:
            run()
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc()
            code = "exception"
    print(json.dumps([path, code, err.getvalue()]))
"""


def test_certmon_parse_answers_bad_bytes_in_one_line(tmp_path: Path) -> None:
    files = {"stix_bad.json": ("stix", b'{"type": "bundle", "id": "bundle--1", "objects": [{"type": "x\xff", "id": "x--1"}]}'),  # noqa: E501
             "kev16.json": ("auto", b"\xff\xfe{\x00\x00\xd8"), "misp.json": ("misp", b'{"Event": {"info": "\xe6"}}'),
             "zeros.json": ("auto", b"\x00\x00\x00\x00"), "utf16.json": ("auto", "[1, 2]".encode("utf-16"))}
    for name, (_, data) in files.items():
        (tmp_path / name).write_bytes(data)
    pairs = [[str(tmp_path / name), fmt] for name, (fmt, _) in files.items()]
    run = subprocess.run([sys.executable, "-c", _BATCH, json.dumps(pairs)], capture_output=True, text=True,
                         timeout=120)
    assert "Traceback" not in run.stderr, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(files), run.stderr
    for path, code, stderr in results:
        assert "Traceback" not in stderr and code in (0, 2, None), (path, code, stderr)
        assert len([line for line in stderr.splitlines() if line.startswith("certmon:")]) <= 1, stderr
    by_name = {Path(path).name: (code, stderr) for path, code, stderr in results}
    assert by_name["stix_bad.json"][0] == 2 and "not valid UTF-8" in by_name["stix_bad.json"][1]
    assert "looks like UTF-16-LE, but" in by_name["kev16.json"][1]


def test_collection_marks_the_source_with_the_reason(sqlite_env, file_server) -> None:
    base, root = file_server
    (root / "broken16.json").write_bytes(b"\xff\xfe{\x00\x00\xd8")
    with sqlite_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(internal=True, name="broken", format="kev",
                                                        url=f"{base}/broken16.json")).id
    report = run_source(sqlite_env.factory, source_id)
    assert report.outcome != "ok" and "looks like UTF-16-LE, but" in str(report.error)
    with sqlite_env.factory() as session:
        src = session.get(Source, source_id)
        assert "looks like UTF-16-LE, but byte 4 is not" in str(src.last_error)
        assert "intern feil" not in str(src.last_error)
