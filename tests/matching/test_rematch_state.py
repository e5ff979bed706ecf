"""The first re-match tick after an ingest does not re-match everything: ingest records the registry
version it matched against — and stays correct when the registry changes while it runs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.matching.service import rematch_if_changed
from certmon.matching.state import REMATCHED_KEY, STALE
from certmon.registry.assets import add_asset
from certmon.registry.models import AppState
from certmon.registry.service import find_by_org_number, registry_version
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds import collect
from feeds.collect import Document, run_source

BERGEN, TROMSO = "964338531", "940101808"
HEADER = '"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n'


def _feodo(*ips: str) -> Document:
    rows = "".join(f'"2026-03-01 10:00:00","{ip}","443","online","2026-03-02","Dridex"\n' for ip in ips)
    return Document((HEADER + rows).encode(), "ipblocklist.csv")


def _setup(env) -> int:
    with env.factory.begin() as session:
        bergen = find_by_org_number(session, BERGEN)
        add_asset(session, constituent_id=bergen.id, asset_type="network", value="192.0.2.0/24")
        return create_source(session, SourceCreate(name="feodo", format="feodo",
                                                   url="https://feodotracker.abuse.ch/x.csv")).id


def _state(env) -> str | None:
    with env.factory() as session:
        row = session.get(AppState, REMATCHED_KEY)
        return row.value if row else None


def _matched_orgs(env) -> set[str]:
    from certmon.registry.models import Constituent

    with env.factory() as session:
        return set(session.scalars(select(Constituent.org_number).join(Match, Match.constituent_id == Constituent.id)))


def test_ingests_into_an_empty_store_spare_the_tick(any_env) -> None:
    source_id = _setup(any_env)
    assert run_source(any_env.factory, source_id, documents=[_feodo("192.0.2.10", "203.0.113.5")]).outcome == "ok"
    with any_env.factory() as session:
        assert _state(any_env) == registry_version(session)
    assert rematch_if_changed(any_env.factory) is None  # nothing to re-match
    run_source(any_env.factory, source_id, documents=[_feodo("192.0.2.11")])
    assert rematch_if_changed(any_env.factory) is None
    with any_env.factory.begin() as session:  # a registry change still re-matches, once
        add_asset(session, constituent_id=find_by_org_number(session, TROMSO).id, asset_type="network",
                  value="203.0.113.0/24")
    run = rematch_if_changed(any_env.factory)
    assert run is not None and len(run.new_ids) == 1 and rematch_if_changed(any_env.factory) is None
    assert _matched_orgs(any_env) == {BERGEN, TROMSO}


def test_items_of_unknown_matching_still_get_their_rematch(any_env) -> None:
    source_id = _setup(any_env)
    with any_env.factory.begin() as session:  # stored earlier, never matched against this registry
        upsert_items(session, source_id=source_id, items=[Item(kind="indicator", key="old", tlp="clear",
                                                               source_format="feodo", type="ipv4",
                                                               value="192.0.2.99")])
    run_source(any_env.factory, source_id, documents=[_feodo("192.0.2.10")])
    assert _state(any_env) is None
    run = rematch_if_changed(any_env.factory)
    assert run is not None and len(run.new_ids) == 1  # the old item's match


@pytest.mark.postgres
@pytest.mark.parametrize("rematch_meanwhile", [False, True])
def test_a_registry_change_mid_ingest_is_not_lost(pg_env, monkeypatch, rematch_meanwhile: bool) -> None:
    source_id = _setup(pg_env)
    real = collect.match_items

    def match_then_registry_changes(session, **kw):
        run = real(session, **kw)  # matched against the registry as it was
        with pg_env.factory.begin() as other:
            add_asset(other, constituent_id=find_by_org_number(other, TROMSO).id, asset_type="network",
                      value="198.51.100.0/24")
        if rematch_meanwhile:  # a tick at the new version runs to its end before this ingest commits
            rematch_if_changed(pg_env.factory)
        return run

    monkeypatch.setattr(collect, "match_items", match_then_registry_changes)
    report = run_source(pg_env.factory, source_id, documents=[_feodo("192.0.2.10", "198.51.100.7")])
    monkeypatch.setattr(collect, "match_items", real)
    assert report.outcome == "ok" and _matched_orgs(pg_env) == {BERGEN}
    assert _state(pg_env) == STALE
    run = rematch_if_changed(pg_env.factory)
    assert run is not None and _matched_orgs(pg_env) == {BERGEN, TROMSO}
    assert rematch_if_changed(pg_env.factory) is None
