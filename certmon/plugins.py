"""Find the optional parts (feed adapters, task dispatch, dashboard) through entry points.

The core never imports `feeds`, `workers` or `dashboards` directly (dependencies point one way):
they register themselves under the `certmon.plugins` entry-point group in pyproject.toml and are
loaded on first use, one at a time.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from certmon.errors import ConfigError

GROUP = "certmon.plugins"


@lru_cache(maxsize=8)
def optional(name: str) -> Any | None:
    """The plugin module registered as `name`, or None if it is not installed."""
    for ep in entry_points(group=GROUP, name=name):
        try:
            return ep.load()
        except ModuleNotFoundError as exc:
            if exc.name and ep.value.startswith(exc.name):
                return None
            raise
    return None


def require(name: str) -> Any:
    """A plugin module, or a ConfigError telling the operator what to install."""
    module = optional(name)
    if module is None:
        raise ConfigError(f"the {name!r} part of certmon is not installed (run `pip install -e .` again)")
    return module


def feeds() -> Any:
    """The feed plugin: adapters, format detection, collection pipeline, source catalogue."""
    return require("feeds")
