"""Help in one language: every help page in bokmål through the catalogue, quick, and light to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from typer.core import TyperArgument, TyperGroup

import certmon.cli
from certmon.cli import export, incidents, notify, users
from certmon.cli.framework import commands
from certmon.cli.main import command_tree, run

ROOT = Path(certmon.cli.__file__).parent
PO = Path(__file__).parents[2] / "certmon" / "locale" / "nb" / "LC_MESSAGES" / "messages.po"
TREE = command_tree()
ENGLISH = ("Usage:", "Options:", "Arguments:", "Commands:", "Show this message", "[default", "[required]",
           "<bool>", "<str>", "<int>", "<path>", "<datetime>", "Missing", "No such")
HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "celery", "kombu", "feeds", "workers",
         "dashboards", "httpx", "jinja2", "stix2", "pydantic_settings", "certmon.config", "certmon.db", "rich")


def _translated() -> set[str]:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="nb")
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog
            if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)}


def _paragraphs(text: str | None) -> list[str]:
    import inspect

    return [" ".join(p.split()) for p in inspect.cleandoc(text or "").split("\n\n") if p.strip()]


def _help_ids(group: TyperGroup) -> set[str]:
    """Every help text and metavar the help pages look up (English message ids)."""
    found = set(_paragraphs(group.help))
    for sub in group.commands.values():
        if isinstance(sub, TyperGroup):
            found |= _help_ids(sub)
            continue
        found |= set(_paragraphs(sub.help))
        for param in sub.params:
            found |= set(_paragraphs(getattr(param, "help", None)))
            if param.metavar:
                found.add(param.metavar)
            elif isinstance(param, TyperArgument):
                found.add((param.name or "").upper())
    return found


def test_every_cli_message_and_help_text_has_a_bokmal_translation() -> None:
    extracted = {m[0] if isinstance(m, tuple) else m for _f, _l, m, _c, _x in extract_from_dir(
        str(ROOT), [("**.py", "python")], keywords={"_": None, "N_": None, "count": (1, 2), "ngettext": (1, 2)})}
    used = extracted | _help_ids(TREE) | {"Show this message and exit."}
    assert len(used) > 200
    assert sorted(used - _translated()) == []


@pytest.mark.parametrize("path", [(), *[p for p, _c in commands(TREE)],
                                  *[(n,) for n, c in TREE.commands.items() if isinstance(c, TyperGroup)]])
def test_every_help_page_is_bokmal_without_type_markers(path: tuple[str, ...], capsys) -> None:
    with pytest.raises(SystemExit) as done:
        run([*path, "--help"])
    page = capsys.readouterr().out
    assert done.value.code == 0
    assert page.startswith(f"Bruk: certmon {' '.join(path)}".rstrip() + " [VALG]")
    assert "Vis denne hjelpen og avslutt." in page
    assert not [word for word in ENGLISH if word in page], page


def test_help_pages_import_nothing_heavy() -> None:
    """`certmon --help` (and every other help page) loads neither the database, the web stack, Celery nor
    the feeds: checked in a fresh interpreter, never by the clock."""
    script = (
        "import contextlib, io, json, sys\n"
        "from certmon.cli.main import command_tree, run\n"
        "from certmon.cli.framework import commands\n"
        "def help(args):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try: run([*args, '--help'])\n"
        "        except SystemExit as e: assert e.code == 0, args\n"
        "help([])\n"
        "top = sorted(sys.modules)\n"
        "for path, _c in commands(command_tree()): help(list(path))\n"
        "print(json.dumps([top, sorted(sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    top, every = json.loads(done.stdout)
    assert "certmon.cli.main" in top and "typer" in top  # the check sees the modules
    for loaded, what in ((top, "certmon --help"), (every, "every help page")):
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY)
        assert heavy == [], f"{what} imports {heavy}"


def test_the_cli_choices_match_the_domain() -> None:
    from certmon.auth.service import ROLES
    from certmon.exports import service as exports
    from certmon.incidents.clocks import MODELS
    from certmon.incidents.models import STATUSES as INCIDENT_STATUSES
    from certmon.notify.models import STATUSES as NOTIFICATION_STATUSES

    assert set(get_args(users.Role)) == set(ROLES)
    assert tuple(get_args(export.Format)) == tuple(exports.FORMATS)
    assert tuple(t.value for t in export.IndicatorType) == exports.INDICATOR_TYPES
    assert (export.DEFAULT_LIMIT, export.MAX_LIMIT) == (exports.DEFAULT_LIMIT, exports.MAX_LIMIT)
    assert get_args(incidents.Model) == MODELS
    assert get_args(incidents.Status) == (*INCIDENT_STATUSES, "active")
    assert get_args(notify.Status) == NOTIFICATION_STATUSES
