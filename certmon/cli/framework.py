"""The certmon flavour of Typer: help pages and usage lines in bokmål, through the translation layer.

Typer renders help with its own English words ("Usage:", "Options", "Show this message and exit.")
and type markers (`<bool>`, `<str>`), and its copy of click words usage errors in English. Here the
help page is written from the command tree instead, every word through `certmon.i18n` (command and
option help texts are English message ids like the rest of the product), and the usage errors this
module raises itself (unknown command, missing command, extra arguments) are worded in bokmål;
`certmon.cli.usage` words the ones Typer raises. Imports nothing heavy: `certmon --help` must be quick.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast, get_args, get_origin

import typer
from typer._click import Context as ClickContext  # Typer's own copy of click (typer >= 0.20)
from typer._click.exceptions import UsageError
from typer._coercion import RuntimeParam, build_runtime_param
from typer._param_types import coerce_cli_path
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from certmon.i18n import N_, _, gettext_for

# the type names shown for an option's value (English ids, bokmål in the catalogue)
TYPE_METAVARS: tuple[tuple[type, str], ...] = (
    (bool, N_("yes|no")), (int, N_("INTEGER")), (float, N_("NUMBER")), (datetime, N_("DATETIME")), (Path, N_("PATH")),
)


class CertmonUsageError(UsageError):
    """A usage error whose message is already worded in bokmål."""


class CertmonBadParameter(typer.BadParameter):
    """A bad value, the problem already worded in bokmål (raised by the parameter callbacks here)."""


def existing_path(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
    """Parameter callback: the file or folder must exist (a usage error otherwise, before any work)."""
    if value is not None and not ctx.resilient_parsing and not value.exists():
        problem = _("%(path)s does not exist") % {"path": f"«{value}»"}
        raise CertmonBadParameter(problem, ctx=ctx, param=cast(Any, param))
    return value


def translate(text: str | None) -> str:
    """A help text in bokmål: each paragraph, whitespace normalised, looked up in the catalogue."""
    paragraphs = inspect.cleandoc(text or "").partition("\f")[0].split("\n\n")
    return "\n\n".join(gettext_for()(" ".join(p.split())) for p in paragraphs if p.strip())


def _choices(param: TyperArgument | TyperOption) -> tuple[str, ...]:
    desc = param.type_descriptor
    return tuple(str(getattr(c, "value", c)) for c in desc.choices or ()) if desc.is_choice else ()


def value_metavar(param: TyperArgument | TyperOption) -> str:
    """What a parameter's value looks like: its metavar, its choices, or its type (translated)."""
    if param.metavar:
        return _(param.metavar)
    if choices := _choices(param):
        return "[" + "|".join(choices) + "]"
    if isinstance(param, TyperArgument):
        return _((param.name or "value").upper())
    annotation = param.type_descriptor.annotation
    if get_origin(annotation) is list:  # a repeatable option: the type of one value
        annotation = get_args(annotation)[0]
    for kind, name in TYPE_METAVARS:
        if isinstance(annotation, type) and issubclass(annotation, kind):
            return _("FILE") if kind is Path and param.type_descriptor.path_type == "file" else _(name)
    return _("TEXT")


def param_label(param: TyperArgument | TyperOption) -> str:
    """How an error names a parameter: an argument by its metavar, an option by its longest name."""
    if isinstance(param, TyperArgument):
        return value_metavar(param)
    return max(param.opts, key=len) if param.opts else (param.name or "")


def _is_flag(param: TyperArgument | TyperOption) -> bool:
    return isinstance(param, TyperOption) and param.is_flag


def _usage_pieces(command: TyperCommand | TyperGroup, ctx: ClickContext) -> list[str]:
    pieces = [_("[OPTIONS]")]
    for param in command.params:
        if isinstance(param, TyperArgument):
            piece = value_metavar(param) + ("..." if param.nargs == -1 else "")
            pieces.append(piece if param.required else f"[{piece}]")
    if isinstance(command, TyperGroup):
        pieces.append(_("COMMAND [ARGS]..."))
    return pieces


def usage_line(ctx: ClickContext) -> str:
    """`Bruk: certmon parse [VALG] FIL`, on one line."""
    command = ctx.command
    assert isinstance(command, TyperCommand | TyperGroup)
    return " ".join([_("Usage:"), ctx.command_path, *_usage_pieces(command, ctx)])


def _default_text(param: TyperArgument | TyperOption, ctx: ClickContext) -> str:
    if param.show_default is False or param.required:
        return ""
    if isinstance(param.show_default, str):
        return param.show_default
    default = param.default  # as declared: reading it through Typer would load pydantic
    if isinstance(param, TyperOption) and param.is_flag:
        if not param.secondary_opts or default is None:
            return ""
        return (param.opts if default else param.secondary_opts)[0]
    if default is None or default == "" or default == [] or default == () or callable(default):
        return ""
    return str(getattr(default, "value", default))


def _param_record(param: TyperArgument | TyperOption, ctx: ClickContext) -> tuple[str, str]:
    if isinstance(param, TyperArgument):
        name = value_metavar(param)
    else:
        names = ", ".join(sorted(param.opts, key=len))
        if param.secondary_opts:
            names += " / " + ", ".join(param.secondary_opts)
        name = names if _is_flag(param) else f"{names} {value_metavar(param)}"
    extra = []
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None or high is not None:
        extra.append(f"{'' if low is None else low}–{'' if high is None else high}")
    if isinstance(param, TyperOption) and param.multiple:
        extra.append(_("may be repeated"))
    if default := _default_text(param, ctx):
        extra.append(_("default: %(value)s") % {"value": default})
    if param.required:
        extra.append(_("required"))
    text = translate(param.help)
    return name, f"{text}  [{'; '.join(extra)}]".strip() if extra else text


def write_help(command: TyperCommand | TyperGroup, ctx: ClickContext, formatter: Any) -> None:
    """The whole help page: usage, description, arguments, options, commands."""
    formatter.write(usage_line(ctx) + "\n")
    if command.help:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(translate(command.help))
    params = [p for p in command.get_params(ctx) if isinstance(p, TyperArgument | TyperOption)
              and not getattr(p, "hidden", False)]
    for title, kind in ((_("Arguments"), TyperArgument), (_("Options"), TyperOption)):
        rows = [_param_record(p, ctx) for p in params if isinstance(p, kind)]
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)
    if isinstance(command, TyperGroup):
        rows = [(name, translate(sub.help).split("\n\n")[0]) for name, sub in command.commands.items()
                if not sub.hidden]
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)


@contextmanager
def _in_context(ctx: ClickContext) -> Iterator[None]:
    """Give a usage error raised by the option parser (which knows no context) the command's context."""
    try:
        yield
    except UsageError as exc:
        if exc.ctx is None:
            exc.ctx, exc.cmd = ctx, ctx.command
        raise


@dataclass(frozen=True)
class _PlainRuntimeParam(RuntimeParam):
    """Typer's coercion of a plain `str`, `Path` or `bool` parameter, without Pydantic.

    Typer builds a Pydantic TypeAdapter for every parameter of the command it runs, and importing
    Pydantic is about a third of a short command's start-up (`certmon parse` of a small file). A
    string value becomes what Typer makes of it: the same string, or a `Path` checked by Typer's own
    path checks; a flag's bool stays; any other value (a flag's text from an environment variable)
    goes to Typer's coercion. tests/cli/test_framework.py holds this to Typer's result for every
    such parameter of the command tree.
    """

    def _coerce_value(self, value: Any, param: Any, ctx: ClickContext) -> Any:
        kind = type(value)
        if kind is str and self.annotation is str:
            return value
        if kind is str and self.annotation is Path:
            return coerce_cli_path(Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx)
        if kind is bool and self.annotation is bool:
            return value
        return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)


def _plain(param: Any) -> bool:
    """A parameter `_PlainRuntimeParam` coerces: one `str`, `Path` or `bool` value; no parser, choices or click type."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None or desc.annotation not in (str, Path, bool) or desc.is_choice or desc.is_file:
        return False
    info = desc.parameter_info
    return (info.parser is None and getattr(info, "click_type", None) is None and info.path_type is None
            and not getattr(param, "multiple", False) and param.nargs == 1)


def plain_runtime_params(command: TyperCommand | TyperGroup, ctx: ClickContext) -> None:
    """Give the command's plain parameters `_PlainRuntimeParam` (before Typer builds its own), the
    help option too."""
    for param in command.get_params(ctx):
        if getattr(param, "_runtime_param", False) is None and _plain(param):
            desc = param.type_descriptor  # type: ignore[attr-defined]
            param._runtime_param = _PlainRuntimeParam(  # type: ignore[attr-defined]
                parameter_info=desc.parameter_info, annotation=desc.annotation)


class CertmonCommand(TyperCommand):
    """A command whose help page and usage errors speak bokmål."""

    def format_help(self, ctx: ClickContext, formatter: Any) -> None:
        write_help(self, ctx, formatter)

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        plain_runtime_params(self, ctx)
        allowed, ctx.allow_extra_args = ctx.allow_extra_args, True  # we word the error ourselves
        try:
            with _in_context(ctx):
                rest = super().parse_args(ctx, args)
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            raise CertmonUsageError(_("unexpected argument: %(args)s") % {"args": " ".join(rest)}, ctx)
        return rest


class CertmonGroup(TyperGroup):
    """A command group: help in bokmål; an unknown or missing subcommand is a two-line usage error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["no_args_is_help"] = False  # a bare group is a usage error (two lines), not a help page
        super().__init__(*args, **kwargs)

    def format_help(self, ctx: ClickContext, formatter: Any) -> None:
        write_help(self, ctx, formatter)

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            names = [n for n, c in self.commands.items() if not c.hidden]
            message = _("missing command")
            if ctx.parent is not None and names:
                message = _("missing command; one of: %(names)s") % {"names": ", ".join(names)}
            raise CertmonUsageError(message, ctx)
        plain_runtime_params(self, ctx)
        with _in_context(ctx):
            return super().parse_args(ctx, args)

    def resolve_command(self, ctx: ClickContext, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None and not ctx.resilient_parsing:
            close = difflib.get_close_matches(name, [n for n, c in self.commands.items() if not c.hidden])
            message = _("unknown command %(name)s") % {"name": repr(name)}
            if close:
                message += " " + _("(did you mean %(names)s?)") % {"names": ", ".join(close)}
            raise CertmonUsageError(message, ctx)
        return name, command, args[1:]


class CertmonTyper(typer.Typer):
    """`typer.Typer` with certmon's defaults: bokmål help, no completion, no pretty tracebacks."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", CertmonGroup)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None,  # type: ignore[override]
                **kwargs: Any) -> Any:
        """Register a command (a `CertmonCommand` unless told otherwise)."""
        return super().command(name, cls=cls or CertmonCommand, **kwargs)


def commands(group: TyperGroup, path: Sequence[str] = ()) -> list[tuple[tuple[str, ...], TyperCommand]]:
    """Every command under a group, depth first, with its path of names (for tests and docs)."""
    found: list[tuple[tuple[str, ...], TyperCommand]] = []
    for name, sub in group.commands.items():
        if isinstance(sub, TyperGroup):
            found.extend(commands(sub, (*path, name)))
        elif isinstance(sub, TyperCommand):
            found.append(((*path, name), sub))
    return found
