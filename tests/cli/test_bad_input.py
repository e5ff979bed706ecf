"""Every command, given wrong arguments, answers with exit status 2 and at most two lines on stderr.

The commands are enumerated from the Typer app, so a new command is covered without touching this
file; the wrong inputs are derived from each command's parameters (unknown option, extra argument,
missing argument or option, a bad whole number, a number out of range, a bad date, a bad choice, a
file that does not exist, a value given to a flag, an option without its value). They run through
`certmon.cli.main.run`, the console script's entry point; a few also through the real console script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from certmon.cli.framework import commands
from certmon.cli.main import command_tree, run

TREE = command_tree()


def _choices(param: TyperArgument | TyperOption) -> list[str]:
    desc = param.type_descriptor
    return [str(getattr(c, "value", c)) for c in desc.choices or ()] if desc.is_choice else []


def _base_type(param: TyperArgument | TyperOption) -> object:
    annotation = param.type_descriptor.annotation
    return getattr(annotation, "__args__", [annotation])[0] if param.type_descriptor.is_list else annotation


def _good(param: TyperArgument | TyperOption, existing: Path) -> str:
    """A value this parameter accepts."""
    if choices := _choices(param):
        return choices[0]
    kind = _base_type(param)
    if kind is int:
        return str(param.min if param.min is not None else 1)
    if kind is datetime:
        return "2026-03-01"
    if kind is Path:
        return str(existing)
    return "x"


def _with(param: TyperArgument | TyperOption, value: str) -> list[str]:
    return [value] if isinstance(param, TyperArgument) else [param.opts[0], value]


def _valid_args(command: TyperCommand, existing: Path, skip: object = None) -> list[str]:
    """The required parameters with good values (all but `skip`): arguments first, in order."""
    args: list[str] = []
    opts: list[str] = []
    for param in command.params:
        if param is skip or not param.required:
            continue
        assert isinstance(param, TyperArgument | TyperOption)
        (args if isinstance(param, TyperArgument) else opts).extend(_with(param, _good(param, existing)))
    return args + opts


def _bad_values(param: TyperArgument | TyperOption) -> list[tuple[str, str]]:
    """(what, value) pairs this parameter must refuse."""
    if isinstance(param, TyperOption) and param.is_flag:
        return []
    found = []
    if _choices(param):
        found.append(("bad choice", "finnes-ikke"))
    kind = _base_type(param)
    if kind is int:
        found.append(("bad whole number", "tolv"))
        if param.min is not None:
            found.append(("below the range", str(param.min - 1)))
        if param.max is not None:
            found.append(("above the range", str(param.max + 1)))
    if kind is datetime:
        found.append(("bad date", "i-går"))
    if kind is Path and param.callback is not None:  # files read by the command must exist
        found.append(("missing file", "/finnes/ikke.csv"))
    return found


def bad_inputs(existing: Path) -> list[tuple[str, list[str]]]:
    """Every wrong command line derived from the command tree, with what is wrong with it."""
    cases: list[tuple[str, list[str]]] = [("no command", []), ("unknown command", ["finnes-ikke"])]
    for name, sub in TREE.commands.items():
        if isinstance(sub, TyperGroup):
            cases += [(f"{name}: no command", [name]), (f"{name}: unknown command", [name, "finnes-ikke"])]
    for path, command in commands(TREE):
        where = " ".join(path)
        valid = _valid_args(command, existing)
        cases.append((f"{where}: unknown option", [*path, *valid, "--finnes-ikke"]))
        cases.append((f"{where}: extra argument", [*path, *valid, "overflødig"]))
        for param in command.params:
            assert isinstance(param, TyperArgument | TyperOption)
            others = _valid_args(command, existing, skip=param)
            label = param.name
            if param.required:
                cases.append((f"{where}: missing {label}", [*path, *others]))
            if isinstance(param, TyperOption) and param.is_flag and not param.secondary_opts:
                cases.append((f"{where}: {label} given a value", [*path, *others, f"{param.opts[0]}=ja"]))
            if isinstance(param, TyperOption) and not param.is_flag:
                cases.append((f"{where}: {label} without its value", [*path, *others, param.opts[0]]))
            for what, value in _bad_values(param):
                cases.append((f"{where}: {label} {what}", [*path, *others, *_with(param, value)]))
    return cases


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory (nothing may run, but if something did it would find no database)."""
    for key in [k for k in os.environ if k.startswith("CERTMON_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CERTMON_DATA_DIR", str(tmp_path / "data"))
    existing = tmp_path / "exists.csv"
    existing.write_text("org_number\n", encoding="utf-8")
    return existing


def test_every_command_answers_every_bad_input_with_two_lines_and_status_2(isolated, capsys) -> None:
    cases = bad_inputs(isolated)
    assert len(cases) > 150 and len(commands(TREE)) >= 40  # the enumeration sees the whole CLI
    wrong = []
    for what, args in cases:
        with pytest.raises(SystemExit) as exit_info:
            run(args)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        clean = (exit_info.value.code == 2 and 1 <= len(lines) <= 2 and captured.out == ""
                 and "Traceback" not in captured.err and lines[0].startswith("certmon"))
        if not clean:
            wrong.append(f"{what}: certmon {' '.join(args)} → {exit_info.value.code}\n{captured.err}")
    print(f"{len(cases) - len(wrong)} bad inputs answered cleanly of {len(cases)}")
    assert not wrong, "\n".join(wrong)


def test_the_messages_are_bokmal_and_say_what_was_wrong(isolated, capsys) -> None:
    expected = {
        ("parse",): ("certmon parse: mangler argumentet FIL", "Bruk: certmon parse [VALG] FIL"),
        ("parse", "--nope", "x"): ("certmon parse: ukjent valg --nope",),
        ("reports", "approve", "tolv"): ("ugyldig verdi for RAPPORT-ID: «tolv» er ikke et heltall",),
        ("notify", "list", "--limit", "0"): ("ugyldig verdi for --limit: «0» må være minst 1",),
        ("export", "indicators", "--since", "i går"): ("«i går» er ikke en dato eller et tidspunkt",),
        ("incidents", "create", "--title", "x", "--severity", "huge"): ("«huge» er ikke én av: low, medium,",),
        ("registry", "import", "/finnes/ikke.csv"): ("ugyldig verdi for FIL: «/finnes/ikke.csv» finnes ikke",),
        ("sourcs",): ("certmon: ukjent kommando 'sourcs' (mente du sources?)",),
        ("notify",): ("certmon notify: mangler kommando; én av: flush, list",),
        ("db", "upgrade", "nå"): ("certmon db upgrade: uventet argument: nå",),
        ("notify", "flush", "--due-only=ja"): ("valget --due-only tar ingen verdi",),
        ("incidents", "list", "--limit"): ("valget --limit HELTALL trenger en verdi",),
    }
    for args, needles in expected.items():
        with pytest.raises(SystemExit):
            run(list(args))
        err = capsys.readouterr().err
        for needle in needles:
            assert needle in err, (args, err)
        assert "(mer: certmon" in err


def test_the_console_script_itself_answers_cleanly(isolated) -> None:
    env = dict(os.environ)
    for args in (["finnes-ikke"], ["parse"], ["reports", "approve", "tolv"], ["notify", "flush", "--x"]):
        r = subprocess.run([sys.executable, "-m", "certmon.cli", *args], env=env, capture_output=True, text=True,
                           timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert lines[1].startswith("Bruk: certmon")


def test_parse_prints_nothing_when_the_file_breaks_after_some_batches(isolated, tmp_path: Path, capsys) -> None:
    """Records are encoded batch by batch as they are made, but written only once all are: a bundle
    whose 2,401st object is broken prints no record, and says where it broke."""
    objects = [{"type": "indicator", "id": f"indicator--{n}", "pattern_type": "stix",
                "pattern": f"[ipv4-addr:value = '10.0.{n // 256}.{n % 256}']"} for n in range(2500)]
    data = orjson.dumps({"type": "bundle", "id": "bundle--1", "objects": objects})
    bundle = tmp_path / "broken.json"
    bundle.write_bytes(data.replace(b'"indicator--2400"', b'"indicator--2400","name":"\xff"'))
    with pytest.raises(SystemExit) as exit_info:
        run(["parse", "--format", "stix", str(bundle)])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == ""
    assert "broken.json: not valid UTF-8 (byte" in captured.err
    bundle.write_bytes(data)
    run_ok = subprocess.run([sys.executable, "-m", "certmon.cli", "parse", "--format", "stix", str(bundle)],
                            capture_output=True, timeout=120)
    assert run_ok.returncode == 0 and run_ok.stdout.count(b"\n") == 2500
