"""The database side of matching: reconcile, retire, suppress, re-match on registry change, triage."""

import pytest
from sqlalchemy import func, select

from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.matching.service import engine_for, match_items, rematch_if_changed, triage
from certmon.notify.models import Notification
from certmon.registry.assets import add_asset, delete_asset
from certmon.registry.models import Contact
from certmon.registry.service import find_by_org_number
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source

BERGEN, TROMSO = "964338531", "940101808"


def _ioc(key, value, type_="ipv4", tlp="green"):
    return Item(kind="indicator", key=key, tlp=tlp, source_format="stix", type=type_, value=value, confidence=90)


@pytest.fixture
def world(any_env):
    with any_env.factory.begin() as session:
        bergen = find_by_org_number(session, BERGEN)
        net = add_asset(session, constituent_id=bergen.id, asset_type="network", value="192.0.2.0/24")
        session.add(Contact(constituent_id=bergen.id, email="sikkerhet@demo-bergen.example", tlp_max="amber"))
        source = create_source(session, SourceCreate(name="t", format="stix", url="https://x.example/"))
        stored = upsert_items(session, source_id=source.id, items=[
            _ioc("a", "192.0.2.7"), _ioc("b", "198.51.100.9"), _ioc("c", "192.0.2.8")])
        run = match_items(session, item_ids=stored.new_ids)
    return any_env, bergen.id, net.id, source.id, run


def _statuses(env):
    with env.factory() as session:
        return sorted((m.item_id, m.rule, m.status) for m in session.scalars(select(Match)))


def test_match_items_is_idempotent(world):
    env, _, _, _, run = world
    assert len(run.new_ids) == 2
    with env.factory.begin() as session:
        ids = list(session.scalars(select(Match.item_id)))
        again = match_items(session, item_ids=ids)
        assert again.new_ids == [] and again.retired == 0
        assert session.scalar(select(func.count(Match.id))) == 2


def test_registry_change_adds_and_retires_without_duplicates(world):
    env, bergen_id, net_id, _, _ = world
    with env.factory.begin() as session:
        tromso = find_by_org_number(session, TROMSO)
        add_asset(session, constituent_id=tromso.id, asset_type="network", value="198.51.100.0/24")
        delete_asset(session, constituent_id=bergen_id, asset_id=net_id)
    run = rematch_if_changed(env.factory)
    assert run is not None and len(run.new_ids) == 1 and run.retired == 2
    assert rematch_if_changed(env.factory) is None  # nothing changed since
    statuses = _statuses(env)
    assert [s for s in statuses if s[2] == "retired"].__len__() == 2
    assert [s for s in statuses if s[2] == "new"].__len__() == 1
    with env.factory.begin() as session:  # the network comes back: the retired matches revive, not duplicate
        add_asset(session, constituent_id=bergen_id, asset_type="network", value="192.0.2.0/24")
    rematch_if_changed(env.factory)
    with env.factory() as session:
        assert session.scalar(select(func.count(Match.id))) == 3
        assert set(session.scalars(select(Match.status))) == {"new"}


def test_false_positive_suppresses_the_item_for_that_constituent(world):
    env, bergen_id, _, _, run = world
    with env.factory.begin() as session:
        triage(session, match_id=run.new_ids[0], action="false-positive", actor="a@x", reason="testnett")
        add_asset(session, constituent_id=bergen_id, asset_type="network", value="192.0.2.0/25")
    rematch_if_changed(env.factory)
    with env.factory() as session:
        fp = session.get(Match, run.new_ids[0])
        assert fp.status == "false_positive"
        assert session.scalar(select(func.count(Match.id)).where(Match.item_id == fp.item_id)) == 1


def test_triage_requires_reason_and_known_action(world):
    env, _, _, _, run = world
    from certmon.errors import ValidationFailed

    with env.factory() as session:
        with pytest.raises(ValidationFailed):
            triage(session, match_id=run.new_ids[0], action="false-positive", actor="a@x", reason=" ")
        with pytest.raises(ValidationFailed):
            triage(session, match_id=run.new_ids[0], action="delete", actor="a@x")


def test_confirming_a_product_match_queues_an_alert(any_env):
    with any_env.factory.begin() as session:
        bergen = find_by_org_number(session, BERGEN)
        add_asset(session, constituent_id=bergen.id, asset_type="product", value="fortinet:fortios")
        session.add(Contact(constituent_id=bergen.id, email="sikkerhet@demo-bergen.example", tlp_max="amber"))
        source = create_source(session, SourceCreate(name="kev", format="kev", url="https://x.example/"))
        stored = upsert_items(session, source_id=source.id, items=[Item(
            kind="vulnerability", key="CVE-2024-21762", tlp="clear", source_format="kev", cve="CVE-2024-21762",
            vendor="Fortinet", product="FortiOS", known_exploited=True, title="Fortinet FortiOS")])
        run = match_items(session, item_ids=stored.new_ids)
        assert len(run.new_ids) == 1
        assert session.scalar(select(func.count(Notification.id))) == 0  # product matches wait
    with any_env.factory.begin() as session:
        triage(session, match_id=run.new_ids[0], action="confirm", actor="analytiker@x")
    with any_env.factory() as session:
        assert session.scalar(select(func.count(Notification.id))) == 1


def test_engine_is_rebuilt_when_the_registry_version_changes(world):
    env, bergen_id, _, _, _ = world
    with env.factory.begin() as session:
        first = engine_for(session)
        assert engine_for(session) is first
        add_asset(session, constituent_id=bergen_id, asset_type="domain", value="demo-bergen.example")
        assert engine_for(session) is not first
