"""`certmon serve` and `certmon setup`: run the whole product in the foreground."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any

import typer

from certmon.cli.common import err, out
from certmon.i18n import N_, _, count

if TYPE_CHECKING:
    from certmon.config import Settings


def setup() -> None:
    """Migrate, load the real registry and the source catalogue (and the demo scenario in demo mode)."""
    from certmon import plugins
    from certmon.config import get_settings
    from certmon.db import session_scope
    from certmon.dbops import upgrade
    from certmon.registry.seed import seed_registry
    from certmon.sources.service import sync_catalogue

    settings = get_settings()
    upgrade()
    with session_scope() as session:
        seeded = seed_registry(session)
        created, _updated = sync_catalogue(session, plugins.feeds().catalogue(demo=settings.demo))
    out.print(_("database ready; registry: %(organisations)s; %(sources)s") % {
        "organisations": count("%(num)s new organisation", "%(num)s new organisations", seeded.created),
        "sources": count("%(num)s new source", "%(num)s new sources", created)})
    from certmon.demo.dates import clear_marker, record_loaded

    if not settings.demo:
        clear_marker(settings.data_path)
    if settings.demo:
        from certmon.demo.load import load_demo

        record_loaded(settings.data_path)  # the CLI in another terminal sees demo mode; samples dated now
        with session_scope() as session:
            added = load_demo(session)
        loaded = ", ".join([count("%(num)s asset", "%(num)s assets", added["assets"]),
                            count("%(num)s contact", "%(num)s contacts", added["contacts"]),
                            count("%(num)s user", "%(num)s users", added["users"])])
        out.print("[bold yellow]DEMO[/]: " + _("demo scenario loaded (%(loaded)s). Mail goes to %(dir)s") % {
            "loaded": loaded, "dir": settings.mail_dir})
        if added["assets"]:
            collect_all_now()


def collect_all_now() -> None:
    """Run every enabled source once, now, and deliver the alerts that result (demo start-up)."""
    from rich.progress import Progress

    from certmon import plugins
    from certmon.db import session_factory, session_scope
    from certmon.notify.deliver import deliver_due
    from certmon.sources.service import is_push_only, list_sources

    feeds = plugins.feeds()
    with session_scope() as session:
        sources = [(s.id, s.name) for s in list_sources(session, limit=1000)[0]
                   if s.enabled and not is_push_only(s)]
    matches = 0
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("henter kilder", total=len(sources))
        for source_id, name in sources:
            progress.update(task, description=f"henter {name}")
            report = feeds.run_source(session_factory(), source_id)
            matches += report.matches_new
            if report.outcome not in ("ok", "not-modified"):
                err.print(f"{name}: {report.outcome}: {report.error}")
            progress.advance(task)
    sent = deliver_due(session_factory(), open_windows=True, limit=1000)
    out.print(", ".join([count("%(num)s source collected", "%(num)s sources collected", len(sources)),
                         count("%(num)s new match", "%(num)s new matches", matches),
                         count("%(num)s e-mail sent", "%(num)s e-mails sent", len(sent.sent))]))
    # reports: a draft situation report for the current ISO week, so /rapporter shows one at once
    from certmon.reports.service import create_current_week_draft

    with session_scope() as session:
        report = create_current_week_draft(session, actor="demo")
        out.print(f"utkast til situasjonsbilde: {report.title} (rapport {report.id})")


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM if this process dies without cleaning up (e.g. killed)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: where to listen, and whose X-Forwarded-For to believe. The client address counts
    for the sign-in limits and the operations allow-list, so only CERTMON_TRUSTED_PROXIES may set it."""
    options = {"host": settings.host, "port": settings.port, "log_level": settings.log_level.lower(),
               "proxy_headers": bool(settings.trusted_proxies), "forwarded_allow_ips": settings.trusted_proxies or None}
    if settings.web_workers > 1:  # processes, each with its own event loop (CERTMON_WEB_WORKERS)
        options["workers"] = settings.web_workers
    return options


def serve(
    worker: bool = typer.Option(True, "--worker/--no-worker", help=N_("start a Celery worker with the scheduler")),
    init: bool = typer.Option(True, "--setup/--no-setup", help=N_("migrate and load the registry and sources first")),
) -> None:
    """Serve API + dashboard on CERTMON_HOST:CERTMON_PORT with a worker and the scheduler; Ctrl-C stops all."""
    import uvicorn

    from certmon import plugins
    from certmon.config import get_settings

    settings = get_settings()
    if init:
        setup()
    child = None
    if worker:
        argv = plugins.require("workers").worker_command(settings)
        child = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent)
        out.print(f"worker og planlegger startet (pid {child.pid})")
    out.print(f"certmon kjører på [bold]http://{settings.host}:{settings.port}/[/] — Ctrl-C stopper alt")
    if settings.demo:
        out.print("[bold yellow]DEMO[/]: logg inn som analytiker@demo.invalid med passordet «demo» "
                  "(Min side for Bergen kommune: kommune@demo.invalid)")
    try:
        uvicorn.run("certmon.api.app:create_app", factory=True, **server_options(settings))
    finally:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            while child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            if child.poll() is None:
                err.print("worker stoppet ikke innen 15 s; avslutter den")
                child.kill()
        out.print("certmon er stoppet")
