"""How the console script reports failure, in bokmål, never with a traceback.

Exit status: 0 done; 2 a usage error (two lines: what was wrong, then the usage line) or input or an
operation certmon refused (one line, plus one line per bad row or field); 1 an unexpected internal
error (one line; the traceback only with CERTMON_LOG_LEVEL=DEBUG); 130 interrupted.

Usage errors come from Typer's own copy of click (`typer._click`); click itself (installed for Celery
and uvicorn) is recognised too when something has loaded it. They are worded from the exception's
fields (parameter, option name, the pydantic error behind a bad value), never from its English text.
Heavy libraries are looked up in `sys.modules` only: an error from one was raised after it was loaded.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping
from typing import Any

import typer
from typer._click import exceptions as typer_click

from certmon.cli.framework import CertmonBadParameter, CertmonUsageError, param_label, usage_line, value_metavar
from certmon.errors import CertmonError, ValidationFailed
from certmon.i18n import N_, _

USAGE, INTERNAL, INTERRUPTED = 2, 1, 130
# pydantic error types → bokmål (English ids); placeholders: value, and the error's own context
PROBLEMS = {
    "int_parsing": N_("%(value)s is not a whole number"), "int_from_float": N_("%(value)s is not a whole number"),
    "int_type": N_("%(value)s is not a whole number"), "float_parsing": N_("%(value)s is not a number"),
    "bool_parsing": N_("%(value)s is not yes or no"), "greater_than_equal": N_("%(value)s must be at least %(ge)s"),
    "greater_than": N_("%(value)s must be greater than %(gt)s"),
    "less_than_equal": N_("%(value)s must be at most %(le)s"),
    "less_than": N_("%(value)s must be less than %(lt)s"), "missing": N_("is required"),
    "string_too_short": N_("must have at least %(min_length)s characters"),
    "string_too_long": N_("may have at most %(max_length)s characters"),
    "url_parsing": N_("%(value)s is not a valid URL"), "url_scheme": N_("%(value)s is not a valid URL"),
    "url_type": N_("%(value)s is not a valid URL"), "literal_error": N_("%(value)s is not one of: %(expected)s"),
    "enum": N_("%(value)s is not one of: %(expected)s"), "extra_forbidden": N_("is not a known field"),
    "string_pattern_mismatch": N_("%(value)s does not have the expected form"),
}
WHEN = N_("%(value)s is not a date or time (ISO 8601, e.g. 2026-03-01 or 2026-03-01T10:00)")


def _classes(name: str) -> tuple[type[BaseException], ...]:
    """The exception class `name` from Typer's click, and from click itself if it is loaded."""
    found: list[type[BaseException]] = [getattr(typer_click, name)]
    click = sys.modules.get("click.exceptions")
    if click is not None and hasattr(click, name):
        found.append(getattr(click, name))
    return tuple(found)


def _loaded(module: str, name: str) -> type[BaseException] | tuple[()]:
    """An exception class from an already-loaded module, or an empty tuple (isinstance is then False)."""
    mod = sys.modules.get(module)
    return getattr(mod, name, ()) if mod is not None else ()


def _value(value: Any) -> str:
    return f"«{value}»"


def describe_problem(error: Mapping[str, Any], choices: tuple[str, ...] = ()) -> str:
    """One pydantic error (a dict from `ValidationError.errors()`) in bokmål."""
    kind, ctx = str(error.get("type", "")), dict(error.get("ctx") or {})
    fields = {"value": _value(error.get("input", "")), **{k: str(v) for k, v in ctx.items()}}
    if choices and kind in ("value_error", "literal_error", "enum"):
        return _("%(value)s is not one of: %(expected)s") % {**fields, "expected": ", ".join(choices)}
    if kind == "value_error" and ctx.get("error"):
        return str(ctx["error"])  # our own validators word their messages
    if kind in PROBLEMS:
        return _(PROBLEMS[kind]) % fields
    if kind.startswith(("datetime", "date", "time")):
        return _(WHEN) % fields
    return _("%(value)s is not valid") % fields


def _choices_of(param: Any) -> tuple[str, ...]:
    desc = getattr(param, "type_descriptor", None)
    if desc is None or not desc.is_choice:
        return ()
    return tuple(str(getattr(c, "value", c)) for c in desc.choices or ())


def _bad_parameter(exc: Any) -> str:
    param, cause = getattr(exc, "param", None), exc.__cause__
    label = param_label(param) if param is not None and hasattr(param, "type_descriptor") else _("value")
    errors = getattr(cause, "errors", None)
    if callable(errors) and errors():
        problem = describe_problem(errors()[0], _choices_of(param))
    elif isinstance(exc, CertmonBadParameter):
        problem = exc.message
    else:
        problem = _("not valid")
    return _("invalid value for %(param)s: %(problem)s") % {"param": label, "problem": problem}


def _option(ctx: Any, name: str) -> Any:
    for param in getattr(getattr(ctx, "command", None), "params", []):
        if name in getattr(param, "opts", ()) or name in getattr(param, "secondary_opts", ()):
            return param
    return None


def usage_message(exc: BaseException) -> str:
    """What was wrong with the command line, in one bokmål sentence."""
    if isinstance(exc, CertmonUsageError):
        return exc.message
    if isinstance(exc, _classes("NoSuchOption")):
        message = _("unknown option %(option)s") % {"option": exc.option_name}  # type: ignore[attr-defined]
        close = sorted(getattr(exc, "possibilities", None) or [])
        if close:
            message += " " + _("(did you mean %(names)s?)") % {"names": ", ".join(close)}
        return message
    if isinstance(exc, _classes("MissingParameter")):
        param = getattr(exc, "param", None)
        if param is not None and getattr(param, "param_type_name", "") == "argument":
            return _("missing argument %(name)s") % {"name": param_label(param) if hasattr(
                param, "type_descriptor") else param.name.upper()}
        return _("missing option %(name)s") % {"name": param_label(param) if param is not None else ""}
    if isinstance(exc, _classes("BadParameter")):
        return _bad_parameter(exc)
    if isinstance(exc, _classes("BadOptionUsage")):
        name = getattr(exc, "option_name", "")
        param = _option(getattr(exc, "ctx", None), name)
        if param is not None and getattr(param, "is_flag", False):
            return _("option %(name)s takes no value") % {"name": name}
        metavar = f" {value_metavar(param)}" if param is not None and hasattr(param, "type_descriptor") else ""
        return _("option %(name)s needs a value") % {"name": f"{name}{metavar}"}
    return _("the command line is not valid")


def usage_lines(exc: BaseException) -> list[str]:
    """Two lines: the command and what was wrong, then its usage line and where to read more."""
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "certmon"
    try:
        usage = usage_line(ctx) if ctx is not None else _("Usage:") + " certmon …"
    except (AssertionError, AttributeError):  # a context from click itself, not one of ours
        usage = _("Usage:") + f" {path} …"
    more = _("more: %(command)s --help") % {"command": path}
    return [f"{path}: {usage_message(exc)}", f"{usage}   ({more})"]


def _database_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    first = (str(orig) if orig else str(exc)).strip().splitlines()
    text = first[0] if first else type(exc).__name__
    if isinstance(exc, _loaded("sqlalchemy.exc", "OperationalError")):
        return _("cannot use the database: %(reason)s") % {"reason": text}
    return _("database error: %(reason)s") % {"reason": text}


def report(exc: BaseException) -> int:
    """Print what went wrong on stderr and return the exit status."""
    lines: list[str]
    status = USAGE
    if isinstance(exc, _classes("UsageError")):
        lines = usage_lines(exc)
    elif isinstance(exc, (KeyboardInterrupt, typer.Abort, _loaded("click.exceptions", "Abort"))):
        lines, status = ["certmon: " + _("interrupted")], INTERRUPTED
    elif isinstance(exc, ValidationFailed):
        lines = [f"certmon: {exc.message}", *(f"  {p}" for p in exc.problems)]
    elif isinstance(exc, CertmonError):
        lines = [f"certmon: {exc.message}"]
    elif isinstance(exc, _loaded("pydantic", "ValidationError")):
        problems = [f"  {'.'.join(str(p) for p in e['loc']) or _('value')}: {describe_problem(e)}"
                    for e in exc.errors()]  # type: ignore[attr-defined]
        lines = ["certmon: " + _("invalid value"), *problems]
    elif isinstance(exc, _loaded("sqlalchemy.exc", "SQLAlchemyError")):
        lines = [f"certmon: {_database_message(exc)}"]
    elif isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        lines = [f"certmon: {where}{exc.strerror}"]
    else:
        status = INTERNAL
        first = (str(exc).strip().splitlines() or [""])[0]
        lines = ["certmon: " + _("internal error") + f" ({type(exc).__name__}){': ' + first if first else ''}"]
        if os.environ.get("CERTMON_LOG_LEVEL", "").upper() == "DEBUG":
            lines.extend(traceback.format_exception(exc))
        else:
            lines.append(_("(run again with CERTMON_LOG_LEVEL=DEBUG to see the details)"))
    for line in lines:
        print(line.rstrip("\n"), file=sys.stderr)
    return status
