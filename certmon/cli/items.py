"""`certmon parse`, `match`, `ingest`, `advisories list`, `rematch`: items in and out."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from certmon.cli.common import db_session, ensure_schema, err, out, print_columns, read_bytes, read_text
from certmon.cli.framework import CertmonTyper, existing_path
from certmon.errors import CertmonError
from certmon.i18n import N_, _, count

if TYPE_CHECKING:
    from certmon.items.schemas import Item

advisories_app = CertmonTyper(help=N_("Security advisories."))
_BATCH = 1000  # records per write of `certmon parse`


def parse(
    file: Path = typer.Argument(..., help=N_("the file (or the folder, for a MISP feed with a manifest)"),
                                callback=existing_path),
    format: str = typer.Option("auto", "--format", "-f", metavar="FORMAT", help=N_(
        "rss, stix, kev, csaf, misp, feodo, urlhaus, threatfox, shadowserver, suricata or auto")),
    tlp: str = typer.Option("clear", "--tlp", metavar="TLP", help=N_("TLP when the source gives none")),
) -> None:
    """Parse one file offline and print normalised items as JSON Lines."""
    from certmon import plugins
    from certmon.tlp import parse_tlp

    feeds = plugins.feeds()
    from feeds.base import ParseContext

    try:
        default_tlp = parse_tlp(tlp)
    except ValueError as exc:
        raise CertmonError(f"--tlp: {exc}") from None
    ctx = ParseContext(default_tlp=default_tlp, filename=file.name)
    # The cyclic garbage collector is paused while the items are made and encoded: they hold no
    # cycles, and every collection would walk all those made so far.
    gc.disable()
    try:
        _print_items(file, format, ctx, feeds)
    finally:
        gc.enable()


def _print_items(file: Path, format: str, ctx: Any, feeds: Any) -> None:
    """Parse the file (or MISP folder) with the feed plugin and print its items as JSON Lines."""
    from certmon.items.schemas import items_to_json_lines

    if file.is_dir():
        from feeds.misp import parse_folder

        items: Iterable[Item] = parse_folder(file, ctx)
    else:
        data = read_bytes(file)
        fmt = feeds.detect_format(data, file.name) if format == "auto" else format
        if fmt not in feeds.FORMATS:
            raise CertmonError(f"ukjent format {fmt!r}; støttede: {', '.join(sorted(feeds.FORMATS))}")
        items = feeds.iter_bytes(data, fmt, ctx)
    # Encoded a batch at a time as the adapter yields them (one encode per batch, while the items are
    # fresh in the cache), and written when all are made: a parse error prints no partial output.
    # The encoded records take less memory than the items.
    chunks: list[bytes] = []
    stream = iter(items)
    while batch := list(islice(stream, _BATCH)):
        chunks.append(items_to_json_lines(batch))
    sys.stdout.buffer.writelines(chunks)


def match(
    file: Path = typer.Argument(..., help=N_("JSON Lines in the format `certmon parse` prints"),
                                callback=existing_path),
) -> None:
    """Match items against the registry in the database; print matches as JSON Lines."""
    import msgspec

    from certmon.items.schemas import item_from_dict
    from certmon.matching.service import engine_for

    lines = read_text(file).splitlines()
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(item_from_dict(msgspec.json.decode(line)))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CertmonError(f"{file}, linje {n}: {exc}") from None
    with db_session() as session:
        engine = engine_for(session)
    encoder = msgspec.json.Encoder()
    for result in engine.match_many(items):
        record = {"item_key": result.item_key, "org_number": result.org_number, "rule": result.rule,
                  "asset": result.asset, "confidence": result.confidence, "explanation": result.explanation}
        if result.status is not None:  # product matches: affected | under_investigation
            record["status"] = result.status
        sys.stdout.buffer.write(encoder.encode(record) + b"\n")


def ingest(
    file: Path = typer.Argument(..., help=N_("the payload, in the source's format"), callback=existing_path),
    source: str = typer.Option(..., "--source", metavar="NAME", help=N_("the source's name")),
) -> None:
    """Run a file through the full pipeline as if the source had served it (store, match, queue alerts)."""
    import msgspec

    from certmon import plugins
    from certmon.cli.common import session_factory
    from certmon.sources import service as sources

    feeds = plugins.feeds()
    data = read_bytes(file)
    with db_session() as session:
        source_id = sources.get_source(session, name=source).id
    report = feeds.run_source(session_factory(), source_id, documents=[feeds.Document(data, file.name)])
    out.print(msgspec.json.encode(report.__dict__).decode())
    if report.outcome != "ok":
        raise CertmonError(f"{file}: {report.error}")


def rematch() -> None:
    """Re-match every stored item against the current registry (adds new, retires stale, queues alerts)."""
    from rich.progress import Progress

    from certmon.cli.common import session_factory
    from certmon.matching.service import rematch_if_changed

    ensure_schema()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("matcher på nytt", total=None)
        run = rematch_if_changed(session_factory(), force=True, progress=lambda done, total: progress.update(
            task, completed=done, total=total))
    assert run is not None
    out.print(", ".join([count("%(num)s new match", "%(num)s new matches", len(run.new_ids)),
                         _("%(num)s updated") % {"num": run.updated},
                         _("%(num)s retired") % {"num": run.retired}]))


@advisories_app.command("list")
def advisories_list(
    limit: int = typer.Option(20, "--limit", min=1, max=500, help=N_("at most this many")),
    q: str | None = typer.Option(None, "--q", help=N_("search in title, key and text")),
) -> None:
    """List the newest advisories."""
    from certmon.items.service import list_items
    from certmon.tlp import TLP

    with db_session() as session:
        rows, total = list_items(session, kinds=("advisory",), tlp_max=TLP.RED, limit=limit, q=q)
        table = [(item.published_at.strftime("%Y-%m-%d") if item.published_at else "", item.tlp.upper(),
                  ", ".join(item.data.get("cves", [])[:3]), item.title or item.key) for item in rows]
    print_columns((_("published"), "TLP", "CVE", _("title")), table)
    out.print(_("%(shown)s of %(total)s") % {"shown": len(rows), "total": total})
