"""`certmon sources …`: list, add, run, replay and sync the source catalogue."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer

from certmon.cli.common import db_session, oslo_time, out, print_columns, session_factory
from certmon.cli.framework import CertmonTyper
from certmon.errors import CertmonError
from certmon.i18n import N_, _, count

app = CertmonTyper(help=N_("Sources (feeds): list, add, run now, replay."))
WEEK = 7 * 86400


@app.command("list")
def sources_list() -> None:
    """List sources with their health; times are Norwegian time (Europe/Oslo)."""
    from certmon.sources import service

    with db_session() as session:
        rows, _total = service.list_sources(session, limit=1000)
        table = []
        for s in rows:
            status = "ok" if s.healthy else _("failing (%(num)s)") % {"num": s.consecutive_failures}
            error = "" if s.healthy else (s.last_error or "").strip().split("\n")[0]
            table.append((s.name, s.format, _("yes") if s.enabled else _("no"), status,
                          oslo_time(s.last_success_at, never=_("never")), str(s.last_items), error))
    print_columns((_("key"), "format", _("enabled"), "status", _("last success (Norwegian time)"), _("items"),
                   _("error")), table)


@app.command("add")
def sources_add(
    name: str = typer.Argument(..., metavar="NAME", help=N_("the source's key: lower case, digits, . _ -")),
    format: str = typer.Option(..., "--format", metavar="FORMAT", help=N_("rss, stix, kev, csaf, misp, …")),
    url: str = typer.Option(..., "--url", metavar="URL", help=N_("where the feed is fetched from")),
    tlp: str = typer.Option("clear", "--tlp", metavar="TLP", help=N_("TLP when the source gives none")),
    interval: int = typer.Option(3600, "--interval", min=60, max=WEEK, help=N_("seconds between runs")),
    internal: bool = typer.Option(False, "--internal", help=N_("the source may reach internal addresses")),
) -> None:
    """Add a source."""
    from certmon import plugins
    from certmon.sources import service
    from certmon.sources.schemas import SourceCreate

    service.validate_format(format, plugins.feeds().FORMATS)
    data = SourceCreate(name=name, format=format, url=url, default_tlp=tlp, interval_s=interval,
                        internal=internal, title=name)
    with db_session() as session:
        service.create_source(session, data, actor="cli")
    out.print(_("source %(name)s added") % {"name": name}, markup=False)


@app.command("set")
def sources_set(
    name: str = typer.Argument(..., metavar="NAME", help=N_("the source's key")),
    enabled: bool | None = typer.Option(None, "--enabled/--disabled", help=N_("run the source, or not")),
    interval: int | None = typer.Option(None, "--interval", min=60, max=WEEK, help=N_("seconds between runs")),
    url: str | None = typer.Option(None, "--url", metavar="URL", help=N_("where the feed is fetched from")),
    tlp: str | None = typer.Option(None, "--tlp", metavar="TLP", help=N_("TLP when the source gives none")),
) -> None:
    """Change a source: enable/disable, interval, URL, default TLP."""
    from certmon.sources import service
    from certmon.sources.schemas import SourceUpdate

    given = {"enabled": enabled, "interval_s": interval, "url": url, "default_tlp": tlp}
    changes = SourceUpdate.model_validate({k: v for k, v in given.items() if v is not None})
    if not changes.model_fields_set:
        raise CertmonError(_("nothing to change; see `certmon sources set --help`"))
    with db_session() as session:
        source = service.get_source(session, name=name)
        service.update_source(session, source, changes, actor="cli")
    out.print(_("source %(name)s changed") % {"name": name}, markup=False)


def _print_report(report: object) -> None:
    data = asdict(report)  # type: ignore[call-overload]
    out.print(json.dumps(data, ensure_ascii=False), markup=False)
    if data["outcome"] not in ("ok", "not-modified"):
        raise CertmonError(f"kilden {data['source']} feilet ({data['outcome']}): {data['error']}")


@app.command("run")
def sources_run(name: str = typer.Argument(..., metavar="NAME", help=N_("the source's key"))) -> None:
    """Collect a source now (in this process) and print what was stored."""
    from certmon import plugins
    from certmon.sources import service

    with db_session() as session:
        source_id = service.get_source(session, name=name).id
    _print_report(plugins.feeds().run_source(session_factory(), source_id))


@app.command("replay")
def sources_replay(name: str = typer.Argument(..., metavar="NAME", help=N_("the source's key"))) -> None:
    """Run the last stored payload of a source through parsing, storage and matching again."""
    from certmon import plugins
    from certmon.sources import service

    feeds = plugins.feeds()
    with db_session() as session:
        source = service.get_source(session, name=name)
        docs = [feeds.Document(service.payload_bytes(p), url=p.url, content_type=p.content_type)
                for p in service.latest_payloads(session, source)]
        source_id = source.id
    _print_report(feeds.run_source(session_factory(), source_id, documents=docs))


@app.command("sync")
def sources_sync() -> None:
    """Create or refresh the catalogue sources from feeds/sources.yaml (demo mode: bundled samples)."""
    from certmon import plugins
    from certmon.config import get_settings
    from certmon.sources import service

    entries = plugins.feeds().catalogue(demo=get_settings().demo)
    with db_session() as session:
        created, updated = service.sync_catalogue(session, entries)
    out.print(_("source catalogue: %(parts)s") % {"parts": ", ".join([
        count("%(num)s new source", "%(num)s new sources", created),
        count("%(num)s field updated", "%(num)s fields updated", updated)])})


feeders_app = CertmonTyper(help=N_("Feeder accounts that may push items to a source."))
app.add_typer(feeders_app, name="feeders")


def _feeder_email() -> str:
    return typer.Option(..., "--email", metavar="EMAIL", help=N_("the feeder account's e-mail address"))  # type: ignore[no-any-return]


@feeders_app.command("list")
def feeders_list(name: str = typer.Argument(..., metavar="NAME", help=N_("the source's key"))) -> None:
    """List the feeder accounts that may push items to a source."""
    from certmon.sources import feeders, service

    with db_session() as session:
        rows = feeders.list_feeders(session, source=service.get_source(session, name=name))
        table = [(u.email, u.name, _("yes") if u.active else _("no")) for u in rows]
    if not table:
        out.print(_("no feeder account may push to %(name)s (analysts and admins always may)") % {"name": name},
                  markup=False)
        return
    print_columns((_("e-mail"), _("name"), _("active")), table)


@feeders_app.command("add")
def feeders_add(name: str = typer.Argument(..., metavar="NAME", help=N_("the source's key")),
                email: str = _feeder_email()) -> None:
    """Let a feeder account push items to a source (POST /api/v1/sources/NAME/items)."""
    from certmon.sources import feeders, service

    with db_session() as session:
        user = feeders.grant_feeder(session, source=service.get_source(session, name=name), email=email, actor="cli")
        address = user.email
    out.print(_("%(email)s may push items to %(name)s") % {"email": address, "name": name}, markup=False)


@feeders_app.command("remove")
def feeders_remove(name: str = typer.Argument(..., metavar="NAME", help=N_("the source's key")),
                   email: str = _feeder_email()) -> None:
    """Take a feeder account's access to a source away."""
    from certmon.sources import feeders, service

    with db_session() as session:
        feeders.revoke_feeder(session, source=service.get_source(session, name=name), email=email, actor="cli")
    out.print(_("%(email)s may no longer push items to %(name)s") % {"email": email, "name": name}, markup=False)
