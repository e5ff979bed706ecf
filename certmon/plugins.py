"""Find the optional parts (feed adapters, task dispatch, dashboard) through entry points.

The core never imports `feeds`, `workers` or `dashboards` directly (dependencies point one way):
they register themselves under the `certmon.plugins` entry-point group in pyproject.toml.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from certmon.errors import ConfigError

GROUP = "certmon.plugins"


@lru_cache(maxsize=1)
def plugins() -> dict[str, ModuleType]:
    """Every installed plugin module by name (`feeds`, `workers`, `dashboards`)."""
    found: dict[str, ModuleType] = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep.load()
    return found


def require(name: str) -> Any:
    """A plugin module, or a ConfigError telling the operator what to install."""
    module = plugins().get(name)
    if module is None:
        raise ConfigError(f"the {name!r} part of certmon is not installed (pip install -e . again)")
    return module


def feeds() -> Any:
    """The feed plugin: adapters, format detection, collection pipeline, source catalogue."""
    return require("feeds")


def optional(name: str) -> Any | None:
    """A plugin module if installed."""
    return plugins().get(name)
