"""`certmon incidents …` through typer's CliRunner on the configured SQLite database."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from certmon.cli.main import app
from certmon.errors import CertmonError, NotFound, ValidationFailed

runner = CliRunner()


class Run:
    """A CliRunner result with the output's whitespace collapsed (rich expands tabs)."""

    def __init__(self, args: tuple[str, ...]) -> None:
        result = runner.invoke(app, ["incidents", *args])
        self.exit_code, self.exception = result.exit_code, result.exception
        self.output = re.sub(r"[ \t]+", " ", result.output)


def cli(*args: str) -> Run:
    return Run(args)


def test_create_list_show_note_report_and_close(sqlite_env):
    r = cli("create", "--title", "Dataangrep mot Bergen kommune", "--severity", "high",
            "--aware-at", "2026-03-28T10:00", "--model", "norsk", "--personal-data", "--org", "964338531")
    assert r.exit_code == 0, r.output
    ref = re.search(r"(HKH-\d{4}-\d{6}) opprettet", r.output).group(1)  # type: ignore[union-attr]
    # aware 10:00 CET the day before spring forward: NSM 24 t falls due 11:00 CEST
    assert "nsm-24h NSM 24 t 29.03.2026 11:00 oversittet" in r.output
    assert "datatilsynet-72h" in r.output

    listed = cli("list", "--status", "active")
    assert listed.exit_code == 0 and ref in listed.output and "1 hendelse\n" in listed.output
    assert "HOD straks: oversittet" in listed.output

    assert cli("note", ref, "Ringte IT-sjefen").exit_code == 0
    assert cli("measure", ref.lower(), "Isolerte filserveren").exit_code == 0
    sent = cli("report-sent", ref, "--deadline", "nsm-24h", "--text", "Sendt til NSM NorCERT")
    assert sent.exit_code == 0 and "NSM 24 t: sendt etter fristen" in sent.output

    shown = cli("show", ref)
    assert shown.exit_code == 0, shown.output
    assert "berørt: 964338531 Bergen kommune" in shown.output
    assert "nsm-24h NSM 24 t 29.03.2026 11:00 sendt for sent" in shown.output
    assert "note cli Ringte IT-sjefen" in shown.output and "measure cli Isolerte filserveren" in shown.output

    assert cli("close", ref).exit_code == 0
    assert "0 hendelser" in cli("list", "--status", "active").output
    assert ref in cli("list", "--status", "closed").output


def test_recent_incident_shows_a_countdown(sqlite_env):
    r = cli("create", "--title", "Phishing", "--model", "nis2")
    assert r.exit_code == 0, r.output
    assert re.search(r"nis2-24h Tidlig varsel 24 t .* forfaller om 2[34] t \d+ min", r.output)
    assert "nis2-1m" in r.output


def test_errors_are_certmon_errors_with_a_message(sqlite_env):
    r = cli("create", "--title", "x", "--severity", "huge")  # a usage error (the choices are declared)
    assert r.exit_code == 2 and "--severity" in r.output
    r = cli("create", "--title", "x", "--org", "123456789")
    assert isinstance(r.exception, CertmonError) and "123456789" in r.exception.message
    r = cli("create", "--title", "x", "--aware-at", "i går")
    assert r.exit_code == 2 and "ISO 8601" in r.output
    assert isinstance(cli("show", "HKH-2026-424242").exception, NotFound)
    ref = re.search(r"(HKH-\d{4}-\d{6})", cli("create", "--title", "y").output).group(1)  # type: ignore[union-attr]
    r = cli("report-sent", ref, "--deadline", "nis2-24h")
    assert isinstance(r.exception, ValidationFailed) and "nsm-24h" in r.exception.message
