"""Indicator exports: TLP-bounded in SQL and labelled per record and per file, revoked and expired
indicators stay home, CSV cells are defused, STIX round-trips through our own adapter, audited."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
import stix2
from fastapi.testclient import TestClient
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.audit.models import AuditEntry
from certmon.auth.service import create_user, issue_token
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.notify.models import Notification, NotificationMatch
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.stix import parse as parse_stix
from tests.notify.notify_helpers import make_constituent

INDICATORS = [  # (type, value, tlp, extra)
    ("ipv4", "192.0.2.10", "clear", {}),
    ("domain", "c2.example", "green", {"labels": ["=cmd|' /C calc'!A0", "botnet"]}),
    ("url", "https://bad.example/it's/x", "amber", {"confidence": 80}),
    ("sha256", "a" * 64, "clear", {}),
    ("asn", "64500", "green", {}),
    ("cidr", "198.51.100.0/24", "clear", {}),
    ("ipv6", "2001:db8::1", "red", {}),
    ("ipv4", "203.0.113.5", "clear", {"revoked": True}),
    ("ipv4", "203.0.113.6", "clear", {"valid_until": "2020-01-01T00:00:00Z"}),
]


@pytest.fixture(params=["sqlite", "pg"])
def exports(request):
    env = request.getfixturevalue(f"{request.param}_env")
    with env.factory.begin() as s:
        source = create_source(s, SourceCreate(name="test-feed", format="stix", url="https://x.example/"))
        items = [Item(kind="indicator", key=f"k{i}", tlp=tlp, source_format="stix", type=kind, value=value, **extra)
                 for i, (kind, value, tlp, extra) in enumerate(INDICATORS)]
        ids = upsert_items(s, source_id=source.id, items=items).new_ids
        own = make_constituent(s, "Testvik kommune", org_number="999777121")
        match = Match(item_id=ids[0], constituent_id=own.id, rule="ip-network", asset="192.0.2.0/24",
                      confidence=90, explanation="Adressen ligger i nettet.", severity="high", status="notified")
        unreleased = Match(item_id=ids[3], constituent_id=own.id, rule="name", asset="x", confidence=50,
                           explanation="x", severity="low", status="new")
        s.add_all([match, unreleased])
        s.flush()
        n = Notification(reference="HKC-2026-000101", constituent_id=own.id, mode="immediate", tlp="clear",
                         status="sent", subject="x", severity="high", dedupe_key="export-test")
        s.add(n)
        s.flush()
        s.add(NotificationMatch(notification_id=n.id, match_id=match.id))
        tokens = {}
        for name, kw in {"reader": dict(role="reader"), "analyst": dict(role="analyst"),
                         "own": dict(role="constituent", constituent_id=own.id)}.items():
            tokens[name] = issue_token(s, user=create_user(s, email=f"{name}@test.invalid", password="passord123",
                                                           **kw))
    client = TestClient(create_app())
    client.h = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # type: ignore[attr-defined]
    client.env = env  # type: ignore[attr-defined]
    return client


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def test_csv_is_bounded_by_clearance_and_labelled(exports):
    r = exports.get("/api/v1/export/indicators", headers=exports.h("reader"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-tlp"] == "TLP:AMBER" and "attachment" in r.headers["content-disposition"]
    rows = _csv_rows(r.content)
    assert {row["value"] for row in rows} == {"192.0.2.10", "c2.example", "https://bad.example/it's/x", "a" * 64,
                                              "64500", "198.51.100.0/24"}  # no RED, revoked or expired
    assert all(row["tlp"].startswith("TLP:") for row in rows)
    labels = next(row["labels"] for row in rows if row["value"] == "c2.example")
    assert labels.startswith("'=")  # a spreadsheet will not run it
    green = exports.get("/api/v1/export/indicators", params={"tlp_max": "green", "type": ["ipv4", "domain"]},
                        headers=exports.h("analyst"))
    assert green.headers["x-tlp"] == "TLP:GREEN"
    assert {row["value"] for row in _csv_rows(green.content)} == {"192.0.2.10", "c2.example"}
    analyst = exports.get("/api/v1/export/indicators", params={"format": "jsonl"}, headers=exports.h("analyst"))
    records = [orjson.loads(line) for line in analyst.content.splitlines()]
    assert analyst.headers["x-tlp"] == "TLP:RED" and {r["tlp"] for r in records} >= {"red", "clear"}
    assert all(r["kind"] == "indicator" and r["source"] == "test-feed" for r in records)


def test_stix_bundle_is_valid_and_round_trips_through_our_adapter(exports):
    r = exports.get("/api/v1/export/indicators", params={"format": "stix"}, headers=exports.h("reader"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/stix+json")
    bundle = stix2.parse(r.content, allow_custom=True)
    kinds = [o.type for o in bundle.objects]
    assert kinds.count("indicator") == 6 and "identity" in kinds and "marking-definition" in kinds
    items = list(parse_stix(r.content, ParseContext(default_tlp=TLP.RED)))
    assert {(i.type, i.value, i.tlp) for i in items} == {
        ("ipv4", "192.0.2.10", "clear"), ("domain", "c2.example", "green"),
        ("url", "https://bad.example/it's/x", "amber"), ("sha256", "a" * 64, "clear"),
        ("asn", "64500", "green"), ("cidr", "198.51.100.0/24", "clear")}
    again = exports.get("/api/v1/export/indicators", params={"format": "stix"}, headers=exports.h("reader"))
    ids = lambda b: sorted(o["id"] for o in orjson.loads(b)["objects"] if o["type"] == "indicator")  # noqa: E731
    assert ids(again.content) == ids(r.content)  # the same item always exports as the same indicator


def test_constituent_gets_only_what_it_was_alerted_about(exports):
    r = exports.get("/api/v1/me/indicators", headers=exports.h("own"))
    assert r.status_code == 200
    assert [row["value"] for row in _csv_rows(r.content)] == ["192.0.2.10"]  # not the untriaged match
    assert exports.get("/api/v1/export/indicators", headers=exports.h("own")).status_code == 403
    assert exports.get("/api/v1/me/indicators", headers=exports.h("reader")).status_code == 403


def test_bad_parameters_are_4xx_and_exports_are_audited(exports):
    h = exports.h("reader")
    for params in ({"format": "xlsx"}, {"type": "ipv5"}, {"tlp_max": "purple"}, {"limit": 0}):
        r = exports.get("/api/v1/export/indicators", params=params, headers=h)
        assert r.status_code == 422 and r.json()["detail"], params
    assert exports.get("/api/v1/export/indicators").status_code == 401
    exports.get("/api/v1/export/indicators", params={"format": "jsonl"}, headers=h)
    with exports.env.factory() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "export.indicators"))
        assert entry.actor == "reader@test.invalid" and entry.detail["count"] == 6 and entry.detail["tlp"] == "amber"


def test_cli_export_defaults_to_tlp_clear(exports, tmp_path):
    from typer.testing import CliRunner

    from certmon.cli.main import app

    target = tmp_path / "blokk.csv"
    r = CliRunner().invoke(app, ["export", "indicators", "--format", "csv", "-o", str(target)])
    assert r.exit_code == 0, r.output
    rows = _csv_rows(target.read_bytes())
    assert {row["tlp"] for row in rows} == {"TLP:CLEAR"} and len(rows) == 3
    assert "TLP:CLEAR" in r.output
    stix_out = CliRunner().invoke(app, ["export", "indicators", "--format", "stix", "--tlp-max", "green",
                                        "--org", "999777121"])
    assert stix_out.exit_code == 0 and '"192.0.2.10' not in stix_out.stdout  # value sits inside a pattern
    assert "ipv4-addr:value = '192.0.2.10'" in stix_out.stdout


def test_jsonl_keeps_feed_free_text_home_and_limits_are_marked(exports):
    with exports.env.factory.begin() as s:
        from certmon.items.models import StoredItem

        item = s.scalar(select(StoredItem).where(StoredItem.value == "c2.example"))
        item.data = {**item.data, "title": "Intern beskrivelse som nevner Andvik kommune", "summary": "hemmelig"}
    body = exports.get("/api/v1/export/indicators", params={"format": "jsonl"}, headers=exports.h("reader")).content
    assert b"Andvik" not in body and b"hemmelig" not in body and b"c2.example" in body
    two = exports.get("/api/v1/export/indicators", params={"limit": 2}, headers=exports.h("reader"))
    assert two.headers["x-truncated"] == "true" and len(_csv_rows(two.content)) == 2
    everything = exports.get("/api/v1/export/indicators", headers=exports.h("reader"))
    assert everything.headers["x-truncated"] == "false"
    assert exports.get("/api/v1/me/indicators", params={"limit": 50_000}, headers=exports.h("own")).status_code == 422
    far = exports.get("/api/v1/me/indicators", params={"since": "9999-12-31T23:59:59-23:59"}, headers=exports.h("own"))
    assert far.status_code == 422 and far.json()["detail"]


def test_expired_rows_do_not_shorten_a_limited_file(exports):
    # the newest rows by last_seen are the revoked/expired ones planted last; limit=3 must still give 3
    r = exports.get("/api/v1/export/indicators", params={"limit": 3, "tlp_max": "clear"}, headers=exports.h("reader"))
    assert len(_csv_rows(r.content)) == 3


def test_every_pattern_certmon_writes_passes_the_stix_pattern_validator() -> None:
    # the export's Indicator skips the ANTLR pattern parse at build time (certmon.exports.service); this is why
    from stix2patterns.validator import run_validator

    from certmon.exports.service import INDICATOR_TYPES, stix_pattern

    samples = {"ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "cidr": "2001:db8::/32",
               "domain": "xn--bcher-kva.example", "url": "http://ex.example/a'b\\c?d=\"e\"",
               "email": "o'brien@example.com", "md5": "d41d8cd98f00b204e9800998ecf8427e",
               "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
               "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "asn": "64500"}
    assert set(samples) == set(INDICATOR_TYPES)
    for kind, value in samples.items():
        pattern = stix_pattern(kind, value)
        assert run_validator(pattern, stix_version="2.1") == [], (kind, pattern)
    assert stix_pattern("cidr", "192.0.2.0/24") == "[ipv4-addr:value = '192.0.2.0/24']"
    assert run_validator("[ipv4-addr:value = 'a'b']", stix_version="2.1")  # the validator does refuse
    assert run_validator(stix_pattern("cidr", "192.0.2.0/24"), stix_version="2.1") == []
