"""`python -m certmon.cli` runs the console script."""

from certmon.cli.main import run

run()
