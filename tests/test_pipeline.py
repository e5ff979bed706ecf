"""The first slice end to end: an RSS source over real HTTP → stored once → matched → listed."""

import itertools
import os
import shutil
import time

from sqlalchemy import func, select

from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.sources.models import Source, SourceRun
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds.collect import run_source
from tests.conftest import FIXTURES

_BUMPS = itertools.count(1)


def _replace(path, source=None, text=None):
    """Write a file and move its mtime forward, so Last-Modified changes even within one second."""
    if source is not None:
        shutil.copy(source, path)
    else:
        path.write_text(text)
    later = time.time() + 60 * next(_BUMPS)
    os.utime(path, (later, later))


def _add_rss_source(env, url, **extra):
    with env.factory.begin() as session:
        source = create_source(session, SourceCreate(name="cisa", format="rss", url=url, internal=True, **extra))
        return source.id


def test_rss_over_http_is_stored_once_and_not_modified_on_rerun(any_env, file_server):
    base, root = file_server
    shutil.copy(FIXTURES / "rss" / "us-cert_bulletins_2016-01-06.rss.xml", root / "bulletins.xml")
    source_id = _add_rss_source(any_env, f"{base}/bulletins.xml")

    first = run_source(any_env.factory, source_id)
    assert (first.outcome, first.items_total, first.items_new) == ("ok", 10, 10)
    second = run_source(any_env.factory, source_id)
    assert second.outcome == "not-modified"  # Last-Modified / If-Modified-Since

    # a newer poll of the same feed: 6 of its 10 items were seen before
    _replace(root / "bulletins.xml", FIXTURES / "rss" / "us-cert_bulletins_2016-02-02.rss.xml")
    third = run_source(any_env.factory, source_id)
    assert third.outcome == "ok" and third.items_new == 4
    with any_env.factory() as session:
        assert session.scalar(select(func.count(StoredItem.id))) == 14
        source = session.get(Source, source_id)
        assert source.healthy and source.last_items == 10 and source.last_success_at is not None


def test_broken_feed_marks_source_unhealthy_and_keeps_items(sqlite_env, file_server):
    base, root = file_server
    shutil.copy(FIXTURES / "rss" / "us-cert_bulletins_2016-01-06.rss.xml", root / "feed.xml")
    source_id = _add_rss_source(sqlite_env, f"{base}/feed.xml")
    assert run_source(sqlite_env.factory, source_id).outcome == "ok"

    _replace(root / "feed.xml", text='<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;</rss>')
    broken = run_source(sqlite_env.factory, source_id)
    assert broken.outcome == "parse-error" and broken.error
    (root / "feed.xml").unlink()
    missing = run_source(sqlite_env.factory, source_id)
    assert missing.outcome == "unavailable" and "404" in missing.error
    with sqlite_env.factory() as session:
        source = session.get(Source, source_id)
        assert not source.healthy and source.consecutive_failures == 2
        assert "404" in source.last_error
        assert session.scalar(select(func.count(StoredItem.id))) == 10
        outcomes = session.scalars(select(SourceRun.outcome).order_by(SourceRun.id)).all()
        assert outcomes == ["ok", "parse-error", "unavailable"]


def test_internal_address_refused_unless_source_is_internal(sqlite_env, file_server):
    base, root = file_server
    (root / "x.xml").write_text("<rss/>")
    with sqlite_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(name="sneaky", format="rss", url=f"{base}/x.xml")).id
    report = run_source(sqlite_env.factory, source_id)
    assert report.outcome == "blocked" and "127.0.0.1" in report.error


def test_demo_scenario_produces_matches_and_alerts(sqlite_env, catalogue_sources):
    from certmon.demo.load import load_demo

    with sqlite_env.factory.begin() as session:
        load_demo(session)
        ids = {s.name: s.id for s in session.scalars(select(Source))}
    stix = run_source(sqlite_env.factory, ids["demo-partner-stix"])
    rdp = run_source(sqlite_env.factory, ids["demo-shadowserver-rdp"])
    assert stix.outcome == rdp.outcome == "ok"
    assert stix.matches_new >= 4 and rdp.matches_new >= 4
    assert stix.notification_ids and rdp.notification_ids
    with sqlite_env.factory() as session:
        rules = set(session.scalars(select(Match.rule)))
    assert {"ip-network", "domain", "email-domain", "supplier"} <= rules
    # a re-run of the same payload creates nothing new
    again = run_source(sqlite_env.factory, ids["demo-partner-stix"])
    assert again.items_new == 0 and again.matches_new == 0


def test_demo_alert_lists_each_item_once_with_every_reason(sqlite_env, catalogue_sources):
    import email
    import mailbox
    from email import policy

    from certmon.demo.load import load_demo
    from certmon.notify.deliver import deliver_due

    with sqlite_env.factory.begin() as session:
        load_demo(session)
        source_id = session.scalar(select(Source.id).where(Source.name == "demo-shadowserver-rdp"))
    assert run_source(sqlite_env.factory, source_id).outcome == "ok"
    report = deliver_due(sqlite_env.factory, open_windows=True)
    assert report.sent
    box = mailbox.Maildir(sqlite_env.data_dir / "mail", create=False)
    bodies = {}
    for key in box.keys():
        msg = email.message_from_bytes(box.get_bytes(key), policy=policy.default)
        bodies[str(msg["To"])] = msg.get_body(("plain",)).get_content()
    bergen = bodies["sikkerhet@demo-bergen.example"]
    # 192.0.2.10 is in Bergen's network AND its host name is under Bergen's domain: one entry, two reasons
    assert bergen.count("192.0.2.10:3389\n") == 1
    assert "192.0.2.0/24" in bergen and "demo-bergen.example" in bergen
