"""Lists at any size (certmon/items/search.py), on SQLite and PostgreSQL: keyset pages visit every row once
in the offset order, the substring search finds what the four-column ILIKE found through the dialect's
index (and follows updates and deletes), totals are exact up to the cap and estimated beyond, and the
query plans use the indexes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, or_, select, text, update

from certmon.errors import ValidationFailed
from certmon.items import search
from certmon.items.models import StoredItem
from certmon.items.service import list_page
from certmon.sources.models import Source
from certmon.tlp import TLP

BASE = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(session, n: int) -> None:  # type: ignore[no-untyped-def]
    source = Source(name="skala", format="feodo", url="https://x.invalid/")
    session.add(source)
    session.flush()
    rows = []
    for i in range(n):
        dated = i % 7 != 0  # some without a date; ties in published_at on purpose (i // 3)
        rows.append({
            "source_id": source.id, "kind": "exposure" if i % 13 == 0 else "indicator", "key": f"feodo:{i}",
            "tlp": "clear", "tlp_rank": 0,
            "indicator_type": "ipv4", "value": f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}",
            "title": "Emotet C2" if i % 5 == 0 else ("QakBot_100%" if i % 11 == 0 else None),
            "published_at": BASE + timedelta(minutes=i // 3) if dated else None,
            "content_hash": f"{i:032d}", "data": {}, "revoked": i % 97 == 0,
        })
    session.execute(StoredItem.__table__.insert(), rows)
    session.commit()


def _all_pages(session, limit: int, kinds=("indicator",), **kw):  # type: ignore[no-untyped-def]
    ids, cursor, pages = [], None, 0
    while True:
        page = list_page(session, kinds=kinds, tlp_max=TLP.CLEAR, limit=limit, cursor=cursor, **kw)
        ids += [r.id for r in page.rows]
        pages += 1
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor
        assert pages < 1000


@pytest.mark.parametrize("any_env", ["sqlite", "pg"], indirect=True)
def test_keyset_pages_visit_every_row_once_in_the_offset_order(any_env, monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 500)
    with any_env.session() as session:
        _fill(session, 2_000)
        expected = [i.id for i in session.scalars(search.newest_first(session, select(StoredItem).where(
            StoredItem.kind == "indicator", StoredItem.revoked.is_(False))))]
        ids, pages = _all_pages(session, 97)
        assert ids == expected and len(set(ids)) == len(ids) and pages == len(expected) // 97 + 1
        both = [i.id for i in session.scalars(search.newest_first(session, select(StoredItem).where(
            StoredItem.revoked.is_(False))))]  # the dashboard's indicators and exposures: two kinds merged
        assert _all_pages(session, 89, kinds=("indicator", "exposure"))[0] == both
        first = list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, limit=50)
        assert [r.id for r in first.rows] == expected[:50]
        assert (first.total_exact, first.total >= 500) == (False, True)  # beyond the cap: estimated
        searched, _ = _all_pages(session, 40, q="emotet")
        assert searched == [i for i in expected if session.get(StoredItem, i).title == "Emotet C2"]
        small = list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, limit=1000, q="c2")
        assert small.total_exact and {r.title for r in small.rows} == {"Emotet C2"}  # under 3 characters: a scan
        with pytest.raises(ValidationFailed):
            list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, cursor="bm90IGEgY3Vyc29y")
        with pytest.raises(ValidationFailed):
            list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, cursor=first.next_cursor, offset=50)


@pytest.mark.parametrize("any_env", ["sqlite", "pg"], indirect=True)
def test_search_finds_what_ilike_finds_and_follows_changes(any_env):
    with any_env.session() as session:
        _fill(session, 600)
        for q in ("EMOTET", "mot", "10.0.1.", "feodo:59", "QakBot_100%", "_100", "100%", 'a"b', "–"):
            like = f"%{q.replace('%', chr(92) + '%').replace('_', chr(92) + '_')}%"
            want = set(session.scalars(select(StoredItem.id).where(
                StoredItem.revoked.is_(False), StoredItem.kind == "indicator", or_(*(
                c.ilike(like, escape="\\") for c in (StoredItem.title, StoredItem.value, StoredItem.cve,
                                                   StoredItem.key))))))
            got = {r.id for r in list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, limit=1000, q=q).rows}
            assert got == want, q
        target = session.scalar(select(StoredItem.id).where(StoredItem.key == "feodo:1"))
        session.execute(update(StoredItem).where(StoredItem.id == target).values(title="Ny tittel Pikabot"))
        session.commit()
        assert [r.id for r in list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, q="pikabot").rows] == [target]
        session.execute(delete(StoredItem).where(StoredItem.id == target))
        session.commit()
        assert list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, q="pikabot").rows == []


@pytest.mark.parametrize("any_env", ["sqlite", "pg"], indirect=True)
def test_the_plans_use_the_indexes(any_env, monkeypatch):
    monkeypatch.setattr(search, "SQLITE_BY_ID", 0)  # SQLite: the path for a word with many hits
    with any_env.session() as session:
        _fill(session, 3_000)
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(text("ANALYZE items"))
        base = select(StoredItem).where(StoredItem.kind.in_(("indicator",)), StoredItem.tlp_rank <= 3,
                                        StoredItem.revoked.is_(False))
        session.execute(update(StoredItem).where(StoredItem.key == "feodo:7").values(title="Sjelden Pikabot"))
        session.commit()
        if dialect == "postgresql":
            session.execute(text("ANALYZE items"))
        # the search condition alone (a tiny table's planner would otherwise take the kind index): the
        # expression must be the index's for it to be used at all
        searched = select(StoredItem.id).where(search.search_condition(session, "pikabot"))
        page = search.newest_first(session, base.where(StoredItem.published_at.is_not(None))).limit(50)
        for stmt, index in ((searched, "ix_items_search" if dialect == "postgresql" else "items_search"),
                            (page, "ix_items_kind_published")):
            compiled = stmt.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
            prefix = "EXPLAIN" if dialect == "postgresql" else "EXPLAIN QUERY PLAN"
            if dialect == "postgresql":
                session.execute(text("SET enable_seqscan = off"))  # a tiny table: ask which index it can use
            plan = " ".join(str(row) for row in session.connection().exec_driver_sql(
                f"{prefix} {compiled.string}", compiled.params if dialect == "postgresql" else
                tuple(compiled.params[k] for k in compiled.positiontup or ())))
            assert index in plan, plan


def test_a_sqlite_search_with_few_hits_looks_them_up_by_id(sqlite_env, monkeypatch):
    """Every statement of a searched list (count, each kind's keyset page, an offset page, a source filter)
    reads the hits by id, never by walking an index of the other filters; a word nothing contains costs
    nothing; the pages hold what the index walk would give."""
    from sqlalchemy import event

    with sqlite_env.session() as session:
        _fill(session, 3_000)
        engine = session.get_bind()
        seen: list[tuple[str, tuple]] = []

        def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("SELECT") and re.search(r"FROM items\b", statement):
                seen.append((statement, parameters))

        def lists():  # type: ignore[no-untyped-def]
            return [list_page(session, kinds=("indicator", "exposure"), tlp_max=TLP.CLEAR, limit=20, q="emotet"),
                    list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, limit=20, offset=20, q="emotet"),
                    list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, limit=20, q="10.0.1", source_id=1)]

        event.listen(engine, "before_cursor_execute", record)
        try:
            pages = lists()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(seen) >= 5 and pages[0].total > 20 and pages[2].rows
        for statement, parameters in seen:
            plan = " ".join(str(row[3]) for row in session.connection().exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "INTEGER PRIMARY KEY (rowid=?)" in plan, plan
            assert "ix_items_kind_published" not in plan and "autoindex" not in plan, plan
        with monkeypatch.context() as patch:
            patch.setattr(search, "SQLITE_BY_ID", 0)  # the same lists by the index walk
            again = lists()
        # a word nothing contains: a condition SQLite settles once, before it reads any row
        assert str(search.search_condition(session, "finnes-ikke").compile(engine)) in ("0", "false")
        nothing = list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, q="finnes-ikke")
        assert (nothing.total, nothing.rows) == (0, [])
        for one, other in zip(pages, again, strict=True):
            assert ([r.id for r in one.rows], one.total, one.next_cursor) == \
                ([r.id for r in other.rows], other.total, other.next_cursor)


def test_a_large_ingest_refreshes_the_planner_statistics(pg_env, monkeypatch):
    from certmon.sources.schemas import SourceCreate
    from certmon.sources.service import create_source
    from feeds.collect import run_source
    from feeds.collect_types import Document

    monkeypatch.setattr(search, "ANALYZE_AFTER_ROWS", 2)  # the fixture's two rows count as large here
    with pg_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(name="feodo-stor", format="feodo",
                                                        url="https://feodotracker.abuse.ch/x.csv")).id
    body = (Path(__file__).resolve().parents[1] / "fixtures" / "abusech" / "feodotracker_ipblocklist.txt").read_bytes()
    report = run_source(pg_env.factory, source_id, documents=[Document(body, "feodo.csv")])
    assert report.outcome == "ok" and report.items_new == 2
    with pg_env.factory() as session:
        analysed = session.execute(text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'items'"))
        assert analysed.scalar_one() is not None


def _integrity(session) -> None:  # type: ignore[no-untyped-def]
    """FTS5's own check of an external-content index against the rows (raises on any difference)."""
    session.connection().exec_driver_sql("INSERT INTO items_search(items_search, rank) VALUES ('integrity-check', 1)")


def test_the_ingest_path_writes_the_sqlite_index_per_batch(sqlite_env, monkeypatch):
    """upsert_items indexes its batches itself (the triggers stand aside meanwhile): new rows, rows whose
    value or title changed, rows repeated within one call, batches of non-consecutive ids; every other
    writer still goes through the triggers, and the marker never outlives a batch, not even a failed one."""
    from certmon.items import service
    from certmon.items.schemas import Item

    def items(values, title=None):  # type: ignore[no-untyped-def]
        return [Item(kind="indicator", key=f"k:{n}", tlp="clear", source_format="bench", type="domain",
                     value=v, title=title) for n, v in values]

    monkeypatch.setitem(service.LOOKUP_CHUNK, "sqlite", 7)  # many batches
    with sqlite_env.session() as session:
        source = Source(name="bulk", format="feodo", url="https://x.invalid/")
        session.add(source)
        session.flush()
        first = service.upsert_items(session, source_id=source.id,
                                     items=items([(n, f"host{n}.alpha.example") for n in range(40)]))
        session.commit()
        assert len(first.new_ids) == 40
        # a row from another writer (a Core insert): the triggers index it
        session.execute(StoredItem.__table__.insert(), [{
            "source_id": source.id, "kind": "indicator", "key": "orm:1", "tlp": "clear", "tlp_rank": 0,
            "value": "orm.gamma.example", "content_hash": "x", "data": {}, "revoked": False}])
        again = items([(n, f"host{n}.beta.example") for n in range(0, 40, 2)]   # 20 changed values
                      + [(n, f"host{n}.alpha.example") for n in range(1, 40, 2)]  # 20 unchanged
                      + [(n, f"new{n}.delta.example") for n in range(40, 50)]     # 10 new
                      + [(45, "new45.epsilon.example")], title="Ny tittel")        # a key twice: the last wins
        second = service.upsert_items(session, source_id=source.id, items=again)
        session.commit()
        assert (len(second.new_ids), len(second.updated_ids)) == (10, 40)  # the title changed everywhere

        def found(q: str) -> int:
            return len(list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, limit=1000, q=q).rows)

        assert (found("alpha"), found("beta"), found("delta"), found("epsilon"), found("gamma")) == (20, 20, 9, 1, 1)
        assert found("ny tittel") == 50
        _integrity(session)
        conn = session.connection()
        assert conn.exec_driver_sql("SELECT count(*) FROM items_search_defer").scalar_one() == 0

        def broken(conn, rows):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

        monkeypatch.setattr(service, "_update_changed", broken)
        with pytest.raises(RuntimeError):
            service.upsert_items(session, source_id=source.id, items=items([(1, "x.zeta.example")]))
        assert session.connection().exec_driver_sql("SELECT count(*) FROM items_search_defer").scalar_one() == 0
        session.rollback()
        session.execute(update(StoredItem).where(StoredItem.key == "k:3").values(value="later.eta.example"))
        session.commit()
        assert found("later.eta") == 1
        _integrity(session)


def test_migration_0020_on_a_filled_database(tmp_path):
    """0020 on a SQLite database with rows keeps them searchable, the triggers still index other writers'
    rows, and the downgrade puts 0019's unconditional triggers back."""
    from alembic import command
    from sqlalchemy.orm import Session

    from certmon.db import make_engine
    from certmon.dbops import alembic_config, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    upgrade(engine, "0014")

    def add(session: Session, key: str, value: str) -> None:
        session.execute(StoredItem.__table__.insert(), [{
            "source_id": 1, "kind": "indicator", "key": key, "tlp": "clear", "tlp_rank": 0, "value": value,
            "content_hash": "x", "data": {}, "revoked": False}])
        session.commit()

    def keys(session: Session, q: str) -> list[str]:
        return [r.key for r in list_page(session, kinds=("indicator",), tlp_max=TLP.CLEAR, q=q).rows]

    with Session(engine) as session:
        session.add(Source(name="s", format="feodo", url="https://x.invalid/"))
        session.commit()
        add(session, "før", "before.alpha.example")
    upgrade(engine)
    with Session(engine) as session:
        add(session, "etter", "after.alpha.example")
        assert sorted(keys(session, "alpha.example")) == ["etter", "før"]
        _integrity(session)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014")
    with Session(engine) as session:
        add(session, "nedgradert", "down.alpha.example")
        assert sorted(keys(session, "alpha.example")) == ["etter", "før", "nedgradert"]
        _integrity(session)
        triggers = session.connection().exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'items_search_%'").scalars().all()
        assert len(triggers) == 3 and not any("items_search_defer" in sql for sql in triggers)
    engine.dispose()
