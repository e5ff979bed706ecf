"""The CLI's own coercion of plain parameters gives what Typer's would, and keeps Pydantic out of a plain command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from certmon.cli.framework import _plain, _PlainRuntimeParam, commands
from certmon.cli.main import command_tree

TREE = command_tree()


def _plain_params() -> list[tuple[str, Any, Any]]:
    found = []
    for path, command in commands(TREE):
        ctx = Context(command, info_name=path[-1])
        for param in command.get_params(ctx):
            if _plain(param):
                found.append((" ".join(path) + " " + str(param.name), command, param))
    return found


PLAIN = _plain_params()


def _outcome(runtime: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        return "value", runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()


def test_most_parameters_are_plain() -> None:
    """The check below sees the command tree (str, Path and bool parameters across the commands)."""
    kinds = {param.type_descriptor.annotation for _, _, param in PLAIN}
    assert kinds == {str, Path, bool}
    assert len(PLAIN) > 50


@pytest.mark.parametrize(("name", "command", "param"), PLAIN, ids=[name for name, _, _ in PLAIN])
def test_plain_coercion_equals_typers(name: str, command: Any, param: Any, tmp_path: Path) -> None:
    """For each plain parameter, the same value or the same error as Typer's Pydantic-based coercion."""
    ctx = Context(command, info_name=name)
    desc = param.type_descriptor
    ours = _PlainRuntimeParam(parameter_info=desc.parameter_info, annotation=desc.annotation)
    typers = build_runtime_param(desc)
    existing = tmp_path / "file.json"
    existing.write_text("{}")
    values: list[Any] = [None, "", "x", " a b ", "-", "æøå", str(existing), str(tmp_path), str(tmp_path / "missing"),
                         True, False, "true", "0", "yes"]
    for value in values:
        expected = _outcome(typers, value, param, ctx)
        got = _outcome(ours, value, param, ctx)
        assert got == expected, f"{name}: {value!r}"
        assert type(got[1]) is type(expected[1]), f"{name}: {value!r}"


def test_a_plain_command_does_not_import_pydantic(tmp_path: Path) -> None:
    """`certmon parse` of a small file starts quickly: no Pydantic (about a third of its start-up)."""
    feed = tmp_path / "one.json"
    feed.write_text('{"type": "bundle", "id": "bundle--1", "objects": []}')
    code = ("import sys\nfrom certmon.cli.main import run\n"
            "try:\n"
            f"    run(['parse', '--format', 'stix', {str(feed)!r}])\n"
            "except SystemExit as exc:\n"
            "    print(exc.code, 'pydantic' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "0 False"
