"""Shared CLI helpers: consoles, reading files, and a session on the configured database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from certmon.db import get_engine, session_scope
from certmon.dbops import current_revision, head_revision
from certmon.errors import CertmonError, NotFound

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def read_text(path: Path) -> str:
    """A UTF-8 text file, or a CertmonError naming the file and the problem."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CertmonError(f"{path}: finnes ikke") from None
    except UnicodeDecodeError as exc:
        raise CertmonError(f"{path}: er ikke UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise CertmonError(f"{path}: {exc.strerror}") from None


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or a CertmonError naming the file and the problem."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CertmonError(f"{path}: finnes ikke") from None
    except OSError as exc:
        raise CertmonError(f"{path}: {exc.strerror}") from None


def ensure_schema() -> None:
    """Stop with a clear message when the database has no schema yet, or an older one."""
    with get_engine().connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            raise CertmonError("databasen har ikke skjema ennå; kjør `certmon db upgrade` først")
    current, head = current_revision(), head_revision()
    if current != head:
        raise CertmonError(f"databaseskjemaet er revisjon {current}, programmet trenger {head}; "
                           "kjør `certmon db upgrade`")


@contextmanager
def db_session() -> Iterator[Session]:
    """A transaction on the configured database (schema checked first)."""
    ensure_schema()
    with session_scope() as session:
        yield session


def constituent_id_for(session: Session, org_number: str | None) -> int | None:
    """The id of the organisation with this number (None when not given); NotFound naming it otherwise."""
    if not org_number:
        return None
    from certmon.registry.service import find_by_org_number

    constituent = find_by_org_number(session, org_number)
    if constituent is None:
        raise NotFound(f"fant ingen virksomhet med organisasjonsnummer {org_number}")
    return constituent.id
