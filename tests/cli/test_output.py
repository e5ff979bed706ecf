"""What the commands print: whole source keys, times that say their zone, counts that agree in number."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from typer.testing import CliRunner

from certmon.auth.service import create_user, issue_token
from certmon.cli.main import app
from certmon.sources.models import Source

runner = CliRunner()
LONG_KEY = "nasjonal-sikkerhetsmyndighet.varsler-for-helse-og-kommunesektoren.atom"


def test_sources_list_shows_whole_keys_and_norwegian_time(sqlite_env) -> None:
    added = runner.invoke(app, ["sources", "add", LONG_KEY, "--format", "rss", "--url",
                                "https://nsm.example/feed.atom"])
    assert added.exit_code == 0, added.output
    with sqlite_env.factory.begin() as session:
        source = session.scalar(select(Source).where(Source.name == LONG_KEY))
        source.last_success_at = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 the next day in Oslo
        source.last_items = 1
    listed = runner.invoke(app, ["sources", "list"], env={"COLUMNS": "60"})
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.output.splitlines()
    assert "siste vellykte (norsk tid)" in header and header.startswith("nøkkel")
    row = next(r for r in rows if r.startswith(LONG_KEY + " "))  # the whole key, however narrow the terminal
    assert "2026-07-02 00:30" in row and "rss" in row


def test_counts_agree_in_number(sqlite_env) -> None:
    with sqlite_env.factory.begin() as session:
        one = create_user(session, email="en@test.invalid", role="analyst", password="hemmelig-passord")
        two = create_user(session, email="to@test.invalid", role="analyst", password="hemmelig-passord")
        issue_token(session, user=one)
        issue_token(session, user=two)
        issue_token(session, user=two)
    first = runner.invoke(app, ["users", "revoke-tokens", "--email", "en@test.invalid"])
    second = runner.invoke(app, ["users", "revoke-tokens", "--email", "to@test.invalid"])
    assert "1 API-nøkkel tilbakekalt for en@test.invalid" in first.output, first.output
    assert "2 API-nøkler tilbakekalt for to@test.invalid" in second.output, second.output
    created = runner.invoke(app, ["incidents", "create", "--title", "Phishing"])
    assert created.exit_code == 0, created.output
    assert "1 hendelse\n" in runner.invoke(app, ["incidents", "list"]).output
    runner.invoke(app, ["incidents", "create", "--title", "Løsepengevirus"])
    assert "2 hendelser\n" in runner.invoke(app, ["incidents", "list"]).output
