"""The `certmon` console script: every command has --help; errors are one line, exit status 2."""

from __future__ import annotations

import importlib
import logging
import sys

import click
import pydantic
import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from certmon.cli import db, items, registry, serve, sources, users
from certmon.errors import CertmonError, ValidationFailed

app = typer.Typer(name="certmon", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="certmon – trusselinformasjon, treff og varsler for Helse- og KommuneCERT.")
app.add_typer(db.app, name="db")
app.add_typer(registry.app, name="registry")
app.add_typer(registry.assets_app, name="assets")
app.add_typer(sources.app, name="sources")
app.add_typer(items.advisories_app, name="advisories")
app.add_typer(users.app, name="users")
app.command("parse")(items.parse)
app.command("match")(items.match)
app.command("ingest")(items.ingest)
app.command("rematch")(items.rematch)
app.command("serve")(serve.serve)
app.command("setup")(serve.setup)

for _name in ("contacts", "notify", "reports", "incidents", "export"):  # added by the alerts part when present
    try:
        _module = importlib.import_module(f"certmon.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"certmon.cli.{_name}":
            raise
    else:
        app.add_typer(_module.app, name=_name)


def _fail(message: str, problems: list[str] | None = None) -> None:
    print(f"certmon: {message}", file=sys.stderr)
    for problem in problems or []:
        print(f"  {problem}", file=sys.stderr)
    sys.exit(2)


def run() -> None:
    """Entry point: run the CLI, turning every expected error into one line on stderr and exit 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=False)
    except ValidationFailed as exc:
        _fail(exc.message, exc.problems)
    except pydantic.ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'verdi'}: {e['msg']}" for e in exc.errors()]
        _fail("ugyldig verdi", problems)
    except CertmonError as exc:
        _fail(exc.message)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail("avbrutt")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except OperationalError as exc:
        _fail(f"kan ikke bruke databasen: {str(exc.orig).splitlines()[0] if exc.orig else exc}")
    except SQLAlchemyError as exc:
        _fail(f"databasefeil: {str(exc).splitlines()[0]}")
    except KeyboardInterrupt:
        _fail("avbrutt")
