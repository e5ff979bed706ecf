"""Which registry version every stored item's matches were computed against (`app_state`), so the
re-match tick re-matches history only when it must.

`rematched_version` holds a registry version when every stored item has been matched against it
(a full re-match, or ingests into an empty store), or `STALE` when some item is known to have been
matched against an older registry; absent means unknown. The tick re-matches unless it equals the
current registry version.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from certmon.dbutil import insert_ignoring_conflicts
from certmon.items.models import StoredItem
from certmon.registry.models import AppState
from certmon.registry.service import VERSION_KEY

REMATCHED_KEY = "rematched_version"
STALE = "stale"  # never a registry version (those are "0" or uuid4 hex)


def _registry_version_held(session: Session) -> str:
    """The registry version, read with a share lock on PostgreSQL: a registry change cannot commit
    between this read and our commit (it waits for us), so what we record stays true."""
    stmt = select(AppState.value).where(AppState.key == VERSION_KEY)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True)
    return session.scalar(stmt) or "0"


def _write(session: Session, value: str, *, overwrite: bool) -> None:
    session.execute(insert_ignoring_conflicts(session, AppState), [{"key": REMATCHED_KEY, "value": value}])
    if overwrite:
        session.execute(update(AppState).where(AppState.key == REMATCHED_KEY).values(value=value)
                        .execution_options(synchronize_session=False))


def record_ingest_match(session: Session, *, version: str, item_ids: Sequence[int]) -> None:
    """An ingest matched `item_ids` against registry `version` in this transaction (the caller commits).

    - the registry has changed since (mid-ingest): mark the state stale, so a re-match covers these
      items even if one at the new version has just finished;
    - nothing recorded yet and every stored item is one of ours: all were matched against the current
      registry, so record it and spare the tick a re-match of everything;
    - otherwise leave it: equal stays true, and a due re-match covers our items too.
    """
    if not item_ids:
        return
    if _registry_version_held(session) != version:
        _write(session, STALE, overwrite=True)
        return
    if session.get(AppState, REMATCHED_KEY) is not None:
        return
    stored = session.scalar(select(func.count(StoredItem.id))) or 0
    if stored == len(item_ids):  # the ids are distinct (new and updated rows of one ingest); no set of 10^6
        _write(session, version, overwrite=False)  # a concurrent writer's value wins


def rematched(session: Session, *, version: str, seen: str | None) -> bool:
    """A full re-match against `version` finished: record it unless the state changed while it ran
    (`seen`: the value at its start) — an ingest that marked it stale must get its re-match."""
    state = session.get(AppState, REMATCHED_KEY, with_for_update=True, populate_existing=True)
    if state is None:
        if seen is not None:
            return False
        _write(session, version, overwrite=False)
        return True
    if state.value != seen:
        return False
    state.value = version
    return True
