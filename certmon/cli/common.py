"""Shared CLI helpers: consoles, columns, reading files, and a session on the configured database.

Light at import time (no rich, no SQLAlchemy): the consoles are made on first use and the database
is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from certmon.errors import CertmonError, NotFound
from certmon.i18n import _

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

OSLO = ZoneInfo("Europe/Oslo")


class _LazyConsole:
    """A rich Console made on first use (rich costs time that `--help` should not pay)."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def _real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    # Special methods are looked up on the type, not through __getattr__: rich's Progress and Live use
    # the console as a context manager (`with console:`), as `certmon serve`'s first collection does.
    def __enter__(self) -> Console:
        return self._real().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._real().__exit__(*exc)  # type: ignore[arg-type]


out = cast("Console", _LazyConsole(stderr=False))
err = cast("Console", _LazyConsole(stderr=True))


def oslo_time(value: datetime | None, never: str = "–") -> str:
    """`2026-03-01 10:00` in Norwegian time (stored times are UTC; naive ones are read as UTC)."""
    if value is None:
        return never
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


def print_columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns that never cut a value short (the last column is not padded)."""
    table = [list(header), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.print("  ".join([*padded, row[-1]]).rstrip(), markup=False)


def read_text(path: Path) -> str:
    """A UTF-8 text file, or a CertmonError naming the file and the problem."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CertmonError(_("%(path)s: does not exist") % {"path": path}) from None
    except IsADirectoryError:
        raise CertmonError(_("%(path)s: is a folder, not a file") % {"path": path}) from None
    except UnicodeDecodeError as exc:
        raise CertmonError(_("%(path)s: is not UTF-8 (byte %(at)s)") % {"path": path, "at": exc.start}) from None
    except OSError as exc:
        raise CertmonError(f"{path}: {exc.strerror}") from None


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or a CertmonError naming the file and the problem."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CertmonError(_("%(path)s: does not exist") % {"path": path}) from None
    except IsADirectoryError:
        raise CertmonError(_("%(path)s: is a folder, not a file") % {"path": path}) from None
    except OSError as exc:
        raise CertmonError(f"{path}: {exc.strerror}") from None


def ensure_schema() -> None:
    """Stop with a clear message when the database has no schema yet, or an older one."""
    from sqlalchemy import inspect

    import certmon.models  # noqa: F401  (every table registered, so any model's relationships resolve)
    from certmon.db import get_engine
    from certmon.dbops import current_revision, head_revision

    with get_engine().connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            raise CertmonError(_("the database has no schema yet; run `certmon db upgrade` first"))
    current, head = current_revision(), head_revision()
    if current != head:
        raise CertmonError(_("the database schema is revision %(current)s, this program needs %(head)s; run "
                             "`certmon db upgrade`") % {"current": current, "head": head})


@contextmanager
def db_session() -> Iterator[Session]:
    """A transaction on the configured database (schema checked first)."""
    from certmon.db import session_scope

    ensure_schema()
    with session_scope() as session:
        yield session


def session_factory() -> Any:
    """The configured database's session factory (imported on use)."""
    import certmon.models  # noqa: F401  (every table registered)
    from certmon.db import session_factory as factory

    return factory()


def constituent_id_for(session: Session, org_number: str | None) -> int | None:
    """The id of the organisation with this number (None when not given); NotFound naming it otherwise."""
    if not org_number:
        return None
    from certmon.registry.service import find_by_org_number

    constituent = find_by_org_number(session, org_number)
    if constituent is None:
        raise NotFound(_("found no organisation with organisation number %(org)s") % {"org": org_number})
    return constituent.id
