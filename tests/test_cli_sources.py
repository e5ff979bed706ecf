"""`certmon sources set/add` in process (the subprocess CLI tests cover error formatting)."""

from sqlalchemy import select
from typer.testing import CliRunner

from certmon.cli.main import app
from certmon.sources.models import Source


def test_sources_set_changes_only_what_is_given(sqlite_env):
    runner = CliRunner()
    added = runner.invoke(app, ["sources", "add", "partner", "--format", "rss", "--url", "https://x.example/f.xml",
                                "--interval", "900"])
    assert added.exit_code == 0, added.output
    disabled = runner.invoke(app, ["sources", "set", "partner", "--disabled"])
    assert disabled.exit_code == 0, disabled.output
    with sqlite_env.factory() as session:
        source = session.scalar(select(Source).where(Source.name == "partner"))
        assert (source.enabled, source.url, source.interval_s) == (False, "https://x.example/f.xml", 900)
    nothing = runner.invoke(app, ["sources", "set", "partner"])
    assert nothing.exit_code != 0
