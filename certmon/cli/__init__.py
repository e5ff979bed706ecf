"""The `certmon` command line (Typer)."""
