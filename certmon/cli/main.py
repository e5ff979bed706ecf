"""The `certmon` console script: every command has --help (bokmål); errors go to stderr, never a traceback.

The command modules import only Typer and light certmon modules at the top; the database, the feeds,
Celery and the web stack are imported inside the commands, so `certmon --help` answers at once.
Exit statuses are described in `certmon.cli.errors` and docs/cli.md.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import typer

from certmon.cli import contacts, db, export, incidents, items, notify, registry, reports, serve, sources, users
from certmon.cli.framework import CertmonTyper
from certmon.i18n import N_

app = CertmonTyper(name="certmon", help=N_("certmon – threat information, matches and alerts for Helse- og "
                                           "KommuneCERT."))
app.command("parse")(items.parse)
app.command("match")(items.match)
app.command("ingest")(items.ingest)
app.command("rematch")(items.rematch)
app.command("serve")(serve.serve)
app.command("setup")(serve.setup)
app.add_typer(db.app, name="db")
app.add_typer(registry.app, name="registry")
app.add_typer(registry.assets_app, name="assets")
app.add_typer(sources.app, name="sources")
app.add_typer(items.advisories_app, name="advisories")
app.add_typer(users.app, name="users")
app.add_typer(contacts.app, name="contacts")
app.add_typer(notify.app, name="notify")
app.add_typer(reports.app, name="reports")
app.add_typer(incidents.app, name="incidents")
app.add_typer(export.app, name="export")


def command_tree() -> typer.core.TyperGroup:
    """The click command tree of the whole CLI (for `run`, the tests and the docs)."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return group


def _deliver_at_once() -> None:
    """With a broker, alerts a command queues (ingest, sources run, rematch) go to the delivery queue as
    it commits; embedded, the worker's tick or `certmon notify flush` sends them, as before."""
    # the variable itself, not the settings: help pages must stay light (tests/cli/test_help.py)
    if os.environ.get("CERTMON_BROKER_URL") and not _at_once:
        from certmon.notify import soon

        _at_once.append(soon.install())


_at_once: list[object] = []  # once per process, however often `run` is called


def run(args: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI; every failure becomes a few lines on stderr and an exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        _deliver_at_once()
        status = command_tree().main(args=list(args) if args is not None else None, prog_name="certmon",
                                     standalone_mode=False)
    except SystemExit:
        raise
    except (Exception, KeyboardInterrupt) as exc:
        from certmon.cli.errors import report

        status = report(exc)
    sys.exit(status if isinstance(status, int) else 0)
